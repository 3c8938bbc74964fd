"""Half-Cheetah task families of the PEARL paper on Gymnasium's HalfCheetah-v5 (the PEARL reference environments).

* ``cheetah-vel-v1``: target velocity ``v_goal ~ U[0, 3]``; ``r = -|v_x - v_goal| - 0.05 * sum(a^2)``.
* ``cheetah-dir-v1`` (Half-Cheetah-Fwd-Back): ``d in {-1, +1}``; ``r = d * v_x - 0.05 * sum(a^2)``; the
  split is fixed: train and test are both directions.

``v_x = (qpos[0]_after - qpos[0]_before) / dt`` with ``dt = 0.05`` (timestep 0.01, frame_skip 5). No
termination; ``truncated`` at step 200. Observation (20 dims, like the reference):
``qpos[1:]`` (8) + ``qvel`` (9) + the world position of the torso body frame (3), which is what the
reference's ``get_body_com("torso")`` returned; it is computed exactly from the current ``qpos`` as
``body_pos[torso] + (qpos[0], 0, qpos[1])`` (root slide joints along x and z, hinge at the origin).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.spaces import Box
from gymnasium.utils import EzPickle

from nacre.envs.base import Task, TaskDistribution
from nacre.envs.mujoco._common import (
    EPISODE_LENGTH,
    FixedSplitMixin,
    TaskEnvMixin,
    as_float,
    quiet_settotalmass_warning,
    require,
)
from nacre.envs.registry import register

CTRL_COST_WEIGHT = 0.05


class _HalfCheetahTaskEnv(TaskEnvMixin, HalfCheetahEnv):
    """HalfCheetah-v5 with a 20-dim observation, a task reward and an internal 200-step time limit."""

    def __init__(self, task: Task, episode_length: int = EPISODE_LENGTH, render_mode: str | None = None):
        HalfCheetahEnv.__init__(self, render_mode=render_mode)
        EzPickle.__init__(self, task, episode_length, render_mode)
        self._init_task_env(episode_length)
        torso = self.model.body("torso").id
        self._torso_origin = np.array(self.model.body_pos[torso], dtype=np.float64)
        self.observation_space = Box(-np.inf, np.inf, shape=(20,), dtype=np.float64)
        self.observation_structure = {"skipped_qpos": 1, "qpos": 8, "qvel": 9, "torso_position": 3}
        self.set_task(task)

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        with quiet_settotalmass_warning():
            return super()._initialize_simulation()

    def torso_position(self) -> np.ndarray:
        """World position of the torso body frame for the current ``qpos`` (same as a fresh ``xpos``)."""
        qpos = self.data.qpos
        return self._torso_origin + np.array((qpos[0], 0.0, qpos[1]))

    def _get_obs(self) -> np.ndarray:
        qpos = self.data.qpos
        return np.concatenate((qpos[1:], self.data.qvel, self.torso_position()))

    def _forward_reward(self, x_velocity: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, action: Any):
        x_before = self.data.qpos[0]
        a = self._simulate(action)
        x_velocity = (self.data.qpos[0] - x_before) / self._dt
        forward = self._forward_reward(x_velocity)
        ctrl_cost = CTRL_COST_WEIGHT * float(a @ a)
        reward = forward - ctrl_cost
        truncated = self._tick()
        info = {
            "x_position": float(self.data.qpos[0]),
            "x_velocity": float(x_velocity),
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
            **self._task_info,
        }
        return self._get_obs(), reward, False, truncated, info


class HalfCheetahVelEnv(_HalfCheetahTaskEnv):
    """Run at a target velocity: ``r = -|v_x - velocity| - 0.05 * sum(a^2)``; task ``{"velocity": v}``."""

    def set_task(self, task: Task) -> None:
        self.goal_velocity = as_float(require(task, "velocity"), "velocity")
        self.task = {"velocity": self.goal_velocity}
        self._task_info = {"goal_velocity": self.goal_velocity}

    def _forward_reward(self, x_velocity: float) -> float:
        return -abs(float(x_velocity) - self.goal_velocity)


class HalfCheetahDirEnv(_HalfCheetahTaskEnv):
    """Run forward (+1) or backward (-1): ``r = d * v_x - 0.05 * sum(a^2)``; task ``{"direction": d}``."""

    def set_task(self, task: Task) -> None:
        direction = as_float(require(task, "direction"), "direction")
        if direction not in (-1.0, 1.0):
            raise ValueError(f"task['direction'] must be -1 or +1, got {direction}")
        self.direction = direction
        self.task = {"direction": int(direction)}
        self._task_info = {"direction": int(direction)}

    def _forward_reward(self, x_velocity: float) -> float:
        return self.direction * float(x_velocity)


class CheetahVel(TaskDistribution):
    """Half-Cheetah target velocity, v_goal ~ U[0, 3] (PEARL's Half-Cheetah-Vel)."""

    name = "cheetah-vel"
    version = 1
    episode_length = EPISODE_LENGTH

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        return [{"velocity": float(v)} for v in rng.uniform(0.0, 3.0, size=n)]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return HalfCheetahVelEnv(task, self.episode_length, render_mode=render_mode)


class CheetahDir(FixedSplitMixin, TaskDistribution):
    """Half-Cheetah forward/backward (PEARL's Half-Cheetah-Fwd-Back); train == test == both directions."""

    name = "cheetah-dir"
    version = 1
    episode_length = EPISODE_LENGTH
    test_equals_train = True

    def fixed_tasks(self) -> list[dict[str, Any]]:
        return [{"direction": -1}, {"direction": 1}]

    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        return HalfCheetahDirEnv(task, self.episode_length, render_mode=render_mode)


register("cheetah-vel", CheetahVel)
register("cheetah-dir", CheetahDir)
