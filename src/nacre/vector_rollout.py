"""Several environments stepped in lockstep with one batched policy call per step.

Each environment runs one episode; finished environments drop out of the batch while the others go
on. With a single environment this is exactly :func:`nacre.rollout.rollout` (same seeds, same steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from nacre.seeding import env_seed
from nacre.types import Trajectory

#: (observations [n, O] of the running envs, their indices [n]) -> actions [n, A] in [-1, 1]
BatchPolicyFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``on_step(i, obs, reward, info)`` for env ``i``: called with ``(i, obs, None, reset_info)`` after its reset
#: and with ``(i, next_obs, reward, info)`` after each of its steps, while the env is in that state (it may
#: render); it only observes
BatchStepCallback = Callable[[int, np.ndarray, "float | None", dict[str, Any]], None]


def to_env_action(action: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """Affine map from [-1, 1] to the environment's bounds (the reference's normalised action space)."""
    low, high = space.low, space.high
    return (low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)).astype(space.dtype)


class _Recorder:
    __slots__ = ("obs", "actions", "rewards", "sparse", "next_obs", "terminated", "truncated", "success")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, [])

    def add(self, obs, action, reward, info: dict[str, Any], next_obs, terminated: bool, truncated: bool) -> None:
        self.obs.append(obs)
        self.actions.append(action)
        self.rewards.append(reward)
        self.sparse.append(info.get("sparse_reward", reward))
        self.next_obs.append(next_obs)
        self.terminated.append(terminated)
        self.truncated.append(truncated and not terminated)
        self.success.append(bool(info.get("success", False)))

    def trajectory(self) -> Trajectory:
        f32 = lambda x: np.asarray(x, dtype=np.float32)
        return Trajectory(
            obs=f32(self.obs), actions=f32(self.actions), rewards=f32(self.rewards),
            sparse_rewards=f32(self.sparse), next_obs=f32(self.next_obs),
            terminated=np.asarray(self.terminated, dtype=bool), truncated=np.asarray(self.truncated, dtype=bool),
            success=np.asarray(self.success, dtype=bool),
        )  # fmt: skip


def rollout_batch(
    envs: Sequence[gym.Env], policy: BatchPolicyFn, rng: np.random.Generator, max_steps: int,
    on_step: BatchStepCallback | None = None,
) -> list[Trajectory]:  # fmt: skip
    """One episode in every env (resets seeded from ``rng`` in order), at most ``max_steps`` steps each.

    ``on_step`` (optional, see :data:`BatchStepCallback`) watches the episodes, e.g. to record frames.
    """
    obs = []
    for i, env in enumerate(envs):
        first, reset_info = env.reset(seed=env_seed(rng))
        obs.append(first)
        if on_step is not None:
            on_step(i, first, None, reset_info)
    records = [_Recorder() for _ in envs]
    active = list(range(len(envs)))
    for t in range(max_steps):
        if not active:
            break
        batch_obs = np.stack([np.asarray(obs[i], dtype=np.float32) for i in active])
        actions = np.asarray(policy(batch_obs, np.asarray(active)), dtype=np.float32)
        still = []
        for j, i in enumerate(active):
            env = envs[i]
            next_obs, reward, terminated, truncated, info = env.step(to_env_action(actions[j], env.action_space))
            truncated = bool(truncated) or t == max_steps - 1
            records[i].add(batch_obs[j], actions[j], reward, info, next_obs, bool(terminated), truncated)
            if on_step is not None:
                on_step(i, next_obs, float(reward), info)
            obs[i] = next_obs
            if not (terminated or truncated):
                still.append(i)
        active = still
    return [r.trajectory() for r in records]
