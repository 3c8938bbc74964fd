"""The task-distribution API: what a user implements to plug a task family into nacre.

A *task* is a small JSON-serialisable mapping of parameters (``{"goal": [0.3, -0.5]}``,
``{"velocity": 1.2}``). A :class:`TaskDistribution` samples tasks from a numpy ``Generator`` it is
given (never from global state) and builds a Gymnasium environment for one task. The whole contract
(required and optional members, what nacre checks) is in docs/environments.md, "Your own task family".

Environment contract (checked by :func:`check_task_env`):

* ``step`` returns the *dense* reward, the one the critic learns from;
* if the family has a sparse reward, ``info["sparse_reward"]`` carries it on every step (the encoder
  context and the test returns use it when a run is configured with ``sparse_rewards=True``);
* ``info["success"]`` (optional) is true on a step where the agent has solved the task; an episode
  succeeds if it is true at any step (Meta-World's definition), and nacre logs success rates for every
  family whose environments report it;
* ``terminated`` means a true end (a fall) and ``truncated`` the time limit, which is
  :attr:`TaskDistribution.episode_length` steps.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
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
    split (for example the two directions of cheetah-dir, where train and test are the same tasks) or its
    own train and test sets (Meta-World). Everything else is optional and has a working default.
    """

    name: str = ""
    version: int = 1
    #: steps after which ``truncated`` is true; nacre's rollouts also stop there
    episode_length: int = 200
    #: whether environments of this family report ``info["sparse_reward"]``
    has_sparse_reward: bool = False
    #: whether the paper's train and test task sets are the same tasks
    test_equals_train: bool = False
    #: ``(n_train, n_test)`` the presets use for this family when they have no table of their own
    #: (``None``: the PEARL paper's 100 / 30)
    default_task_counts: tuple[int, int] | None = None

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

    # ------------------------------------------------------------------ optional: sharing environments
    def env_key(self, task: Task) -> Hashable | None:
        """Tasks with equal keys may share one environment, switched with :meth:`set_env_task`.

        ``None`` (the default) means "never share": nacre builds one environment per task with
        :meth:`make_env`. Meta-World returns the environment class, so one environment per class serves
        all of its tasks, however many there are.
        """
        return None

    def set_env_task(self, env: gym.Env, task: Task) -> None:
        """Switch an environment built by :meth:`make_env` for a task with the same :meth:`env_key` to
        ``task`` (nacre always resets it afterwards). Only called when :meth:`env_key` is not ``None``."""
        env.unwrapped.set_task(task)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ optional: reporting and presets
    def task_group(self, task: Task) -> str | None:
        """A label for per-group results (Meta-World: the environment class, so ML10 and ML45 report success
        per class); ``None``: no groups."""
        return None

    def preset_overrides(self, algorithm: str, preset: str) -> dict[str, Any]:
        """Config values the family wants in ``algorithm``'s ``preset`` (``paper``, ``fast``, ``quick``,
        ``tiny``), applied over the values nacre derives from :attr:`episode_length` and
        :attr:`default_task_counts`; the user's flags still win. Default: nothing."""
        return {}

    def describe(self) -> str:
        """One line for logs and ``nacre list``."""
        doc = (type(self).__doc__ or "").strip().splitlines()
        return f"{self.id}: {doc[0] if doc else type(self).__name__}"


def check_task_env(
    env: gym.Env | TaskDistribution,
    steps: int = 5,
    seed: int = 0,
    *,
    episode_length: int | None = None,
    n_train: int = 4,
    n_test: int = 2,
) -> None:
    """Raise ``ValueError`` if an environment or a whole distribution violates the contract above.

    Given an environment: spaces, finite rewards, and, with ``episode_length``, one full episode of random
    actions that is truncated on exactly that step (unless it terminates earlier). Given a
    :class:`TaskDistribution`: its split for ``seed`` (``n_train`` / ``n_test`` tasks, or the family's fixed
    sizes when it refuses those) holds plain-JSON tasks, train and test tasks are disjoint unless
    ``test_equals_train``, and an environment of the first train task passes the environment checks with the
    distribution's ``episode_length``.
    """
    if isinstance(env, TaskDistribution):
        _check_distribution(env, steps, seed, n_train, n_test)
        return
    obs, _ = env.reset(seed=seed)
    if not env.observation_space.contains(np.asarray(obs, dtype=env.observation_space.dtype)):
        raise ValueError("reset() returned an observation outside observation_space")
    if not isinstance(env.action_space, gym.spaces.Box):
        raise ValueError("nacre needs a continuous (Box) action space")
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        _check_step(reward, info)
        if terminated or truncated:
            env.reset()
    if episode_length is None:
        return
    env.reset(seed=seed)
    for t in range(1, episode_length + 1):
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        _check_step(reward, info)
        if terminated:
            return
        if truncated and t < episode_length:
            raise ValueError(f"the episode was truncated after {t} steps, but episode_length is {episode_length}")
    if not truncated:
        raise ValueError(f"the episode was not truncated after episode_length = {episode_length} steps: the "
                         "environment must end its episodes itself (truncated=True on that step)")  # fmt: skip


