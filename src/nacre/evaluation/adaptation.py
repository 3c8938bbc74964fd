"""The online adaptation protocol shared by all methods (REFERENCE 1.4).

An :class:`OnlineAdapter` starts each run from its prior belief, acts, and updates its belief after
each trajectory; runs are independent and stepped side by side. :func:`adaptation_curves` runs it on
tasks and returns arrays of shape ``[runs, tasks, trajectories]``: entry ``k`` is the return of
trajectory ``k + 1`` after ``k`` trajectories of online context, the adaptation curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from nacre.types import Trajectory
from nacre.vector_rollout import BatchPolicyFn, rollout_batch


class OnlineAdapter(Protocol):
    """What a meta-learner provides to be evaluated online, for ``n`` independent runs at once."""

    def begin(self, n: int) -> Any:
        """Fresh belief states for ``n`` runs (each on its own task)."""

    def policy(self, state: Any) -> BatchPolicyFn:
        """The (deterministic) batched policy given the belief states: (obs [m, O], run indices [m]) -> actions."""

    def observe(self, state: Any, trajectories: Sequence[Trajectory], trajectories_seen: int) -> Any:
        """Belief states after ``trajectories_seen`` trajectories per run, the last ones being ``trajectories``."""


@dataclass
class AdaptationResult:
    """Per-trajectory results, each of shape ``[runs, tasks, trajectories]``."""

    returns: np.ndarray  # the reported return: sparse for sparse-reward runs, dense otherwise
    dense_returns: np.ndarray
    success: np.ndarray  # bool: the trajectory reached the goal (info["success"])
    lengths: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """bool ``[runs, tasks, trajectories]``: the goal was reached in this trajectory or an earlier one."""
        return np.logical_or.accumulate(self.success, axis=2)

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
    """Run the protocol ``num_runs`` times on every task; see the module docstring.

    All (run, task) pairs advance together: trajectory ``k`` of every pair is one lockstep batch.
    ``progress`` is called with 1 after each trajectory index.
    """
    pairs = [(run, ti) for run in range(num_runs) for ti in range(len(tasks))]
    envs = [make_env(tasks[ti]) for _, ti in pairs]
    shape = (num_runs, len(tasks), num_trajectories)
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64)
    success = np.zeros(shape, dtype=bool)
    state = adapter.begin(len(pairs))
    for k in range(num_trajectories):
        trajs = rollout_batch(envs, adapter.policy(state), rng, episode_length)
        for (run, ti), traj in zip(pairs, trajs, strict=True):
            returns[run, ti, k] = traj.episode_return(sparse)
            dense[run, ti, k] = traj.episode_return(False)
            success[run, ti, k] = traj.succeeded
            lengths[run, ti, k] = len(traj)
        state = adapter.observe(state, trajs, k + 1)
        if progress is not None:
            progress(1)
    for env in envs:
        env.close()
    return AdaptationResult(returns, dense, success, lengths)
