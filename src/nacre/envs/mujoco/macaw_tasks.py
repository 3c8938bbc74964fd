"""MACAW's task sets and splits as fixed, versioned task distributions (the MACAW reference task sets).

Each distribution is an ordered, fixed list of tasks plus fixed train and test *index* sets; the task set
is part of the benchmark definition and never depends on the run seed:

* ``macaw-cheetah-vel-v1``: 40 velocities ``0.075 (i + 1)``, ``i = 0..39``; test = tasks
  ``[2, 7, 15, 23, 26]``, train = the other 35.
* ``macaw-cheetah-vel-ood-v1``: the same 40 tasks; train = tasks 0-25 (``v <= 1.95``), test = tasks
  26-39 (``v in [2.025, 3.0]``), MACAW's extrapolation split.
* ``macaw-cheetah-dir-v1``: directions ``+1`` and ``-1`` (in that order); train == test.
* ``macaw-ant-dir-v1``: MACAW's 50 fixed goal angles (:data:`ANT_DIR_ANGLES`), test = tasks
  ``[6, 17, 23, 30, 41]``, train = the other 45.
* ``macaw-walker-params-v1``: 35 tasks drawn once with walker-params' law (``1.5 ** U(-3, 3)`` on mass,
  inertia and friction, ``1.3 ** U(-3, 3)`` on damping) from ``numpy.random.default_rng(WALKER_PARAMS_SEED)``;
  train = tasks 0-29, test = tasks 30-34 (the paper appendix's 30/5; the reference's parameters were not
  recoverable, and its code used 50 tasks, 45/5).

The environments are the PEARL families' (:class:`HalfCheetahVelEnv`, :class:`HalfCheetahDirEnv`,
:class:`AntDirEnv`, :class:`WalkerParamsEnv`) with the same task formats (``{"velocity": v}``,
``{"direction": d}``, ``{"angle": t}``, the multiplier mapping).

Fixed-split API (:class:`FixedTaskSetMixin`): ``fixed_tasks()`` is the ordered task list,
``train_indices`` / ``test_indices`` index into it, ``fixed_split()`` returns the :class:`TaskSplit`, and
``split(seed, n_train, n_test)`` (what the trainers call) returns that same split for every seed, or
raises ``ValueError`` when ``n_train`` / ``n_test`` are not the fixed sizes.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from nacre.envs.base import Task, TaskDistribution, TaskSplit
from nacre.envs.mujoco._common import EPISODE_LENGTH, FixedSplitMixin
from nacre.envs.mujoco.ant import AntDirEnv
from nacre.envs.mujoco.half_cheetah import HalfCheetahDirEnv, HalfCheetahVelEnv
from nacre.envs.mujoco.rand_params import WalkerParams, WalkerParamsEnv
from nacre.envs.registry import register

#: MACAW's 40 cheetah-vel target velocities, ``0.075 (i + 1)`` rounded to the decimal the reference lists
CHEETAH_VEL_VELOCITIES: tuple[float, ...] = tuple(round(0.075 * (i + 1), 3) for i in range(40))
#: test tasks of MACAW's standard cheetah-vel split (35 train / 5 test)
CHEETAH_VEL_TEST_INDICES: tuple[int, ...] = (2, 7, 15, 23, 26)
#: MACAW's out-of-distribution split: train on v <= 1.95 (tasks 0-25), test on v >= 2.025 (tasks 26-39)
CHEETAH_VEL_OOD_TRAIN_INDICES: tuple[int, ...] = tuple(range(26))
CHEETAH_VEL_OOD_TEST_INDICES: tuple[int, ...] = tuple(range(26, 40))

#: MACAW's cheetah-dir tasks, in the reference's order
CHEETAH_DIR_DIRECTIONS: tuple[int, ...] = (1, -1)

#: MACAW's 50 fixed ant-dir goal angles (radians), in task order. Source: the MACAW reference code's task files,
#: ``data/macaw_task_params.csv`` (rows ``ant_dir``, column ``param_value``), which decodes the
#: reference's task files; six decimals as listed there.
ANT_DIR_ANGLES: tuple[float, ...] = (
    1.203361, 0.426631, 4.944775, 4.123865, 4.005662, 3.616620, 0.245440, 2.248209,
    5.941903, 0.377272, 5.428937, 5.512179, 0.321659, 4.099267, 3.466756, 3.754286,
    3.038100, 1.778067, 1.870666, 3.528065, 2.488439, 4.955553, 2.629415, 0.904175,
    0.948175, 0.347092, 4.511561, 1.836684, 1.248933, 5.223614, 3.568793, 0.517356,
    3.424327, 0.998767, 4.252223, 0.744383, 2.795993, 5.579358, 5.009381, 0.427123,
    6.036808, 4.141910, 4.516203, 4.672031, 5.577812, 0.841605, 4.881875, 5.265256,
    5.210676, 0.183199,
)  # fmt: skip
#: test tasks of MACAW's ant-dir split (45 train / 5 test), from the same csv (``split_standard``)
ANT_DIR_TEST_INDICES: tuple[int, ...] = (6, 17, 23, 30, 41)

#: seed of the ``numpy.random.default_rng`` that draws macaw-walker-params' 35 tasks (part of the
#: benchmark definition; a new seed or law means a new version of the id)
WALKER_PARAMS_SEED = 1337
WALKER_PARAMS_N_TASKS = 35
WALKER_PARAMS_TEST_INDICES: tuple[int, ...] = tuple(range(30, 35))


def _complement(n: int, indices: tuple[int, ...]) -> tuple[int, ...]:
    excluded = set(indices)
    return tuple(i for i in range(n) if i not in excluded)


class FixedTaskSetMixin(FixedSplitMixin):
    """A benchmark with a fixed, ordered task list and fixed train / test indices into it.

    Subclasses set :attr:`n_tasks`, :attr:`train_indices`, :attr:`test_indices` (and
    ``test_equals_train`` when the two index sets are the same) and implement :meth:`_build_tasks`.
    ``sample_tasks`` (used by the Gymnasium entry point without a task) draws from the fixed list.
    """

    n_tasks: ClassVar[int]
    train_indices: ClassVar[tuple[int, ...]]
    test_indices: ClassVar[tuple[int, ...]]
    test_equals_train = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not all(hasattr(cls, attr) for attr in ("n_tasks", "train_indices", "test_indices")):
            return
        for label, indices in (("train", cls.train_indices), ("test", cls.test_indices)):
            if not indices or len(set(indices)) != len(indices) or not all(0 <= i < cls.n_tasks for i in indices):
                raise TypeError(f"{cls.__name__}: {label}_indices must be distinct indices in [0, {cls.n_tasks})")
        same = set(cls.train_indices) == set(cls.test_indices)
        if cls.test_equals_train != same:
            raise TypeError(f"{cls.__name__}: test_equals_train must be {same} for these indices")
        if not same and set(cls.train_indices) & set(cls.test_indices):
            raise TypeError(f"{cls.__name__}: train and test indices overlap")

    def _build_tasks(self) -> list[dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fixed_tasks(self) -> list[dict[str, Any]]:
        """The ordered task list (fresh copies: mutating them does not change the distribution)."""
        return copy.deepcopy(self._build_tasks())

    @property
    def n_train(self) -> int:
        return len(self.train_indices)

    @property
    def n_test(self) -> int:
        return len(self.test_indices)

    def fixed_split(self) -> TaskSplit:
        """The benchmark's train and test tasks (``fixed_tasks()[i]`` for the train / test indices)."""
        tasks = self.fixed_tasks()
        return TaskSplit(
            train=tuple(tasks[i] for i in self.train_indices),
            test=tuple(copy.deepcopy(tasks[i]) for i in self.test_indices),
        )

    def split(self, seed: int, n_train: int, n_test: int) -> TaskSplit:
        """:meth:`fixed_split` for every ``seed``; ``n_train`` / ``n_test`` must be the fixed sizes."""
        if n_train != self.n_train or n_test != self.n_test:
            name = getattr(self, "id", type(self).__name__)
            raise ValueError(
                f"{name} has a fixed split of its {self.n_tasks} tasks ({self.n_train} train, {self.n_test} test: "
                f"indices {list(self.test_indices)}), whatever the seed, so n_train and n_test must be "
                f"{self.n_train} and {self.n_test}; got n_train={n_train}, n_test={n_test}"
            )
        return self.fixed_split()

    def _describe_fixed(self) -> str:
        return f"{self.n_tasks} fixed tasks, train indices {list(self.train_indices)}, test {list(self.test_indices)}"


