"""Running one episode of a policy that acts in [-1, 1] in an environment with any Box bounds."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from nacre.types import Trajectory
from nacre.vector_rollout import rollout_batch, to_env_action

PolicyFn = Callable[[np.ndarray], np.ndarray]

__all__ = ["PolicyFn", "rollout", "to_env_action"]


def rollout(env: gym.Env, policy: PolicyFn, rng: np.random.Generator, max_steps: int) -> Trajectory:
    """One episode (reset seeded from ``rng``) of at most ``max_steps`` steps of ``policy(obs) -> action``."""
    return rollout_batch([env], lambda obs, idx: np.asarray(policy(obs[0]))[None], rng, max_steps)[0]
