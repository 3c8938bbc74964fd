"""The online adaptation protocol shared by all methods (the PEARL paper's meta-test protocol).

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

from nacre.evaluation.success import success_by_group
from nacre.types import Progress, Trajectory
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
    success: np.ndarray  # bool: info["success"] was true at some step of the trajectory
    lengths: np.ndarray
    #: whether the environments reported ``info["success"]`` at all (else ``success`` is all False)
    reports_success: bool = False
    #: per task, its group label (Meta-World: the environment class), or ``None`` without groups
    groups: list[str | None] | None = None

    def success_by_group(self, trajectory: int) -> dict[str, float]:
        """Success rate of trajectory ``trajectory`` (0-based) per task group, over runs and the group's tasks."""
        return success_by_group(self.success, self.groups, trajectory)

    @property
    def found(self) -> np.ndarray:
        """bool ``[runs, tasks, trajectories]``: the goal was reached in this trajectory or an earlier one."""
        return np.logical_or.accumulate(self.success, axis=2)

    def to_dict(self) -> dict[str, np.ndarray]:
        out = {"returns": self.returns, "dense_returns": self.dense_returns, "success": self.success,
               "lengths": self.lengths, "reports_success": np.asarray(self.reports_success)}  # fmt: skip
        if self.groups is not None:
            out["groups"] = np.asarray(["" if g is None else g for g in self.groups])
        return out


def adaptation_curves(
    adapter: OnlineAdapter,
    tasks: Sequence[Any],
    make_env: Callable[[Any], gym.Env],
    num_runs: int,
    num_trajectories: int,
    episode_length: int,
    rng: np.random.Generator,
    sparse: bool = False,
    progress: Progress | None = None,
    envs_for: Callable[[list[Any]], list[gym.Env]] | None = None,
    batches: Callable[[list[Any]], list[list[int]]] | None = None,
    groups: Sequence[str | None] | None = None,
) -> AdaptationResult:
    """Run the protocol ``num_runs`` times on every task; see the module docstring.

    All (run, task) pairs advance together: trajectory ``k`` of every pair is one lockstep batch. With
    ``batches`` (the pairs' tasks -> lists of pair positions, e.g. :func:`nacre.envs.pool.batches_by_key`),
    the protocol runs batch after batch, so few environments are in use at once. ``envs_for`` (e.g.
    :meth:`nacre.envs.pool.EnvPool.envs`) provides the environments of a batch; it owns them (they are not
    closed here). Without it every pair gets ``make_env(task)``, closed at the end. ``progress`` gets
    ``("eval_total", runs * tasks * num_trajectories)``, then ``("eval_trajectories", size of the batch)`` after each
    of a batch's trajectories.
    ``groups`` (one label per task) are kept in the result for per-group success.
    """
    pairs = [(run, ti) for run in range(num_runs) for ti in range(len(tasks))]
    if progress is not None:
        progress("eval_total", len(pairs) * num_trajectories)
    shape = (num_runs, len(tasks), num_trajectories)
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=np.int64)
    success = np.zeros(shape, dtype=bool)
    reported = [False]

    def watch(i: int, obs: Any, reward: Any, info: dict[str, Any]) -> None:
        if reward is not None and "success" in info:
            reported[0] = True

    cuts = batches([tasks[ti] for _, ti in pairs]) if batches is not None else [list(range(len(pairs)))]
    for cut in cuts:
        chunk = [pairs[i] for i in cut]
        chunk_tasks = [tasks[ti] for _, ti in chunk]
        envs = envs_for(chunk_tasks) if envs_for is not None else [make_env(t) for t in chunk_tasks]
        state = adapter.begin(len(chunk))
        for k in range(num_trajectories):
            trajs = rollout_batch(envs, adapter.policy(state), rng, episode_length,
                                  on_step=None if reported[0] else watch)  # fmt: skip
            for (run, ti), traj in zip(chunk, trajs, strict=True):
                returns[run, ti, k] = traj.episode_return(sparse)
                dense[run, ti, k] = traj.episode_return(False)
                success[run, ti, k] = traj.succeeded
                lengths[run, ti, k] = len(traj)
            state = adapter.observe(state, trajs, k + 1)
            if progress is not None:
                progress("eval_trajectories", len(chunk))
        if envs_for is None:
            for env in envs:
                env.close()
    return AdaptationResult(returns, dense, success, lengths, reported[0],
                            None if groups is None else list(groups))  # fmt: skip


def format_adaptation(result: AdaptationResult, reported_index: int, iteration: int, env_steps: int,
                      show_success: bool = False) -> str:  # fmt: skip
    """The adaptation curve as console lines (``nacre train`` / ``nacre eval``): mean return +- s.e. per
    trajectory, and the success rate and "found by now" where the environments report success (or
    ``show_success``); then the success of the reported trajectory per task group (ML10 / ML45 classes)."""
    mean = result.returns.mean(axis=(0, 1))
    sem = result.returns.mean(axis=0).std(axis=0) / max(1, np.sqrt(result.returns.shape[1]))
    with_success = show_success or result.reports_success
    lines = [f"adaptation on {result.returns.shape[1]} held-out tasks x {result.returns.shape[0]} runs "
             f"(iteration {iteration}, {env_steps} env steps):",
             "  traj  return (mean +- s.e.)" + ("  success  found by now" if with_success else "")]  # fmt: skip
    found = result.found
    for k, (m, s) in enumerate(zip(mean, sem, strict=True)):
        succ = f"  {result.success[:, :, k].mean():6.0%}  {found[:, :, k].mean():11.0%}" if with_success else ""
        mark = "  <- reported (after exploration)" if k == reported_index else ""
        lines.append(f"  {k + 1:4d}  {m:9.3f} +- {s:.3f}{succ}{mark}")
    by_group = result.success_by_group(reported_index) if with_success else {}
    if len(by_group) > 1:
        lines.append(f"  success of trajectory {reported_index + 1} per class:")
        lines += [f"    {g:<32} {v:6.0%}" for g, v in by_group.items()]
    return "\n".join(lines)
