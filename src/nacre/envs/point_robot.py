"""2-D point-robot navigation (PEARL paper, the PEARL reference environments).

Dynamics: ``s' = s + clip(a, -0.1, 0.1)``; dense reward ``r = -||s' - goal||``; 20 steps.

* ``point-robot-v1``: goals uniform in ``[-1, 1]^2``, start uniform in ``[-1, 1]^2``.
* ``sparse-point-robot-v1``: start at the origin, goals evenly spaced on the upper half of the unit
  circle (angles in ``[0, pi]``); the sparse reward is ``1 - dist`` inside ``goal_radius`` (0.2 by
  default; the paper also uses 0.8) and 0 outside. The step reward stays dense (for the critic); the
  sparse one is in ``info["sparse_reward"]`` and ``info["success"]`` says the robot is inside the radius.
  The evenly spaced goals are assigned to train and test by a seeded permutation (the reference shuffles
  them with the global numpy seed), so test goals interleave with train goals.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from nacre.envs.base import Task, TaskDistribution, TaskSplit, stable_hash
from nacre.envs.registry import register

MAX_STEP = 0.1


class PointRobotEnv(gym.Env):
    """A point that moves by its (clipped) action towards a goal on the plane."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        goal: tuple[float, float],
        episode_length: int = 20,
        random_start: bool = True,
        goal_radius: float | None = None,
    ) -> None:
        self.goal = np.asarray(goal, dtype=np.float64)
        self.episode_length = episode_length
        self.random_start = random_start
        self.goal_radius = goal_radius
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-MAX_STEP, MAX_STEP, shape=(2,), dtype=np.float32)
        self._state = np.zeros(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if self.random_start:
            self._state = self.np_random.uniform(-1.0, 1.0, size=2)
        else:
            self._state = np.zeros(2)
        self._t = 0
        return self._state.astype(np.float32), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -MAX_STEP, MAX_STEP)
        self._state = self._state + action
        self._t += 1
        dist = float(np.linalg.norm(self._state - self.goal))
        reward = -dist
        info: dict[str, Any] = {"distance": dist}
        if self.goal_radius is not None:
            inside = dist <= self.goal_radius
            info["sparse_reward"] = 1.0 - dist if inside else 0.0
            info["success"] = inside
        truncated = self._t >= self.episode_length
        return self._state.astype(np.float32), reward, False, truncated, info


class PointRobot(TaskDistribution):
    """Dense 2-D point-robot navigation to goals uniform in [-1, 1]^2."""

    name = "point-robot"
    version = 1
    episode_length = 20

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        return [{"goal": [float(x), float(y)]} for x, y in rng.uniform(-1.0, 1.0, size=(n, 2))]

    def make_env(self, task: Task) -> gym.Env:
        return PointRobotEnv(tuple(task["goal"]), self.episode_length, random_start=True)


class SparsePointRobot(TaskDistribution):
    """Sparse-reward point-robot navigation to goals on the upper unit semicircle."""

    name = "sparse-point-robot"
    version = 1
    episode_length = 20
    has_sparse_reward = True

    def __init__(self, goal_radius: float = 0.2) -> None:
        if not goal_radius > 0:
            raise ValueError(f"goal_radius must be positive, got {goal_radius}")
        self.goal_radius = float(goal_radius)

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        angles = rng.uniform(0.0, math.pi, size=n)
        return [self._task(a) for a in angles]

    @staticmethod
    def _task(angle: float) -> Task:
        return {"goal": [math.cos(angle), math.sin(angle)], "angle": float(angle)}

    def split(self, seed: int, n_train: int, n_test: int) -> TaskSplit:
        """Evenly spaced goals (reference law), assigned to train/test by a seeded permutation."""
        angles = np.linspace(0.0, math.pi, num=n_train + n_test)
        order = np.random.default_rng([stable_hash(self.id), seed]).permutation(len(angles))
        tasks = [self._task(float(angles[i])) for i in order]
        return TaskSplit(train=tuple(tasks[:n_train]), test=tuple(tasks[n_train:]))

    def make_env(self, task: Task) -> gym.Env:
        return PointRobotEnv(tuple(task["goal"]), self.episode_length, random_start=False, goal_radius=self.goal_radius)


register("point-robot", PointRobot)
register("sparse-point-robot", SparsePointRobot)
