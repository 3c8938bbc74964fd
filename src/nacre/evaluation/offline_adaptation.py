"""The offline adaptation protocol shared by MACAW and its baselines (the MACAW paper and its baselines).

For every run and test task: draw ``k`` transitions of the task's *offline* data uniformly (``k`` is at most
the size of the smallest task, whose rows are then all used), let the method adapt on them with ``n``
test-time gradient steps (for each ``n`` asked for; ``n = 0`` is the un-adapted policy), then roll out one
deterministic episode per ``n``. No online data reaches the method. :func:`offline_adaptation_curves` returns
arrays ``[runs, tasks, len(steps)]``; plots and tables (median and 25/75 percentiles over tasks and seeds) are
computed from them.

An adaptation that diverges (its policy outputs non-finite actions, e.g. after more test-time steps than
the method was meta-trained for) is recorded as ``diverged`` with a NaN return; the environment never
receives a non-finite action (that episode is played with zero actions). Statistics ignore NaNs and
report the diverged fraction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from nacre.evaluation.success import success_by_group
from nacre.types import Progress
from nacre.vector_rollout import BatchPolicyFn, rollout_batch


class OfflineAdapter(Protocol):
    """What an offline meta-learner provides to be evaluated."""

    def adapted_policies(self, data: Sequence[dict[str, np.ndarray]], steps: Sequence[int]) -> Iterator[BatchPolicyFn]:
        """For each entry of ``steps`` (in order), the deterministic batched policy of every task of ``data``
        after that many test-time adaptation steps on that task's rows: (obs [m, O], task indices [m]) ->
        actions [m, A] in [-1, 1]."""


@dataclass
class OfflineAdaptationResult:
    """Per adaptation-step results, each of shape ``[runs, tasks, len(steps)]``."""

    returns: np.ndarray  # sparse for sparse-reward runs, dense otherwise
    dense_returns: np.ndarray
    success: np.ndarray
    lengths: np.ndarray
    steps: np.ndarray  # [S] the test-time gradient steps of each column
    num_transitions: int  # k, the offline transitions each adaptation saw
    diverged: np.ndarray  # bool: the adapted policy output non-finite actions (return is NaN)
    #: the k asked for, when the smallest task held fewer transitions (then ``num_transitions`` is its size)
    requested_transitions: int | None = None
    #: whether the tasks report success (sparse goal or ``info["success"]``); else ``success`` is all False
    reports_success: bool = False
    #: per task, its group label (Meta-World: the environment class), or ``None`` without groups
    groups: list[str | None] | None = None

    def to_dict(self) -> dict[str, np.ndarray]:
        out = {"returns": self.returns, "dense_returns": self.dense_returns, "success": self.success,
               "lengths": self.lengths, "steps": self.steps, "diverged": self.diverged,
               "num_transitions": np.asarray(self.num_transitions),
               "reports_success": np.asarray(self.reports_success)}  # fmt: skip
        if self.groups is not None:
            out["groups"] = np.asarray(["" if g is None else g for g in self.groups])
        return out

    @property
    def reported_column(self) -> int:
        """The column the training log reports (``returns/test``): the most test-time steps evaluated."""
        return int(np.argmax(self.steps))

    def success_by_group(self, column: int) -> dict[str, float]:
        """Success rate at ``column`` per task group (ML10 / ML45 class), over runs and the group's tasks."""
        return success_by_group(self.success, self.groups, column)

    def column(self, n_steps: int) -> np.ndarray:
        """Returns ``[runs, tasks]`` after ``n_steps`` adaptation steps."""
        hits = np.flatnonzero(self.steps == n_steps)
        if not len(hits):
            raise KeyError(f"{n_steps} adaptation steps were not evaluated (evaluated: {self.steps.tolist()})")
        return self.returns[:, :, hits[0]]

    def quantiles(self) -> np.ndarray:
        """``[3, S]``: 25th percentile, median and 75th percentile over runs and tasks (the paper's OOD figure)."""
        flat = self.returns.reshape(-1, self.returns.shape[-1])
        return nan_quantiles(flat)


def nan_quantiles(values: np.ndarray) -> np.ndarray:
    """``[3, S]`` 25/50/75 percentiles of ``values [N, S]`` ignoring NaNs (NaN where a column is all NaN)."""
    out = np.full((3, values.shape[-1]), np.nan)
    for j in range(values.shape[-1]):
        col = values[:, j][np.isfinite(values[:, j])]
        if col.size:
            out[:, j] = np.percentile(col, [25, 50, 75])
    return out


