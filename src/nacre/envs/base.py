"""The task-distribution API: what a user implements to plug a task family into nacre.

A *task* is a small JSON-serialisable mapping of parameters (``{"goal": [0.3, -0.5]}``,
``{"velocity": 1.2}``). A :class:`TaskDistribution` samples tasks from a numpy ``Generator`` it is
given (never from global state) and builds a Gymnasium environment for one task.

Environment contract (checked by :func:`check_task_env`):

* ``step`` returns the *dense* reward, the one the critic learns from;
* if the family has a sparse reward, ``info["sparse_reward"]`` carries it on every step (the encoder
  context and the test returns use it when a run is configured with ``sparse_rewards=True``);
* ``info["success"]`` (optional) is a bool that says the agent reached the task's goal this step;
* ``terminated`` means a true end (a fall) and ``truncated`` the time limit, which is
  :attr:`TaskDistribution.episode_length` steps.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

Task = Mapping[str, Any]


@dataclass(frozen=True)
class TaskSplit:
    """Frozen train and test task sets of one distribution for one seed."""

    train: tuple[Task, ...]
    test: tuple[Task, ...]


def stable_hash(text: str) -> int:
    """A 32-bit integer derived from ``text`` that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


class TaskDistribution(ABC):
    """A versioned family of tasks.

    Subclasses set :attr:`name`, :attr:`version` and :attr:`episode_length` and implement
    :meth:`sample_tasks` and :meth:`make_env`. Override :meth:`split` when the benchmark has a fixed
    split (for example the two directions of cheetah-dir, where train and test are the same tasks).
    """

    name: str = ""
    version: int = 1
    episode_length: int = 200
    #: whether environments of this family report ``info["sparse_reward"]``
    has_sparse_reward: bool = False
    #: whether the paper's train and test task sets are the same tasks
    test_equals_train: bool = False

    @property
    def id(self) -> str:
        """Versioned identifier, e.g. ``"point-robot-v1"``."""
        return f"{self.name}-v{self.version}"

    @abstractmethod
    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        """Draw ``n`` tasks using only ``rng``."""

    @abstractmethod
    def make_env(self, task: Task) -> gym.Env:
        """Build an environment for ``task`` whose episodes last at most :attr:`episode_length` steps."""

    def split(self, seed: int, n_train: int, n_test: int) -> TaskSplit:
        """Train and test tasks as a pure function of (distribution id, seed, sizes)."""
        rng = np.random.default_rng([stable_hash(self.id), seed])
        tasks = self.sample_tasks(rng, n_train + n_test)
        return TaskSplit(train=tuple(tasks[:n_train]), test=tuple(tasks[n_train:]))

    def describe(self) -> str:
        """One line for logs and ``nacre list``."""
        doc = (type(self).__doc__ or "").strip().splitlines()
        return f"{self.id}: {doc[0] if doc else type(self).__name__}"


def check_task_env(env: gym.Env, steps: int = 5, seed: int = 0) -> None:
    """Raise ``ValueError`` if ``env`` violates the contract above (used by tests and plug-in authors)."""
    obs, _ = env.reset(seed=seed)
    if not env.observation_space.contains(np.asarray(obs, dtype=env.observation_space.dtype)):
        raise ValueError("reset() returned an observation outside observation_space")
    if not isinstance(env.action_space, gym.spaces.Box):
        raise ValueError("nacre needs a continuous (Box) action space")
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        if not np.isfinite(reward):
            raise ValueError("step() returned a non-finite reward")
        if "sparse_reward" in info and not np.isfinite(info["sparse_reward"]):
            raise ValueError("info['sparse_reward'] is not finite")
        if terminated or truncated:
            env.reset()


def task_to_json(task: Task) -> dict[str, Any]:
    """A plain-JSON copy of a task (numpy scalars and arrays become floats and lists)."""

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, Sequence) and not isinstance(value, str):
            return [convert(v) for v in value]
        return value

    return convert(task)
