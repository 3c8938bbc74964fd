"""Walker-2D-Params and Hopper-Params of the PEARL paper on Gymnasium's Walker2d-v5 / Hopper-v5.

A task is a set of per-element multipliers on four model arrays (the PEARL reference environments), stored as nested
lists with the model's shapes::

    {"body_mass": [nbody], "body_inertia": [[3] x nbody], "dof_damping": [nv], "geom_friction": [[3] x ngeom]}

drawn as ``1.5 ** U(-3, 3)`` (mass, inertia, friction) and ``1.3 ** U(-3, 3)`` (damping), element by
element. :meth:`RandParamsEnvMixin.set_task` writes ``base * multiplier`` into the loaded model in place
and calls ``mujoco.mj_setConst``; the base arrays are kept, so switching back to a task (or to ``{}``,
the unmodified model) restores every model array bit for bit.

Reward ``r = v_x + 1 - 1e-3 sum(a^2)`` with ``v_x`` the change of ``qpos[0]`` over ``dt``. Termination:
Gymnasium's v5 health rules (Walker2d: ``0.8 < z < 2`` and ``-1 < angle < 1``; Hopper: ``z > 0.7``,
``|angle| < 0.2`` and ``|qpos[2:], qvel| < 100``), which are the reference's. Observation:
``qpos[1:]`` + ``clip(qvel, -10, 10)`` (Walker 17, Hopper 11). ``dt`` is Gymnasium's 0.008 (timestep 0.002,
frame_skip 4) unless the distribution is built with another ``frame_skip`` or ``timestep``; ``timestep=0.004``
gives the reference's 0.004 x 4 = 0.016 (the PEARL ``paper`` presets use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.mujoco_env import expand_model_path
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv
from gymnasium.utils import EzPickle

from nacre.envs.base import Task, TaskDistribution
from nacre.envs.mujoco._common import EPISODE_LENGTH, TaskEnvMixin, as_array, nested_list
from nacre.envs.registry import register

#: randomised model arrays and the base of their log-uniform multipliers (reference order)
PARAM_BASES: dict[str, float] = {
    "body_mass": 1.5,
    "body_inertia": 1.5,
    "dof_damping": 1.3,
    "geom_friction": 1.5,
}
CTRL_COST_WEIGHT = 1e-3
ALIVE_BONUS = 1.0


class RandParamsEnvMixin(TaskEnvMixin):
    """Model-parameter tasks on top of a Walker2d-v5 / Hopper-v5 environment."""

    def _setup(
        self,
        gym_env: type,
        task: Task,
        episode_length: int,
        render_mode: str | None,
        frame_skip: int,
        timestep: float | None,
    ) -> None:
        """Build the Gymnasium body ``gym_env`` and apply ``task`` (the shared ``__init__`` of the subclasses)."""
        gym_env.__init__(self, frame_skip=frame_skip, render_mode=render_mode)
        EzPickle.__init__(self, task, episode_length, render_mode, frame_skip, timestep)
        self._set_timestep(timestep)
        self._init_task_env(episode_length)
        self._init_params()
        self.set_task(task)

    def _set_timestep(self, timestep: float | None) -> None:
        """Use another MuJoCo integration step than the XML's (``dt`` = timestep x frame_skip follows)."""
        timestep = _check_timestep(timestep)
        if timestep is not None:
            self.model.opt.timestep = timestep  # type: ignore[attr-defined]
            self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}  # type: ignore[attr-defined]

    def _init_params(self) -> None:
        self._base_params = {key: np.array(getattr(self.model, key), copy=True) for key in PARAM_BASES}

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {key: base.shape for key, base in self._base_params.items()}

    @property
    def base_params(self) -> dict[str, np.ndarray]:
        """Copies of the unmodified model arrays."""
        return {key: base.copy() for key, base in self._base_params.items()}

    def set_task(self, task: Task) -> None:
        """Scale the model arrays by the task's multipliers (missing arrays keep their base values).

        The simulator's integration state (``mjSTATE_INTEGRATION``: time, qpos, qvel, act, warm start,
        controls, applied forces) is kept across the ``mj_setConst`` call, so switching in the middle of
        an episode is possible, but the usual use is ``set_task`` then ``reset``.
        """
        if not isinstance(task, Mapping):
            raise ValueError(f"task must be a mapping of multipliers, got {task!r}")
        unknown = set(task) - set(PARAM_BASES)
        if unknown:
            raise ValueError(f"unknown task keys {sorted(unknown)}; expected a subset of {list(PARAM_BASES)}")
        multipliers = {
            key: as_array(task[key], self._base_params[key].shape, key) for key in PARAM_BASES if key in task
        }
        model, data = self.model, self.data
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(model, spec))
        mujoco.mj_getState(model, data, state, spec)
        for key, base in self._base_params.items():
            target = getattr(model, key)
            target[:] = base * multipliers[key] if key in multipliers else base
        mujoco.mj_setConst(model, data)  # recompute derived constants; uses data as scratch
        mujoco.mj_setState(model, data, state, spec)
        mujoco.mj_forward(model, data)
        self.task = {key: nested_list(value) for key, value in multipliers.items()}

    def _get_obs(self) -> np.ndarray:
        """``qpos[1:]`` + ``clip(qvel, -10, 10)``: Gymnasium's v5 observation, without its extra copies."""
        qvel = self.data.qvel
        return np.concatenate((self.data.qpos[1:], np.minimum(np.maximum(qvel, -10.0), 10.0)))

    def step(self, action: Any):
        x_before = self.data.qpos[0]
        a = self._simulate(action)
        x_velocity = (self.data.qpos[0] - x_before) / self._dt
        ctrl_cost = CTRL_COST_WEIGHT * float(a @ a)
        reward = float(x_velocity) + ALIVE_BONUS - ctrl_cost
        terminated = not self.is_healthy  # type: ignore[attr-defined]
        truncated = self._tick()
        info = {
            "x_position": float(self.data.qpos[0]),
            "x_velocity": float(x_velocity),
            "reward_forward": float(x_velocity),
            "reward_ctrl": -ctrl_cost,
            "reward_survive": ALIVE_BONUS,
        }
        return self._get_obs(), reward, bool(terminated), truncated, info