class MacawCheetahVel(FixedTaskSetMixin, TaskDistribution):
    """MACAW Half-Cheetah-Vel: 40 fixed velocities 0.075 (i+1), fixed 35/5 split (test [2, 7, 15, 23, 26])."""

    name = "macaw-cheetah-vel"
    version = 1
    episode_length = EPISODE_LENGTH
    n_tasks = len(CHEETAH_VEL_VELOCITIES)
    train_indices = _complement(len(CHEETAH_VEL_VELOCITIES), CHEETAH_VEL_TEST_INDICES)
    test_indices = CHEETAH_VEL_TEST_INDICES

    def _build_tasks(self) -> list[dict[str, Any]]:
        return [{"velocity": v} for v in CHEETAH_VEL_VELOCITIES]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return HalfCheetahVelEnv(task, self.episode_length, render_mode=render_mode)


class MacawCheetahVelOOD(MacawCheetahVel):
    """MACAW Half-Cheetah-Vel extrapolation: the same 40 tasks, train v <= 1.95 (26), test v >= 2.025 (14)."""

    name = "macaw-cheetah-vel-ood"
    train_indices = CHEETAH_VEL_OOD_TRAIN_INDICES
    test_indices = CHEETAH_VEL_OOD_TEST_INDICES


class MacawCheetahDir(FixedTaskSetMixin, TaskDistribution):
    """MACAW Half-Cheetah-Dir: directions +1 and -1; train == test == both."""

    name = "macaw-cheetah-dir"
    version = 1
    episode_length = EPISODE_LENGTH
    n_tasks = len(CHEETAH_DIR_DIRECTIONS)
    train_indices = tuple(range(len(CHEETAH_DIR_DIRECTIONS)))
    test_indices = tuple(range(len(CHEETAH_DIR_DIRECTIONS)))
    test_equals_train = True

    def _build_tasks(self) -> list[dict[str, Any]]:
        return [{"direction": d} for d in CHEETAH_DIR_DIRECTIONS]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return HalfCheetahDirEnv(task, self.episode_length, render_mode=render_mode)


