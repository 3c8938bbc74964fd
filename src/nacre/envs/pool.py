"""Environments for many tasks, shared where a family allows it.

A family whose :meth:`~nacre.envs.base.TaskDistribution.env_key` is not ``None`` (Meta-World: the environment
class) lets tasks with the same key share environments: :class:`EnvPool` keeps, per key, as many environments
as one batch ever needed at once, and switches them to the asked tasks with
:meth:`~nacre.envs.base.TaskDistribution.set_env_task`. Memory then depends on the number of keys and the batch
size, not on the number of tasks (ML45: 2,250 train tasks, 45 classes). Tasks of a family without keys get
one environment each, built on first use and kept (``cache_unkeyed=True``) or built for the batch and closed
by :meth:`EnvPool.close_unkeyed` (evaluation, as before).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import gymnasium as gym

from nacre.envs.base import Task, TaskDistribution


class EnvPool:
    """Distinct environments for a batch of tasks (each already switched to its task; call ``reset`` next)."""

    def __init__(self, distribution: TaskDistribution, cache_unkeyed: bool = True) -> None:
        self.distribution = distribution
        self.cache_unkeyed = cache_unkeyed
        self._shared: dict[Hashable, list[gym.Env]] = {}
        self._own: dict[Hashable, gym.Env] = {}  # unkeyed tasks, by the caller's task id
        self._transient: list[gym.Env] = []

    def envs(self, tasks: Sequence[Task], ids: Sequence[Hashable] | None = None) -> list[gym.Env]:
        """One environment per task, all distinct objects. ``ids`` name the tasks of an unkeyed family for the
        cache (e.g. train-task indices); without them, or with ``cache_unkeyed=False``, unkeyed tasks get fresh
        environments that :meth:`close_unkeyed` closes."""
        used: dict[Hashable, int] = {}
        out: list[gym.Env] = []
        for i, task in enumerate(tasks):
            key = self.distribution.env_key(task)
            if key is None:
                out.append(self._unkeyed(task, None if ids is None else ids[i]))
                continue
            k = used.get(key, 0)
            used[key] = k + 1
            envs = self._shared.setdefault(key, [])
            if k == len(envs):
                envs.append(self.distribution.make_env(task))
            else:
                self.distribution.set_env_task(envs[k], task)
            out.append(envs[k])
        return out

    def _unkeyed(self, task: Task, task_id: Hashable | None) -> gym.Env:
        if self.cache_unkeyed and task_id is not None:
            if task_id not in self._own:
                self._own[task_id] = self.distribution.make_env(task)
            return self._own[task_id]
        env = self.distribution.make_env(task)
        self._transient.append(env)
        return env

    @property
    def num_envs(self) -> int:
        """Environments held now (shared, cached and not yet closed fresh ones)."""
        return sum(len(v) for v in self._shared.values()) + len(self._own) + len(self._transient)

    def close_unkeyed(self) -> None:
        """Close the fresh environments handed out for unkeyed tasks without an id (kept ones stay)."""
        for env in self._transient:
            env.close()
        self._transient.clear()

    def close(self) -> None:
        for env in (*(e for v in self._shared.values() for e in v), *self._own.values(), *self._transient):
            env.close()
        self._shared.clear()
        self._own.clear()
        self._transient.clear()


def batches_by_key(distribution: TaskDistribution, tasks: Sequence[Task], per_key: int = 1) -> list[list[int]]:
    """Indices of ``tasks`` cut into batches that hold at most ``per_key`` tasks of any one
    :meth:`~nacre.envs.base.TaskDistribution.env_key` (round robin over the keys; each batch in the original
    order). Stepping such batches side by side needs at most ``per_key`` environments per key. Unkeyed tasks
    are never split: a family without keys gets one batch of everything (``[[0, 1, ..., n - 1]]``)."""
    if per_key < 1:
        raise ValueError(f"per_key must be >= 1, got {per_key}")
    groups: dict[Hashable, list[int]] = {}
    free: list[int] = []
    for i, task in enumerate(tasks):
        key = distribution.env_key(task)
        (free if key is None else groups.setdefault(key, [])).append(i)
    rounds = max((-(-len(g) // per_key) for g in groups.values()), default=1)
    out = [sorted(([*free] if r == 0 else []) + [i for g in groups.values() for i in g[r * per_key:(r + 1) * per_key]])
           for r in range(rounds)]  # fmt: skip
    return [b for b in out if b]