def _check_timestep(timestep: float | None) -> float | None:
    if timestep is None:
        return None
    if not (isinstance(timestep, (int, float)) and 0 < timestep < 0.1):
        raise ValueError(f"timestep must be a number in (0, 0.1) seconds, got {timestep!r}")
    return float(timestep)


class WalkerParamsEnv(RandParamsEnvMixin, Walker2dEnv):
    """Walker2d-v5 with randomised body masses, inertias, joint damping and friction."""

    def __init__(
        self,
        task: Task,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        frame_skip: int = 4,
        timestep: float | None = None,
    ) -> None:
        self._setup(Walker2dEnv, task, episode_length, render_mode, frame_skip, timestep)


class HopperParamsEnv(RandParamsEnvMixin, HopperEnv):
    """Hopper-v5 with randomised body masses, inertias, joint damping and friction."""

    def __init__(
        self,
        task: Task,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        frame_skip: int = 4,
        timestep: float | None = None,
    ) -> None:
        self._setup(HopperEnv, task, episode_length, render_mode, frame_skip, timestep)


_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {}


def _param_shapes(xml_file: str) -> dict[str, tuple[int, ...]]:
    if xml_file not in _SHAPES:
        model = mujoco.MjModel.from_xml_path(expand_model_path(xml_file))
        _SHAPES[xml_file] = {key: tuple(getattr(model, key).shape) for key in PARAM_BASES}
    return _SHAPES[xml_file]


class _RandParams(TaskDistribution):
    env_class: ClassVar[type[RandParamsEnvMixin]]
    xml_file: ClassVar[str]
    episode_length = EPISODE_LENGTH

    def __init__(self, frame_skip: int = 4, log_scale_limit: float = 3.0, timestep: float | None = None) -> None:
        if int(frame_skip) < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        #: MuJoCo integration step (``None``: the XML's 0.002); the reference's models ran at 0.004 x 4 = 0.016
        self.timestep = _check_timestep(timestep)
        if not log_scale_limit >= 0:
            raise ValueError(f"log_scale_limit must be >= 0, got {log_scale_limit}")
        self.frame_skip = int(frame_skip)
        self.log_scale_limit = float(log_scale_limit)

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        shapes = _param_shapes(self.xml_file)
        limit = self.log_scale_limit
        return [
            {
                key: nested_list(base ** rng.uniform(-limit, limit, size=shapes[key]))
                for key, base in PARAM_BASES.items()
            }
            for _ in range(n)
        ]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return self.env_class(  # type: ignore[call-arg]
            task, self.episode_length, render_mode=render_mode, frame_skip=self.frame_skip, timestep=self.timestep
        )


class WalkerParams(_RandParams):
    """Walker-2D with randomised dynamics parameters (PEARL's Walker-2D-Params)."""

    name = "walker-params"
    version = 1
    env_class = WalkerParamsEnv
    xml_file = "walker2d_v5.xml"


class HopperParams(_RandParams):
    """Hopper with randomised dynamics parameters (PEARL's Hopper-Params)."""

    name = "hopper-params"
    version = 1
    env_class = HopperParamsEnv
    xml_file = "hopper.xml"


register("walker-params", WalkerParams)
register("hopper-params", HopperParams)
