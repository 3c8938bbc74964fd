"""Meta-World ML1, ML10 and ML45 as nacre task distributions (docs/metaworld.md).

Importing this module registers the ids and never imports ``metaworld``; the benchmark is imported (and its
MuJoCo checked) when tasks or environments are first asked for. Install it with nacre's extra, which pins the
combination that works: ``pip install -e ".[metaworld]"`` (metaworld 3.1.1 with mujoco 3.3.0).

* ``ml1-<env>-v3`` (one per Meta-World v3 environment, e.g. ``ml1-reach-v3``, ``ml1-push-v3``): one class, its
  50 train goal variations and 50 held-out test variations (``metaworld.ML1(env, seed)``: train tasks drawn
  with ``seed``, test tasks with ``seed + 1``).
* ``ml10-v3``: 10 train classes and 5 held-out test classes, 50 variations each (500 / 250 tasks).
* ``ml45-v3``: 45 train classes and 5 held-out test classes (2,250 / 250 tasks).

The version (``-v3``) is that of Meta-World's environments. A task is the data of a Meta-World ``Task`` as plain
JSON: ``{"env_name": "reach-v3", "rand_vec": [...], "partially_observable": true}``; ``rand_vec`` holds the
object and goal positions that Meta-World draws for the variation (6 to 9 numbers, exact float64 values), so the
stored task pins the whole MDP. Episodes last 500 steps (truncated on the 500th; never terminated), and an episode
succeeds if ``info["success"]`` is true at any step (Meta-World's definition). Train tasks come from the
benchmark's train set and test tasks from its test set only.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pickle
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np

from nacre.envs.base import Task, TaskDistribution, TaskSplit, stable_hash
from nacre.envs.registry import TaskDistributionError, register

#: Meta-World's episode length (``max_path_length``); stepping past it raises inside Meta-World
EPISODE_LENGTH = 500
#: the Meta-World environment version the ids name, and the version of every nacre Meta-World id
VERSION = 3
#: the tasks per class Meta-World draws for every benchmark (its ``_N_GOALS``)
TASKS_PER_CLASS = 50
INSTALL_HINT = 'pip install "nacre-rl[metaworld]" (from a checkout: pip install -e ".[metaworld]")'

#: every Meta-World v3 environment (metaworld 3.1.1's ``ALL_V3_ENVIRONMENTS``, in its order); each is an ML1 id
ML1_ENVS: tuple[str, ...] = (
    "assembly-v3", "basketball-v3", "bin-picking-v3", "box-close-v3", "button-press-topdown-v3",
    "button-press-topdown-wall-v3", "button-press-v3", "button-press-wall-v3", "coffee-button-v3",
    "coffee-pull-v3", "coffee-push-v3", "dial-turn-v3", "disassemble-v3", "door-close-v3", "door-lock-v3",
    "door-open-v3", "door-unlock-v3", "hand-insert-v3", "drawer-close-v3", "drawer-open-v3", "faucet-open-v3",
    "faucet-close-v3", "hammer-v3", "handle-press-side-v3", "handle-press-v3", "handle-pull-side-v3",
    "handle-pull-v3", "lever-pull-v3", "pick-place-wall-v3", "pick-out-of-hole-v3", "pick-place-v3",
    "plate-slide-v3", "plate-slide-side-v3", "plate-slide-back-v3", "plate-slide-back-side-v3",
    "peg-insert-side-v3", "peg-unplug-side-v3", "soccer-v3", "stick-push-v3", "stick-pull-v3", "push-v3",
    "push-wall-v3", "push-back-v3", "reach-v3", "reach-wall-v3", "shelf-place-v3", "sweep-into-v3", "sweep-v3",
    "window-open-v3", "window-close-v3",
)  # fmt: skip


def ml1_id(env_name: str) -> str:
    """``reach-v3`` -> ``ml1-reach-v3`` (the nacre id)."""
    return f"ml1-{env_name}"


# ---------------------------------------------------------------------- importing metaworld
def import_metaworld() -> Any:
    """The ``metaworld`` module, after checking that MuJoCo imports and is the version metaworld pins.

    Raises :class:`~nacre.envs.registry.TaskDistributionError` (one line, with the command that fixes it) when
    metaworld is missing, MuJoCo is broken, or MuJoCo is not metaworld's version.
    """
    from nacre.envs.mujoco_install import check_metaworld_mujoco, import_mujoco, required_mujoco

    try:
        mujoco = import_mujoco()
    except ModuleNotFoundError:
        raise TaskDistributionError(f"Meta-World needs MuJoCo, which is not installed: {INSTALL_HINT}") from None
    try:
        importlib.metadata.version("metaworld")  # installed (a directory named metaworld on sys.path is not)
        check_metaworld_mujoco(str(mujoco.__version__), required_mujoco())
        module = importlib.import_module("metaworld")
    except importlib.metadata.PackageNotFoundError:
        raise TaskDistributionError(f"Meta-World is not installed: {INSTALL_HINT}") from None
    except ModuleNotFoundError as exc:
        if exc.name != "metaworld":
            raise
        raise TaskDistributionError(f"Meta-World is not installed: {INSTALL_HINT}") from None
    if not hasattr(module, "ML1"):
        found = getattr(module, "__path__", module)
        raise TaskDistributionError(
            f"'import metaworld' found {found!r}, not Meta-World: a directory named metaworld "
            f"shadows it, or it is not installed ({INSTALL_HINT})"
        )
    return module


# ---------------------------------------------------------------------- tasks <-> Meta-World Task objects
def task_from_metaworld(mw_task: Any) -> dict[str, Any]:
    """A Meta-World ``Task`` (``env_name`` + pickled data) as plain JSON: ``env_name`` and every data field but
    the environment class (``rand_vec`` as a list of floats)."""
    data = pickle.loads(mw_task.data)  # metaworld's own pickle, produced in this process by metaworld
    out: dict[str, Any] = {"env_name": str(mw_task.env_name)}
    for key, value in data.items():
        if key == "env_cls":
            continue
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64).tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _check_task(task: Task) -> tuple[str, np.ndarray]:
    if not isinstance(task, Mapping) or "env_name" not in task or "rand_vec" not in task:
        raise ValueError(f"a Meta-World task is a mapping with 'env_name' and 'rand_vec', got {task!r:.120}")
    name = task["env_name"]
    if name not in ML1_ENVS:
        raise ValueError(f"unknown Meta-World environment {name!r} in task (known: the v3 environments)")
    try:
        rand_vec = np.asarray(task["rand_vec"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"task['rand_vec'] must be a list of numbers, got {task['rand_vec']!r:.80}") from None
    if rand_vec.ndim != 1 or not np.all(np.isfinite(rand_vec)):
        raise ValueError(f"task['rand_vec'] must be a flat list of finite numbers, got {task['rand_vec']!r:.80}")
    return name, rand_vec


def task_to_metaworld(task: Task, env_cls: type) -> Any:
    """The Meta-World ``Task`` for a nacre task (the data pickled here, by us, for ``env.set_task``)."""
    metaworld = import_metaworld()
    name, rand_vec = _check_task(task)
    data = {k: v for k, v in task.items() if k not in ("env_name", "rand_vec")}
    data.setdefault("partially_observable", True)
    data.update(rand_vec=rand_vec, env_cls=env_cls)
    return metaworld.Task(env_name=name, data=pickle.dumps(data))


def _env_class(env_name: str) -> type:
    metaworld = import_metaworld()
    return metaworld.env_dict.ALL_V3_ENVIRONMENTS[env_name]


class MetaWorldTaskEnv(gym.Wrapper):
    """A Meta-World environment that takes nacre's JSON tasks: ``set_task(task)`` switches it to another task of
    the same class (then ``reset``), ``get_task()`` returns the current one. ``info["success"]`` is a bool."""

    def __init__(self, env: gym.Env, task: Task, episode_length: int = EPISODE_LENGTH) -> None:
        super().__init__(env)
        self.env_name = _check_task(task)[0]
        self.episode_length = int(episode_length)
        env.unwrapped.max_path_length = self.episode_length  # type: ignore[attr-defined]
        self._task: dict[str, Any] = {}
        self.set_task(task)

    def set_task(self, task: Task) -> None:
        name, _ = _check_task(task)
        if name != self.env_name:
            raise ValueError(f"this environment is a {self.env_name} environment; it cannot take a {name} task "
                             "(Meta-World environments switch only between tasks of their class)")  # fmt: skip
        self.env.unwrapped.set_task(task_to_metaworld(task, type(self.env.unwrapped)))  # type: ignore[attr-defined]
        self._task = dict(task)

    def get_task(self) -> dict[str, Any]:
        return dict(self._task)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["success"] = bool(info.get("success", False))
        return obs, float(reward), bool(terminated), bool(truncated), info


# ---------------------------------------------------------------------- the benchmarks, built once per seed
#: (benchmark, seed) -> (train tasks, test tasks) as JSON, so a process builds each benchmark once
_CACHE: dict[tuple[str, int], tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]] = {}


def benchmark_tasks(benchmark: str, seed: int) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """Meta-World's own (train, test) tasks of ``benchmark`` (``"ML10"``, ``"ML45"`` or an ML1 environment
    name) for ``seed``, as JSON tasks in Meta-World's order (class by class). Built once per process."""
    key = (benchmark, int(seed))
    if key not in _CACHE:
        metaworld = import_metaworld()
        built = (metaworld.ML1(benchmark, seed=int(seed)) if benchmark in ML1_ENVS
                 else getattr(metaworld, benchmark)(seed=int(seed)))  # fmt: skip
        _CACHE[key] = (tuple(task_from_metaworld(t) for t in built.train_tasks),
                       tuple(task_from_metaworld(t) for t in built.test_tasks))  # fmt: skip
    train, test = _CACHE[key]
    return tuple(dict(t) for t in train), tuple(dict(t) for t in test)


