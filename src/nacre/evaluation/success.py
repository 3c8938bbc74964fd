"""Success rates where the tasks report them: sparse navigation (goal reached) and families whose episodes report
``info["success"]`` (Meta-World, where an episode succeeds if any of its steps does)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np


def env_reports_success(env: gym.Env) -> bool:
    """Whether one step of ``env`` (from a reset, with the middle action) reports ``info["success"]``."""
    space = env.action_space
    env.reset(seed=0)
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    info = env.step(((low + high) / 2).astype(space.dtype))[4]
    return "success" in info


def tasks_report_success(distribution: object, env: gym.Env) -> bool:
    """Whether a family's evaluations log success rates: its reward is sparse (goal reached) or ``env``, one of
    its environments, reports ``info["success"]``."""
    return bool(getattr(distribution, "has_sparse_reward", False)) or env_reports_success(env)


ResultT = TypeVar("ResultT")


def with_success_labels(result: ResultT, reports_success: bool, distribution: object, tasks: Sequence[Any]) -> ResultT:
    """``result`` (an adaptation result) marked with whether its tasks report success and each task's group."""
    result.reports_success = reports_success  # type: ignore[attr-defined]
    result.groups = task_groups(distribution, tasks)  # type: ignore[attr-defined]
    return result


def success_by_group(success: np.ndarray, groups: Sequence[str | None] | None, column: int) -> dict[str, float]:
    """Success rate of ``success [runs, tasks, columns]`` at ``column`` per task group (Meta-World class), over runs
    and the group's tasks; empty without groups."""
    if not groups or all(g is None for g in groups):
        return {}
    out: dict[str, float] = {}
    for group in dict.fromkeys(g for g in groups if g is not None):
        cols = [i for i, g in enumerate(groups) if g == group]
        out[group] = float(np.asarray(success, dtype=float)[:, cols, column].mean())
    return out


def task_groups(distribution: object, tasks: Sequence[object]) -> list[str | None] | None:
    """Each task's group label from ``distribution.task_group`` (Meta-World: its class); ``None`` when the
    family has no groups."""
    label = getattr(distribution, "task_group", None)
    if label is None:
        return None
    groups = [label(t) for t in tasks]
    return groups if any(g is not None for g in groups) else None