class MacawAntDir(FixedTaskSetMixin, TaskDistribution):
    """MACAW Ant-Dir: 50 fixed goal angles, fixed 45/5 split (test [6, 17, 23, 30, 41])."""

    name = "macaw-ant-dir"
    version = 1
    episode_length = EPISODE_LENGTH
    n_tasks = len(ANT_DIR_ANGLES)
    train_indices = _complement(len(ANT_DIR_ANGLES), ANT_DIR_TEST_INDICES)
    test_indices = ANT_DIR_TEST_INDICES

    def _build_tasks(self) -> list[dict[str, Any]]:
        return [{"angle": t} for t in ANT_DIR_ANGLES]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return AntDirEnv(task, self.episode_length, render_mode=render_mode)


_WALKER_TASKS: list[dict[str, Any]] = []


def walker_params_tasks() -> list[dict[str, Any]]:
    """macaw-walker-params' 35 tasks (drawn on first use from :data:`WALKER_PARAMS_SEED`, then cached)."""
    if not _WALKER_TASKS:
        rng = np.random.default_rng(WALKER_PARAMS_SEED)
        _WALKER_TASKS.extend(WalkerParams(log_scale_limit=3.0).sample_tasks(rng, WALKER_PARAMS_N_TASKS))
    return copy.deepcopy(_WALKER_TASKS)


class MacawWalkerParams(FixedTaskSetMixin, TaskDistribution):
    """MACAW Walker-Params: 35 tasks drawn with walker-params' law from seed 1337, fixed 30/5 split."""

    name = "macaw-walker-params"
    version = 1
    episode_length = EPISODE_LENGTH
    n_tasks = WALKER_PARAMS_N_TASKS
    train_indices = _complement(WALKER_PARAMS_N_TASKS, WALKER_PARAMS_TEST_INDICES)
    test_indices = WALKER_PARAMS_TEST_INDICES

    def __init__(self, frame_skip: int = 4, timestep: float | None = None) -> None:
        if int(frame_skip) < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        self.frame_skip = int(frame_skip)
        self.timestep = WalkerParams(timestep=timestep).timestep  # validated there

    def _build_tasks(self) -> list[dict[str, Any]]:
        return walker_params_tasks()

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return WalkerParamsEnv(task, self.episode_length, render_mode=render_mode, frame_skip=self.frame_skip,
                               timestep=self.timestep)  # fmt: skip


#: Gymnasium id -> nacre task-distribution id for the MACAW task sets
MACAW_GYM_IDS: dict[str, str] = {
    "nacre/MacawCheetahVel-v1": "macaw-cheetah-vel-v1",
    "nacre/MacawCheetahVelOOD-v1": "macaw-cheetah-vel-ood-v1",
    "nacre/MacawCheetahDir-v1": "macaw-cheetah-dir-v1",
    "nacre/MacawAntDir-v1": "macaw-ant-dir-v1",
    "nacre/MacawWalkerParams-v1": "macaw-walker-params-v1",
}

register("macaw-cheetah-vel", MacawCheetahVel)
register("macaw-cheetah-vel-ood", MacawCheetahVelOOD)
register("macaw-cheetah-dir", MacawCheetahDir)
register("macaw-ant-dir", MacawAntDir)
register("macaw-walker-params", MacawWalkerParams)