def _check_step(reward: Any, info: dict[str, Any]) -> None:
    if not np.isfinite(reward):
        raise ValueError("step() returned a non-finite reward")
    if "sparse_reward" in info and not np.isfinite(info["sparse_reward"]):
        raise ValueError("info['sparse_reward'] is not finite")


def _check_distribution(dist: TaskDistribution, steps: int, seed: int, n_train: int, n_test: int) -> None:
    try:
        split = dist.split(seed, n_train, n_test)
    except ValueError:
        counts = dist.default_task_counts
        if counts is None:
            raise
        split = dist.split(seed, *counts)
    if not split.train or not split.test:
        raise ValueError(f"{dist.id}: the split has {len(split.train)} train and {len(split.test)} test tasks")
    tasks_json_text(split.train, "train task")
    tasks_json_text(split.test, "test task")
    shared = held_out_tasks_in_train(split)
    if shared and not dist.test_equals_train:
        raise ValueError(f"{dist.id}: {len(shared)} test task(s) are also train tasks (e.g. {shared[0]}); "
                         "set test_equals_train = True if the benchmark means it")  # fmt: skip
    env = dist.make_env(split.train[0])
    try:
        check_task_env(env, steps, seed, episode_length=dist.episode_length)
    finally:
        env.close()


def held_out_tasks_in_train(split: TaskSplit) -> list[Task]:
    """The test tasks of ``split`` that are also train tasks (equal as plain JSON), in test order."""
    train = {json.dumps(task_to_json(t), sort_keys=True) for t in split.train}
    return [t for t in split.test if json.dumps(task_to_json(t), sort_keys=True) in train]


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


def tasks_json_text(tasks: Sequence[Task], what: str = "task") -> str:
    """The tasks as compact JSON text; ``ValueError`` naming the task if one is not plain JSON (a value JSON
    cannot hold, NaN or infinity, a key that is not a string) or does not survive a round trip unchanged."""
    out = []
    for i, task in enumerate(tasks):
        label = what if len(tasks) == 1 else f"{what} {i}"
        if not isinstance(task, Mapping):
            raise ValueError(f"{label} is a {type(task).__name__}, not a mapping of parameters: {task!r:.80}")
        if any(not isinstance(k, str) for k in task):
            raise ValueError(f"{label} has a key that is not a string: {list(task)!r:.80}")
        plain = task_to_json(task)
        try:
            text = json.dumps(plain, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{label} is not plain JSON ({exc}): {task!r:.120}") from None
        if json.loads(text) != plain:
            raise ValueError(f"{label} does not survive a JSON round trip unchanged: {task!r:.120}")
        out.append(text)
    return "[" + ",".join(out) + "]"


def split_to_json(split: TaskSplit) -> dict[str, list[dict[str, Any]]]:
    """``{"train": [...], "test": [...]}`` of plain-JSON tasks (``ValueError`` if a task is not JSON)."""
    tasks_json_text(split.train, "train task")
    tasks_json_text(split.test, "test task")
    return {"train": [task_to_json(t) for t in split.train], "test": [task_to_json(t) for t in split.test]}


def split_from_json(data: Any, source: str = "tasks.json") -> TaskSplit:
    """The :class:`TaskSplit` stored as ``{"train": [...], "test": [...]}``; ``ValueError`` if malformed."""
    if (
        not isinstance(data, Mapping)
        or not isinstance(data.get("train"), list)
        or not isinstance(data.get("test"), list)
    ):
        raise ValueError(f"{source} must hold an object with lists 'train' and 'test'")
    for part in ("train", "test"):
        tasks_json_text(data[part], f"{source}: {part} task")
    return TaskSplit(train=tuple(dict(t) for t in data["train"]), test=tuple(dict(t) for t in data["test"]))
