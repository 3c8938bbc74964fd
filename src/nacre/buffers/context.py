"""The encoder's context layout, defined once: ``c = (s, a, r)`` or ``(s, a, r, s')`` (the PEARL paper's model)."""

from __future__ import annotations

import numpy as np


def context_dim(obs_dim: int, action_dim: int, use_next_obs: bool) -> int:
    """Width of one context transition."""
    return obs_dim + action_dim + 1 + (obs_dim if use_next_obs else 0)


def make_context(
    obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray, use_next_obs: bool
) -> np.ndarray:
    """Concatenate transitions into context rows ``[..., context_dim]`` (float32).

    ``rewards`` has shape ``[...]`` or ``[..., 1]``; pass the sparse reward for sparse-reward runs.
    """
    rewards = np.asarray(rewards, dtype=np.float32)
    if rewards.ndim == obs.ndim - 1:
        rewards = rewards[..., None]
    parts = [obs, actions, rewards] + ([next_obs] if use_next_obs else [])
    return np.concatenate([np.asarray(p, dtype=np.float32) for p in parts], axis=-1)