def _guarded(policy: BatchPolicyFn, diverged: np.ndarray) -> BatchPolicyFn:
    """``policy`` with non-finite actions replaced by zeros and their envs flagged in ``diverged``."""

    def act(obs: np.ndarray, idx: np.ndarray) -> np.ndarray:
        actions = np.asarray(policy(obs, idx), dtype=np.float32)
        bad = ~np.isfinite(actions).all(axis=-1)
        if bad.any():
            diverged[np.asarray(idx)[bad]] = True
            actions = np.where(bad[:, None], np.float32(0.0), actions)
        return actions

    return act


class _Rows(Protocol):
    def __len__(self) -> int: ...

    def uniform_indices(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    def rows(self, idx: np.ndarray) -> dict[str, np.ndarray]: ...


def offline_adaptation_curves(
    adapter: OfflineAdapter,
    datas: Sequence[_Rows],
    tasks: Sequence[Any],
    make_env: Callable[[Any], gym.Env],
    num_runs: int,
    num_transitions: int,
    steps: Sequence[int],
    episode_length: int,
    rng: np.random.Generator,
    sparse: bool = False,
    progress: Progress | None = None,
) -> OfflineAdaptationResult:
    """Run the protocol of the module docstring; ``datas[i]`` is the offline data of ``tasks[i]``.

    All tasks of a run are rolled out together (one lockstep batch per step count); ``progress`` gets
    ``("eval_total", runs * len(steps))``, then ``("eval_trajectories", 1)`` after each (run, step count).
    """
    if len(datas) != len(tasks):
        raise ValueError(f"{len(datas)} datasets for {len(tasks)} tasks")
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 0:
        raise ValueError(f"steps must be a non-empty list of non-negative counts, got {steps}")
    if num_runs <= 0 or num_transitions <= 0:
        raise ValueError("num_runs and num_transitions must be positive")
    asked = num_transitions
    num_transitions = min([num_transitions, *(len(d) for d in datas)])  # no task gives more than it holds
    if num_transitions <= 0:
        raise ValueError("a task holds no transitions")
    envs = [make_env(task) for task in tasks]
    shape = (num_runs, len(tasks), len(steps))
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64)
    success, diverged = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    if progress is not None:
        progress("eval_total", num_runs * len(steps))
    for run in range(num_runs):
        batches = [d.rows(_draw(d, rng, num_transitions)) for d in datas]
        for j, policy in enumerate(adapter.adapted_policies(batches, steps)):
            flags = np.zeros(len(envs), dtype=bool)
            for ti, traj in enumerate(rollout_batch(envs, _guarded(policy, flags), rng, episode_length)):
                returns[run, ti, j] = np.nan if flags[ti] else traj.episode_return(sparse)
                dense[run, ti, j] = np.nan if flags[ti] else traj.episode_return(False)
                success[run, ti, j] = traj.succeeded and not flags[ti]
                lengths[run, ti, j] = len(traj)
            diverged[run, :, j] = flags
            if progress is not None:
                progress("eval_trajectories", 1)
    for env in envs:
        env.close()
    return OfflineAdaptationResult(returns, dense, success, lengths, np.asarray(steps), num_transitions, diverged,
                                   requested_transitions=asked if asked != num_transitions else None)  # fmt: skip


def _draw(data: _Rows, rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` row indices drawn uniformly; every row once (shuffled) when the task holds exactly ``k``."""
    return rng.permutation(k) if len(data) == k else data.uniform_indices(rng, k)


def offline_eval_metrics(result: OfflineAdaptationResult) -> dict[str, float]:
    """Scalars for a training log: mean and median return per number of adaptation steps; ``returns/test`` is
    the return after the most steps evaluated and ``returns/test_prior_only`` the un-adapted one (0 steps).
    Where the tasks report success: ``success/test_steps_N`` per column, ``success/test`` at the reported one
    and, for families with task groups (ML10 / ML45 classes), ``success/test_class/<group>`` there."""
    out: dict[str, float] = {}
    medians = result.quantiles()[1]
    for j, n in enumerate(result.steps.tolist()):
        column = result.returns[:, :, j]
        finite = column[np.isfinite(column)]
        out[f"returns/test_steps_{n}"] = float(finite.mean()) if finite.size else float("nan")
        out[f"returns/test_median_steps_{n}"] = float(medians[j])
        out[f"returns/test_diverged_steps_{n}"] = float(result.diverged[:, :, j].mean())
    out["returns/test"] = out[f"returns/test_steps_{int(result.steps.max())}"]
    if 0 in result.steps:
        out["returns/test_prior_only"] = out["returns/test_steps_0"]
    if result.reports_success:
        for j, n in enumerate(result.steps.tolist()):
            out[f"success/test_steps_{n}"] = float(np.asarray(result.success[:, :, j], dtype=float).mean())
        out["success/test"] = out[f"success/test_steps_{int(result.steps.max())}"]
        by_group = result.success_by_group(result.reported_column)
        out.update({f"success/test_class/{g}": v for g, v in by_group.items()})
    return out