def _balanced_subset(tasks: Sequence[dict[str, Any]], n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n`` of ``tasks`` spread evenly over their classes (seeded), in the pool's order; all if ``n`` is all."""
    if n == len(tasks):
        return list(tasks)
    classes: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        classes.setdefault(t["env_name"], []).append(i)
    names = list(classes)
    base, extra = divmod(n, len(names))
    lucky = set(rng.permutation(len(names))[:extra].tolist())
    chosen: list[int] = []
    for c, name in enumerate(names):
        take = base + (1 if c in lucky else 0)
        chosen += sorted(rng.permutation(classes[name])[:take].tolist())
    return [tasks[i] for i in sorted(chosen)]


class MetaWorldBenchmark(TaskDistribution):
    """Meta-World benchmark (train tasks from its train set, test tasks from its test set)."""

    version = VERSION
    episode_length = EPISODE_LENGTH
    has_sparse_reward = False
    test_equals_train = False

    def __init__(self, benchmark: str, name: str, benchmark_seed: int | None = None,
                 episode_length: int = EPISODE_LENGTH, reward_function_version: str = "v2") -> None:  # fmt: skip
        """``benchmark``: ``"ML10"``, ``"ML45"`` or an ML1 environment name. ``benchmark_seed``: the seed of
        Meta-World's task draw (``None``: the run's seed). ``episode_length``: at most 500 (Meta-World's; shorter
        episodes are not the benchmark). ``reward_function_version``: Meta-World's ``"v2"`` (default) or ``"v1"``."""
        if not 1 <= int(episode_length) <= EPISODE_LENGTH:
            raise ValueError(f"episode_length must be in 1..{EPISODE_LENGTH} (Meta-World's), got {episode_length}")
        if reward_function_version not in ("v1", "v2"):
            raise ValueError(f"reward_function_version must be 'v1' or 'v2', got {reward_function_version!r}")
        if benchmark_seed is not None and (isinstance(benchmark_seed, bool) or not isinstance(benchmark_seed, int)):
            raise ValueError(f"benchmark_seed must be an integer or null, got {benchmark_seed!r}")
        self.benchmark = benchmark
        self.name = name
        self.benchmark_seed = benchmark_seed
        self.episode_length = int(episode_length)
        self.reward_function_version = reward_function_version
        classes = 1 if benchmark in ML1_ENVS else {"ML10": (10, 5), "ML45": (45, 5)}[benchmark]
        train_classes, test_classes = (1, 1) if classes == 1 else classes
        self.default_task_counts = (TASKS_PER_CLASS * train_classes, TASKS_PER_CLASS * test_classes)

    def describe(self) -> str:
        n_train, n_test = self.default_task_counts  # type: ignore[misc]
        what = f"Meta-World ML1 {self.benchmark}" if self.benchmark in ML1_ENVS else f"Meta-World {self.benchmark}"
        return f"{self.id}: {what} ({n_train} train / {n_test} test tasks, {self.episode_length}-step episodes)"

    # ------------------------------------------------------------------ tasks
    def _seed(self, seed: int) -> int:
        return int(seed if self.benchmark_seed is None else self.benchmark_seed)

    def split(self, seed: int, n_train: int, n_test: int) -> TaskSplit:
        """Meta-World's train and test sets for ``seed`` (or ``benchmark_seed``); fewer tasks than a set holds
        gives a seeded subset spread evenly over its classes; more raises ``ValueError``."""
        train, test = benchmark_tasks(self.benchmark, self._seed(seed))
        for what, n, pool in (("n_train_tasks", n_train, train), ("n_test_tasks", n_test, test)):
            if not 1 <= n <= len(pool):
                raise ValueError(
                    f"{what} must be in 1..{len(pool)} (Meta-World's "
                    f"{'train' if pool is train else 'test'} set holds {len(pool)} tasks), got {n}"
                )
        rng = np.random.default_rng([stable_hash(self.id), int(seed)])
        return TaskSplit(train=tuple(_balanced_subset(train, n_train, rng)),
                         test=tuple(_balanced_subset(test, n_test, rng)))  # fmt: skip

    def sample_tasks(self, rng: np.random.Generator, n: int) -> list[Task]:
        """``n`` train tasks drawn uniformly with ``rng`` from the train set of ``benchmark_seed`` (or 0)."""
        train, _ = benchmark_tasks(self.benchmark, self._seed(0))
        return [dict(train[int(i)]) for i in rng.integers(len(train), size=n)]

    # ------------------------------------------------------------------ environments
    def make_env(self, task: Task, render_mode: str | None = None) -> gym.Env:
        name, _ = _check_task(task)
        kwargs: dict[str, Any] = {"reward_function_version": self.reward_function_version}
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        env = _env_class(name)(**kwargs)
        return MetaWorldTaskEnv(env, task, self.episode_length)

    def env_key(self, task: Task) -> str:
        """One environment per class serves all of the class's tasks."""
        return str(task["env_name"])

    def set_env_task(self, env: gym.Env, task: Task) -> None:
        env.set_task(task)  # type: ignore[attr-defined]

    def task_group(self, task: Task) -> str:
        return str(task["env_name"])


def _register() -> None:
    for env_name in ML1_ENVS:
        head = env_name[: -len(f"-v{VERSION}")]
        register(f"ml1-{head}", partial(MetaWorldBenchmark, env_name, f"ml1-{head}"), VERSION)
    register("ml10", partial(MetaWorldBenchmark, "ML10", "ml10"), VERSION)
    register("ml45", partial(MetaWorldBenchmark, "ML45", "ml45"), VERSION)


_register()

__all__ = ["EPISODE_LENGTH", "ML1_ENVS", "MetaWorldBenchmark", "MetaWorldTaskEnv", "benchmark_tasks",
           "import_metaworld", "ml1_id"]  # fmt: skip
