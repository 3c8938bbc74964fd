"""Humanoid-Direc-2D of the PEARL paper on Gymnasium's Humanoid-v5 (the PEARL reference environments).

``humanoid-dir-v1``: direction angle ``t ~ U(0, 2 pi)``;
``r = 1.25 * v_com . (cos t, sin t) - 0.1 sum(ctrl^2) - min(0.5e-6 sum(cfrc_ext^2), 10) + 5``, where
``v_com`` is the change over ``dt`` (0.015) of the x-y mass centre ``sum_b m_b xipos_b / sum_b m_b``
(Gymnasium's and the reference's definition, read from ``data.xipos`` as MuJoCo leaves it after the
step). Terminates when the torso height ``qpos[2]`` leaves ``[1, 2]``. Observation: Humanoid-v5's
default 348 dims (``qpos[2:]``, ``qvel``, ``cinert[1:]``, ``cvel[1:]``, ``qfrc_actuator[6:]``,
``cfrc_ext[1:]``).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv
from gymnasium.utils import EzPickle

from nacre.envs.base import Task, TaskDistribution
from nacre.envs.mujoco._common import EPISODE_LENGTH, TaskEnvMixin, as_float, require
from nacre.envs.registry import register

FORWARD_WEIGHT = 1.25
CTRL_COST_WEIGHT = 0.1
CONTACT_COST_WEIGHT = 0.5e-6
CONTACT_COST_MAX = 10.0
ALIVE_BONUS = 5.0
HEALTHY_Z = (1.0, 2.0)


class HumanoidDirEnv(TaskEnvMixin, HumanoidEnv):
    """Humanoid-v5 running in direction ``angle``; task ``{"angle": t}``."""

    def __init__(self, task: Task, episode_length: int = EPISODE_LENGTH, render_mode: str | None = None):
        HumanoidEnv.__init__(self, render_mode=render_mode)
        EzPickle.__init__(self, task, episode_length, render_mode)
        self._init_task_env(episode_length)
        mass = np.array(self.model.body_mass, dtype=np.float64)
        self._mass_fraction = mass / mass.sum()
        self.set_task(task)

    def set_task(self, task: Task) -> None:
        angle = as_float(require(task, "angle"), "angle")
        self.angle = angle
        self.direction = np.array((math.cos(angle), math.sin(angle)))
        self.task = {"angle": angle}

    @property
    def is_healthy(self) -> bool:
        """Torso height ``qpos[2]`` in ``[1, 2]`` (the reference's rule; Gymnasium's bounds are strict)."""
        return bool(HEALTHY_Z[0] <= self.data.qpos[2] <= HEALTHY_Z[1])

    def mass_center_xy(self) -> np.ndarray:
        return (self._mass_fraction @ self.data.xipos)[:2]

    def step(self, action: Any):
        data = self.data
        com_before = self.mass_center_xy()
        self._simulate(action)
        mujoco.mj_rnePostConstraint(self.model, data)
        com_velocity = (self.mass_center_xy() - com_before) / self._dt
        forward = FORWARD_WEIGHT * float(com_velocity @ self.direction)
        ctrl = data.ctrl
        ctrl_cost = CTRL_COST_WEIGHT * float(ctrl @ ctrl)
        forces = data.cfrc_ext.ravel()
        contact_cost = min(CONTACT_COST_WEIGHT * float(forces @ forces), CONTACT_COST_MAX)
        reward = forward - ctrl_cost - contact_cost + ALIVE_BONUS
        terminated = not self.is_healthy
        truncated = self._tick()
        info = {
            "x_position": float(data.qpos[0]),
            "y_position": float(data.qpos[1]),
            "x_velocity": float(com_velocity[0]),
            "y_velocity": float(com_velocity[1]),
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
            "reward_contact": -contact_cost,
            "reward_survive": ALIVE_BONUS,
            "angle": self.angle,
        }
        return self._get_obs(), reward, terminated, truncated, info


class HumanoidDir(TaskDistribution):
    """Humanoid running in a direction drawn U(0, 2 pi) (PEARL's Humanoid-Direc-2D)."""

    name = "humanoid-dir"
    version = 1
    episode_length = EPISODE_LENGTH

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        return [{"angle": float(t)} for t in rng.uniform(0.0, 2.0 * math.pi, size=n)]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return HumanoidDirEnv(task, self.episode_length, render_mode=render_mode)


register("humanoid-dir", HumanoidDir)
