"""Running one episode of a policy that acts in [-1, 1] in an environment with any Box bounds."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from nacre.seeding import env_seed
from nacre.types import Trajectory

PolicyFn = Callable[[np.ndarray], np.ndarray]


def to_env_action(action: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """Affine map from [-1, 1] to the environment's bounds (the reference's normalised action space)."""
    low, high = space.low, space.high
    return (low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)).astype(space.dtype)


def rollout(env: gym.Env, policy: PolicyFn, rng: np.random.Generator, max_steps: int) -> Trajectory:
    """One episode (reset seeded from ``rng``) of at most ``max_steps`` steps."""
    obs, _ = env.reset(seed=env_seed(rng))
    obs_l, act_l, rew_l, sparse_l, next_l, term_l, trunc_l, succ_l = ([] for _ in range(8))
    space = env.action_space
    for t in range(max_steps):
        action = np.asarray(policy(np.asarray(obs, dtype=np.float32)), dtype=np.float32)
        next_obs, reward, terminated, truncated, info = env.step(to_env_action(action, space))
        truncated = bool(truncated) or t == max_steps - 1
        obs_l.append(obs)
        act_l.append(action)
        rew_l.append(reward)
        sparse_l.append(info.get("sparse_reward", reward))
        next_l.append(next_obs)
        term_l.append(bool(terminated))
        trunc_l.append(truncated and not terminated)
        succ_l.append(bool(info.get("success", False)))
        obs = next_obs
        if terminated or truncated:
            break
    f32 = lambda x: np.asarray(x, dtype=np.float32)
    return Trajectory(
        obs=f32(obs_l), actions=f32(act_l), rewards=f32(rew_l), sparse_rewards=f32(sparse_l),
        next_obs=f32(next_l), terminated=np.asarray(term_l), truncated=np.asarray(trunc_l),
        success=np.asarray(succ_l),
    )  # fmt: skip
