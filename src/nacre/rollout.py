"""Running one episode of a policy that acts in [-1, 1] in an environment with any Box bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from nacre.types import Trajectory
from nacre.vector_rollout import rollout_batch, to_env_action

PolicyFn = Callable[[np.ndarray], np.ndarray]
#: ``on_step(obs, reward, info)``: ``(obs, None, reset_info)`` after the reset, ``(next_obs, reward, info)`` after
#: each step (see :data:`nacre.vector_rollout.BatchStepCallback`)
StepCallback = Callable[[np.ndarray, "float | None", dict[str, Any]], None]

__all__ = ["PolicyFn", "StepCallback", "rollout", "to_env_action"]


def rollout(
    env: gym.Env, policy: PolicyFn, rng: np.random.Generator, max_steps: int, on_step: StepCallback | None = None
) -> Trajectory:
    """One episode (reset seeded from ``rng``) of at most ``max_steps`` steps of ``policy(obs) -> action``."""
    watch = None if on_step is None else (lambda i, obs, reward, info: on_step(obs, reward, info))
    return rollout_batch([env], lambda obs, idx: np.asarray(policy(obs[0]))[None], rng, max_steps, on_step=watch)[0]
