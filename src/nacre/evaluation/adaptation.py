"""The online adaptation protocol shared by all methods (REFERENCE 1.4).

An :class:`OnlineAdapter` starts each run from its prior belief, acts, and updates its belief after
each trajectory. :func:`adaptation_curves` runs it on tasks and returns arrays of shape
``[runs, tasks, trajectories]``: entry ``k`` is the return of trajectory ``k + 1`` after ``k``
trajectories of online context, the adaptation curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from nacre.rollout import PolicyFn, rollout
from nacre.types import Trajectory


class OnlineAdapter(Protocol):
    """What a meta-learner provides to be evaluated online."""

    def begin(self) -> Any:
        """A fresh belief state for a new task."""

    def policy(self, state: Any) -> PolicyFn:
        """The (deterministic) policy to run given the belief state."""

    def observe(self, state: Any, trajectory: Trajectory, trajectories_seen: int) -> Any:
        """The belief state after ``trajectories_seen`` trajectories, the last being ``trajectory``."""


@dataclass
class AdaptationResult:
    """Per-trajectory results, each of shape ``[runs, tasks, trajectories]``."""

    returns: np.ndarray  # the reported return: sparse for sparse-reward runs, dense otherwise
    dense_returns: np.ndarray
    success: np.ndarray  # bool: the trajectory reached the goal (info["success"])
    lengths: np.ndarray

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"returns": self.returns, "dense_returns": self.dense_returns, "success": self.success,
                "lengths": self.lengths}  # fmt: skip


def adaptation_curves(
    adapter: OnlineAdapter,
    tasks: Sequence[Any],
    make_env: Callable[[Any], gym.Env],
    num_runs: int,
    num_trajectories: int,
    episode_length: int,
    rng: np.random.Generator,
    sparse: bool = False,
    progress: Callable[[int], None] | None = None,
) -> AdaptationResult:
    """Run the protocol ``num_runs`` times on every task; see the module docstring."""
    shape = (num_runs, len(tasks), num_trajectories)
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64)
    success = np.zeros(shape, dtype=bool)
    for ti, task in enumerate(tasks):
        env = make_env(task)
        for run in range(num_runs):
            state = adapter.begin()
            for k in range(num_trajectories):
                traj = rollout(env, adapter.policy(state), rng, episode_length)
                returns[run, ti, k] = traj.episode_return(sparse)
                dense[run, ti, k] = traj.episode_return(False)
                success[run, ti, k] = traj.succeeded
                lengths[run, ti, k] = len(traj)
                state = adapter.observe(state, traj, k + 1)
        env.close()
        if progress is not None:
            progress(1)
    return AdaptationResult(returns, dense, success, lengths)
