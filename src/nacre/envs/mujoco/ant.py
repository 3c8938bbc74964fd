"""Ant task families of the PEARL paper on Gymnasium's Ant-v5 (gear 150, dt 0.05; the PEARL reference environments).

* ``ant-dir-v1`` (Ant-Fwd-Back): direction angle ``t in {0, pi}``, fixed split (train == test == both);
  ``r = v_xy . (cos t, sin t) - 0.5 sum(a^2) - 0.5e-3 sum(clip(cfrc_ext, -1, 1)^2) + 1``.
* ``ant-dir-random-v1``: the same environment with ``t ~ U(0, 2 pi)`` and an ordinary random split.
* ``ant-goal-v1`` (Ant-Goal-2D): goals uniform in the disk of radius 3 (angle ``U(0, 2 pi)``, radius
  ``3 sqrt(U(0, 1))``); ``r = -|x - g_x| - |y - g_y| - 0.1 sum(a^2) - 0.5e-3 sum(clip(cfrc_ext, -1, 1)^2)``.

``v_xy`` is the change of the free joint's ``qpos[0:2]`` (the torso position) over ``dt``; ``cfrc_ext`` is
computed by ``mj_rnePostConstraint`` after the step, as Gymnasium does. All three terminate when the
state is not finite or the torso height ``qpos[2]`` leaves ``[0.2, 1.0]`` (ant-goal: switchable).

Observations: ant-dir ``qpos[2:]`` (13) + ``qvel`` (14) = 27, like the reference; ant-goal ``qpos`` (15,
with x, y first) + ``qvel`` (14) + ``clip(cfrc_ext[1:], -1, 1)`` (13 bodies x 6 = 78) = 107 (29 with
``contact_forces_in_obs=False``).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.spaces import Box
from gymnasium.utils import EzPickle

from nacre.envs.base import Task, TaskDistribution
from nacre.envs.mujoco._common import EPISODE_LENGTH, FixedSplitMixin, TaskEnvMixin, as_float, require
from nacre.envs.registry import register

CONTACT_COST_WEIGHT = 0.5e-3
HEALTHY_Z = (0.2, 1.0)


class _AntTaskEnv(TaskEnvMixin, AntEnv):
    """Ant-v5 with a task reward, the reference termination and an internal 200-step time limit."""

    ctrl_cost_weight = 0.5
    survive_reward = 0.0

    def __init__(
        self,
        task: Task,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        *,
        include_xy: bool = False,
        contact_forces_in_obs: bool = False,
        terminate_when_unhealthy: bool = True,
    ) -> None:
        AntEnv.__init__(
            self,
            render_mode=render_mode,
            exclude_current_positions_from_observation=not include_xy,
            include_cfrc_ext_in_observation=contact_forces_in_obs,
        )
        EzPickle.__init__(
            self,
            task,
            episode_length,
            render_mode,
            include_xy=include_xy,
            contact_forces_in_obs=contact_forces_in_obs,
            terminate_when_unhealthy=terminate_when_unhealthy,
        )
        self._init_task_env(episode_length)
        self._qpos_start = 0 if include_xy else 2
        self._contacts_in_obs = contact_forces_in_obs
        self._terminate = terminate_when_unhealthy
        size = self.model.nq - self._qpos_start + self.model.nv
        size += (self.model.nbody - 1) * 6 if contact_forces_in_obs else 0
        self.observation_space = Box(-np.inf, np.inf, shape=(size,), dtype=np.float64)
        self.set_task(task)

    def _get_obs(self) -> np.ndarray:
        parts = [self.data.qpos[self._qpos_start :], self.data.qvel]
        if self._contacts_in_obs:
            parts.append(np.clip(self.data.cfrc_ext[1:], -1.0, 1.0).ravel())
        return np.concatenate(parts)

    @property
    def is_healthy(self) -> bool:
        """Finite state and torso height ``qpos[2]`` in ``[0.2, 1.0]`` (the reference's rule)."""
        data = self.data
        finite = np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all()
        return bool(finite and HEALTHY_Z[0] <= data.qpos[2] <= HEALTHY_Z[1])

    def _task_reward(self, xy_velocity: np.ndarray) -> tuple[float, dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def step(self, action: Any):
        data = self.data
        xy_before = data.qpos[:2].copy()
        a = self._simulate(action)
        mujoco.mj_rnePostConstraint(self.model, data)
        qpos = data.qpos
        xy_velocity = (qpos[:2] - xy_before) / self._dt
        task_reward, info = self._task_reward(xy_velocity)
        ctrl_cost = self.ctrl_cost_weight * float(a @ a)
        contacts = np.clip(data.cfrc_ext, -1.0, 1.0).ravel()
        contact_cost = CONTACT_COST_WEIGHT * float(contacts @ contacts)
        reward = task_reward - ctrl_cost - contact_cost + self.survive_reward
        terminated = self._terminate and not self.is_healthy
        truncated = self._tick()
        info.update(
            x_position=float(qpos[0]),
            y_position=float(qpos[1]),
            x_velocity=float(xy_velocity[0]),
            y_velocity=float(xy_velocity[1]),
            reward_ctrl=-ctrl_cost,
            reward_contact=-contact_cost,
            reward_survive=self.survive_reward,
        )
        return self._get_obs(), reward, bool(terminated), truncated, info


class AntDirEnv(_AntTaskEnv):
    """Run in direction ``angle``; task ``{"angle": t}``; 27-dim observation."""

    survive_reward = 1.0

    def __init__(self, task: Task, episode_length: int = EPISODE_LENGTH, render_mode: str | None = None):
        super().__init__(task, episode_length, render_mode)
        EzPickle.__init__(self, task, episode_length, render_mode)

    def set_task(self, task: Task) -> None:
        angle = as_float(require(task, "angle"), "angle")
        self.angle = angle
        self.direction = np.array((math.cos(angle), math.sin(angle)))
        self.task = {"angle": angle}

    def _task_reward(self, xy_velocity: np.ndarray) -> tuple[float, dict[str, Any]]:
        forward = float(xy_velocity @ self.direction)
        return forward, {"reward_forward": forward, "angle": self.angle}


class AntGoalEnv(_AntTaskEnv):
    """Walk to ``goal``; task ``{"goal": [x, y]}``; observation has x, y first (and contact forces)."""

    ctrl_cost_weight = 0.1

    def __init__(
        self,
        task: Task,
        episode_length: int = EPISODE_LENGTH,
        render_mode: str | None = None,
        *,
        contact_forces_in_obs: bool = True,
        terminate_when_unhealthy: bool = True,
    ):
        super().__init__(
            task,
            episode_length,
            render_mode,
            include_xy=True,
            contact_forces_in_obs=contact_forces_in_obs,
            terminate_when_unhealthy=terminate_when_unhealthy,
        )
        EzPickle.__init__(
            self,
            task,
            episode_length,
            render_mode,
            contact_forces_in_obs=contact_forces_in_obs,
            terminate_when_unhealthy=terminate_when_unhealthy,
        )

    def set_task(self, task: Task) -> None:
        goal = require(task, "goal")
        if np.shape(goal) != (2,):
            raise ValueError(f"task['goal'] must be [x, y], got {goal!r}")
        self.goal = np.array([as_float(goal[0], "goal"), as_float(goal[1], "goal")])
        self.task = {"goal": self.goal.tolist()}

    def _task_reward(self, xy_velocity: np.ndarray) -> tuple[float, dict[str, Any]]:
        offset = self.data.qpos[:2] - self.goal
        goal_reward = -float(abs(offset[0]) + abs(offset[1]))
        distance = float(math.hypot(offset[0], offset[1]))
        return goal_reward, {"reward_goal": goal_reward, "goal": self.goal.copy(), "goal_distance": distance}


class AntDir(FixedSplitMixin, TaskDistribution):
    """Ant forward/backward, angles {0, pi} (PEARL's Ant-Fwd-Back); train == test == both directions."""

    name = "ant-dir"
    version = 1
    episode_length = EPISODE_LENGTH
    test_equals_train = True

    def fixed_tasks(self) -> list[dict[str, Any]]:
        return [{"angle": 0.0}, {"angle": math.pi}]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return AntDirEnv(task, self.episode_length, render_mode=render_mode)


class AntDirRandom(TaskDistribution):
    """Ant running in a direction drawn U(0, 2 pi) (random train/test split)."""

    name = "ant-dir-random"
    version = 1
    episode_length = EPISODE_LENGTH

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        return [{"angle": float(t)} for t in rng.uniform(0.0, 2.0 * math.pi, size=n)]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return AntDirEnv(task, self.episode_length, render_mode=render_mode)


class AntGoal(TaskDistribution):
    """Ant navigation to goals uniform in a disk of radius 3 (PEARL's Ant-Goal-2D)."""

    name = "ant-goal"
    version = 1
    episode_length = EPISODE_LENGTH

    def __init__(self, contact_forces_in_obs: bool = True, terminate_when_unhealthy: bool = True) -> None:
        self.contact_forces_in_obs = bool(contact_forces_in_obs)
        self.terminate_when_unhealthy = bool(terminate_when_unhealthy)

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        angles = rng.uniform(0.0, 2.0 * math.pi, size=n)
        radii = 3.0 * np.sqrt(rng.uniform(0.0, 1.0, size=n))
        xs, ys = radii * np.cos(angles), radii * np.sin(angles)
        return [{"goal": [float(x), float(y)]} for x, y in zip(xs, ys, strict=True)]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return AntGoalEnv(
            task,
            self.episode_length,
            render_mode=render_mode,
            contact_forces_in_obs=self.contact_forces_in_obs,
            terminate_when_unhealthy=self.terminate_when_unhealthy,
        )


register("ant-dir", AntDir)
register("ant-dir-random", AntDirRandom)
register("ant-goal", AntGoal)
