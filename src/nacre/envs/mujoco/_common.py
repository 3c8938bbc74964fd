"""Pieces shared by the MuJoCo task environments and their distributions.

Every task environment subclasses one of Gymnasium's v5 MuJoCo classes (so model loading, reset noise,
rendering and ``env.unwrapped.model`` / ``env.unwrapped.data`` are Gymnasium's) and mixes in
:class:`TaskEnvMixin` in front of it. The mixin replaces ``step`` by a lean path: clip the action to the
actuators' ``ctrlrange``, write it to ``data.ctrl``, run ``frame_skip`` MuJoCo steps and let the
subclass compute its reward from the simulator state. The time limit lives inside the environment:
``truncated`` is ``True`` on exactly the ``episode_length``-th step after a reset.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import mujoco
import numpy as np

from nacre.envs.base import Task, TaskSplit, task_to_json

EPISODE_LENGTH = 200


class TaskEnvMixin:
    """Task switching, action clipping, stepping and the internal time limit.

    Must come before the Gymnasium MuJoCo class in the bases; the subclass calls
    :meth:`_init_task_env` right after the Gymnasium constructor, implements :meth:`set_task` and
    :meth:`step` (using :meth:`_simulate` and :meth:`_tick`).
    """

    # Provided by gymnasium's MujocoEnv.
    model: mujoco.MjModel
    data: mujoco.MjData
    frame_skip: int
    render_mode: str | None

    def _init_task_env(self, episode_length: int) -> None:
        if int(episode_length) < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.episode_length = int(episode_length)
        self._elapsed_steps = 0
        self._nu = int(self.model.nu)
        ctrlrange = np.array(self.model.actuator_ctrlrange, dtype=np.float64)
        self._ctrl_low = ctrlrange[:, 0].copy()
        self._ctrl_high = ctrlrange[:, 1].copy()
        # model.opt.timestep and frame_skip never change after construction (tasks do not touch them)
        self._dt = float(self.model.opt.timestep) * int(self.frame_skip)
        self.task: dict[str, Any] = {}

    # ---------------------------------------------------------------- task

    def set_task(self, task: Task) -> None:  # pragma: no cover - abstract
        """Switch this environment to ``task`` (takes full effect from the next ``reset``)."""
        raise NotImplementedError

    def get_task(self) -> dict[str, Any]:
        """A JSON copy of the current task."""
        return task_to_json(self.task)

    # ---------------------------------------------------------------- stepping

    def _simulate(self, action: Any) -> np.ndarray:
        """Clip ``action`` to ``ctrlrange``, apply it for ``frame_skip`` steps; return the applied control."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self._nu,):
            raise ValueError(f"action must have shape ({self._nu},), got {a.shape}")
        a = np.minimum(np.maximum(a, self._ctrl_low), self._ctrl_high)
        self.data.ctrl[:] = a
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return a

    def _tick(self) -> bool:
        """Count one step; ``True`` when the time limit is reached (the ``truncated`` flag)."""
        self._elapsed_steps += 1
        if self.render_mode == "human":
            self.render()  # type: ignore[attr-defined]
        return self._elapsed_steps >= self.episode_length

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._elapsed_steps = 0
        return super().reset(seed=seed, options=options)  # type: ignore[misc]


@contextmanager
def quiet_settotalmass_warning() -> Iterator[None]:
    """Drop MuJoCo's deprecation warning for the ``settotalmass`` compiler attribute while in the block.

    Gymnasium's ``half_cheetah.xml`` uses that attribute, and MuJoCo >= 3.3 reports it on every load, to
    stderr and appended to ``MUJOCO_LOG.TXT`` in the working directory. Only that message is dropped; any
    other MuJoCo warning raised in the block goes to the previous handler (or becomes a Python warning).
    """
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "settotalmass" in message:
            return
        if previous is not None:
            previous(message)
        else:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def as_float(value: Any, key: str) -> float:
    """``float(value)`` with a clear error for tasks built by hand."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"task[{key!r}] must be a number, got {value!r}") from None
    if not np.isfinite(out):
        raise ValueError(f"task[{key!r}] must be finite, got {value!r}")
    return out


def require(task: Task, key: str) -> Any:
    if not isinstance(task, Mapping) or key not in task:
        raise ValueError(f"task must be a mapping with key {key!r}, got {task!r}")
    return task[key]


class FixedSplitMixin:
    """For the benchmarks whose train and test tasks are the same fixed set (the two directions).

    ``split`` returns every fixed task as train and as test, whatever the seed; ``sample_tasks`` (used
    e.g. by the Gymnasium entry point when no task is given) draws from the fixed set with ``rng``.
    """

    test_equals_train = True

    def fixed_tasks(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        tasks = self.fixed_tasks()
        return [tasks[int(i)] for i in rng.integers(len(tasks), size=n)]

    def split(self, seed: int, n_train: int, n_test: int) -> TaskSplit:
        n = len(self.fixed_tasks())
        if n_train != n or n_test != n:
            name = getattr(self, "name", type(self).__name__)
            raise ValueError(
                f"{name} has a fixed split: train and test are the same {n} tasks "
                f"({self._describe_fixed()}), so n_train and n_test must both be {n}; "
                f"got n_train={n_train}, n_test={n_test}"
            )
        return TaskSplit(train=tuple(self.fixed_tasks()), test=tuple(self.fixed_tasks()))

    def _describe_fixed(self) -> str:
        return ", ".join(str(dict(t)) for t in self.fixed_tasks())


def nested_list(array: np.ndarray) -> list[Any]:
    """``array.tolist()``: exact float64 values as nested Python lists (JSON round-trips exactly)."""
    return np.asarray(array, dtype=np.float64).tolist()


def as_array(value: Sequence[Any] | np.ndarray, shape: tuple[int, ...], key: str) -> np.ndarray:
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"task[{key!r}] must be an array of numbers") from None
    if out.shape != shape:
        raise ValueError(f"task[{key!r}] must have shape {shape} (the model's), got {out.shape}")
    if not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError(f"task[{key!r}] must hold finite positive multipliers")
    return out
