"""Behaviour data for offline meta-RL: the lifetime replay data of SAC agents learning the tasks (as in MACAW).

Two behaviours:

* ``"per-task"`` (faithful to MACAW): a fresh SAC learns each task from scratch and *all* its transitions, from the
  first random action to the last, are that task's dataset. Tasks run one after another and each is written as
  soon as it finishes; a rerun of the same command skips the finished ones.
* ``"multi-task"`` (cheaper): one SAC conditioned on a one-hot task id collects from every task in lockstep (one
  batched policy call per step for all tasks); each task's dataset is that task's transitions over the shared
  agent's lifetime. The agent shares what it learns across tasks, so fewer gradient steps buy good behaviour
  on all of them, but the data of different tasks is no longer independent. All tasks are written at the end.

Both checkpoint the run in progress (agent, replay buffer, collected episodes, random state) atomically every
``checkpoint_every`` env steps under ``ROOT/.generate/``, so a killed run resumes where it stopped and produces
exactly the data an uninterrupted run would have. Every episode records its *behaviour step*: the agent's
gradient steps when the episode began. Everything is seeded from ``seed``: the same arguments give identical data.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from nacre.algos.sac import SACConfig, SACLearner, SACReplayBuffer
from nacre.datasets.store import DatasetError, finished_tasks, init_dataset_root, write_task_dataset
from nacre.envs.base import Task, TaskDistribution, task_to_json, tasks_json_text
from nacre.envs.registry import TaskDistributionError, make_distribution
from nacre.nn.precision import resolve_precision
from nacre.seeding import SeedTree, env_seed
from nacre.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nacre.types import Trajectory
from nacre.vector_rollout import _Recorder, to_env_action

Behaviour = Literal["per-task", "multi-task"]
#: ``progress(kind, n)``; kinds: ``"tasks_total"`` / ``"env_steps_total"`` (once, at the start: all tasks, and
#: the env steps still to run), ``"tasks_done"`` (tasks written or found finished), ``"env_steps"`` (steps run)
ProgressFn = Callable[[str, int], None]

#: train / test sizes for distributions without a fixed split (MACAW's Cheetah-Vel size: 40 tasks)
DEFAULT_N_TRAIN, DEFAULT_N_TEST = 35, 5
_CHECKPOINT_DIR = ".generate"


@dataclass(frozen=True)
class GenerateSettings:
    """What determines the data (recorded in the manifest; a resume must use the same)."""

    steps_per_task: int = 1_000_000
    behaviour: Behaviour = "per-task"
    seed: int = 0
    hidden_size: int = 256
    hidden_layers: int = 2
    batch_size: int = 256
    #: gradient steps per env step (fractions accumulate: 0.25 = one update every 4 env steps)
    updates_per_step: float = 1.0
    #: uniform random actions for this many env steps per task before the policy acts and learning starts
    random_steps: int = 10_000
    #: SAC replay capacity (transitions per agent; ``None``: keep every transition, the lifetime buffer)
    replay_capacity: int | None = None
    #: checkpoint the run in progress every this many env steps (0: never); not part of the data's identity
    checkpoint_every: int = 100_000
    #: where the SAC networks run (cpu, cuda[:N]); not part of the data's identity (results match per device)
    device: str = "cpu"
    #: SAC matmul precision: "fp32", "bf16", or "auto" (bf16 only where the hardware multiplies bf16 natively);
    #: the resolved value is part of the data's identity
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.behaviour not in ("per-task", "multi-task"):
            raise DatasetError(f"behaviour must be 'per-task' or 'multi-task', got {self.behaviour!r}")
        positive = {"steps_per_task": self.steps_per_task, "hidden_size": self.hidden_size,
                    "hidden_layers": self.hidden_layers, "batch_size": self.batch_size}  # fmt: skip
        for name, value in positive.items():
            if not isinstance(value, int) or value <= 0:
                raise DatasetError(f"{name} must be a positive integer, got {value!r}")
        if not self.updates_per_step >= 0 or not math.isfinite(self.updates_per_step):
            raise DatasetError(f"updates_per_step must be >= 0, got {self.updates_per_step!r}")
        if self.random_steps < 0 or self.checkpoint_every < 0:
            raise DatasetError("random_steps and checkpoint_every must be >= 0")
        if not isinstance(self.device, str) or not self.device.startswith(("cpu", "cuda", "mps")):
            raise DatasetError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise DatasetError(f"precision must be fp32, bf16 or auto, got {self.precision!r}")
        if self.replay_capacity is not None and self.replay_capacity <= 0:
            raise DatasetError(f"replay_capacity must be positive, got {self.replay_capacity}")

    def sac_config(self) -> SACConfig:
        """The SAC settings, with ``precision`` resolved for ``device`` (the SAC speed options at their defaults)."""
        return SACConfig(hidden_size=self.hidden_size, hidden_layers=self.hidden_layers, batch_size=self.batch_size,
                         precision=resolve_precision(self.precision, self.device))  # fmt: skip

    def identity(self) -> dict[str, Any]:
        """The settings that determine the data (everything but ``checkpoint_every`` and ``device``; the
        precision as resolved on this machine)."""
        out = asdict(self)
        del out["checkpoint_every"], out["device"], out["precision"]
        out["sac"] = self.sac_config().to_dict()
        return out


#: ``paper``: MACAW's data (per-task SAC, ~1M transitions per task). ``fast`` (the default): the same per-task SAC
#: lifetimes, 100,000 transitions per task at one gradient step per 4 env steps, sized for these 2-core CPUs
#: (docs/datasets.md has the measured cost). ``multi-task``: one task-conditioned SAC for all tasks (much cheaper,
#: but every task's data is shaped by the others, test tasks included). ``tiny``: seconds, for tests and smoke runs.
PRESETS: dict[str, GenerateSettings] = {
    "paper": GenerateSettings(steps_per_task=1_000_000, behaviour="per-task", hidden_size=256, hidden_layers=2,
                              batch_size=256, updates_per_step=1.0, random_steps=10_000, checkpoint_every=100_000,
                              precision="auto"),
    "fast": GenerateSettings(steps_per_task=100_000, behaviour="per-task", hidden_size=256, hidden_layers=2,
                             batch_size=256, updates_per_step=0.25, random_steps=5_000, checkpoint_every=20_000,
                             precision="auto"),
    "multi-task": GenerateSettings(steps_per_task=50_000, behaviour="multi-task", hidden_size=128, hidden_layers=2,
                                   batch_size=256, updates_per_step=0.25, random_steps=2_000,
                                   checkpoint_every=200_000, precision="auto"),
    "tiny": GenerateSettings(steps_per_task=200, behaviour="per-task", hidden_size=32, hidden_layers=1,
                             batch_size=32, updates_per_step=1.0, random_steps=40, checkpoint_every=0),
}  # fmt: skip


def preset(name: str, **overrides: Any) -> GenerateSettings:
    """A preset's settings with some fields replaced (``None`` values are ignored)."""
    if name not in PRESETS:
        raise DatasetError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    fields = GenerateSettings.__dataclass_fields__
    bad = sorted(set(overrides) - set(fields))
    if bad:
        raise DatasetError(f"unknown generation settings: {', '.join(bad)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


# ---------------------------------------------------------------------- tasks and splits
def resolve_tasks(
    dist: TaskDistribution, split_seed: int, n_train: int | None, n_test: int | None
) -> tuple[list[Task], dict[str, list[int]]]:
    """The tasks to generate data for and the manifest's splits (indices into them).

    Fixed task sets (MACAW's) keep their own task order and train / test indices; fixed splits whose test
    tasks are the train tasks (cheetah-dir) store each task once; sampled families draw ``n_train + n_test``
    tasks with ``dist.split(split_seed, ...)`` (default sizes :data:`DEFAULT_N_TRAIN` / :data:`DEFAULT_N_TEST`).
    """
    fixed = getattr(dist, "fixed_tasks", None)
    try:
        if fixed is not None:
            tasks = list(fixed())
            if hasattr(dist, "train_indices") and hasattr(dist, "test_indices"):
                train, test = [int(i) for i in dist.train_indices], [int(i) for i in dist.test_indices]
            else:
                train = test = list(range(len(tasks)))
            if n_train is not None or n_test is not None:  # let the distribution reject other sizes
                dist.split(split_seed, len(train) if n_train is None else n_train,
                           len(test) if n_test is None else n_test)  # fmt: skip
            return tasks, {"train": train, "test": test}
        n_train = DEFAULT_N_TRAIN if n_train is None else n_train
        n_test = DEFAULT_N_TEST if n_test is None else n_test
        if n_train < 0 or n_test < 0 or n_train + n_test == 0:
            raise DatasetError(f"need at least one task, got n_train={n_train}, n_test={n_test}")
        split = dist.split(split_seed, n_train, n_test)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{dist.id}: {exc}") from None
    if dist.test_equals_train and [task_to_json(t) for t in split.train] == [task_to_json(t) for t in split.test]:
        return list(split.train), {"train": list(range(n_train)), "test": list(range(n_train))}
    tasks = list(split.train) + list(split.test)
    return tasks, {"train": list(range(n_train)), "test": list(range(n_train, n_train + n_test))}


# ---------------------------------------------------------------------- one SAC lifetime over some tasks
def _episode_state(episodes: list[Trajectory]) -> dict[str, np.ndarray]:
    """Episodes concatenated field by field (compact in a checkpoint), with their lengths."""
    if not episodes:
        return {"lengths": np.zeros(0, dtype=np.int64)}
    out = {f: np.concatenate([getattr(e, f) for e in episodes]) for f in Trajectory._fields}
    out["lengths"] = np.asarray([len(e) for e in episodes], dtype=np.int64)
    return out


def _episodes_from_state(state: Mapping[str, np.ndarray]) -> list[Trajectory]:
    bounds = np.concatenate([[0], np.cumsum(state["lengths"])]).astype(int)
    return [Trajectory(**{f: state[f][a:b].copy() for f in Trajectory._fields})
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]  # fmt: skip


class SACLifetime:
    """One SAC agent learning ``tasks`` from scratch, recording every transition per task.

    ``conditioned``: the agent sees a one-hot task id (one agent for all tasks); the tasks' environments step in
    lockstep, one episode each per :meth:`run_round`, with one batched policy call per step.
    """

    def __init__(
        self, dist: TaskDistribution, tasks: Sequence[Task], settings: GenerateSettings, seed: int,
        conditioned: bool,
    ) -> None:  # fmt: skip
        self.dist, self.settings = dist, settings
        self.envs = [dist.make_env(t) for t in tasks]
        space = self.envs[0].action_space
        if not isinstance(space, gym.spaces.Box):
            raise DatasetError(f"{dist.id}: SAC needs a continuous (Box) action space")
        self.observation_space, self.action_space = self.envs[0].observation_space, space
        obs_dim, self.action_dim = int(np.prod(self.observation_space.shape)), int(np.prod(space.shape))
        self.seeds = SeedTree.from_seed(seed, settings.device)
        n = len(tasks)
        self.agent = SACLearner(settings.sac_config(), obs_dim, self.action_dim, num_tasks=n if conditioned else 0,
                                init_gen=self.seeds.torch_init, train_gen=self.seeds.torch_train,
                                device=settings.device)  # fmt: skip
        capacity = settings.replay_capacity or n * (settings.steps_per_task + dist.episode_length)
        self.buffer = SACReplayBuffer(obs_dim, self.action_dim, capacity)
        self.conditioned = conditioned
        self.episodes: list[list[Trajectory]] = [[] for _ in range(n)]
        self.behaviour_steps: list[list[int]] = [[] for _ in range(n)]
        self.steps = [0] * n
        self.credit = 0.0  # fractional gradient steps owed
        self.learning_starts = max(settings.batch_size, settings.random_steps * n)

    @property
    def done(self) -> bool:
        return all(s >= self.settings.steps_per_task for s in self.steps)

    @property
    def env_steps(self) -> int:
        return sum(self.steps)

    def run_round(self, on_steps: Callable[[int], None] | None = None) -> None:
        """One episode in every environment whose task still needs data (the last one may overshoot)."""
        s = self.settings
        active = [i for i, n in enumerate(self.steps) if n < s.steps_per_task]
        rng = self.seeds.collect
        obs: dict[int, np.ndarray] = {}
        for i in active:
            first, _ = self.envs[i].reset(seed=env_seed(rng))
            obs[i] = np.asarray(first, dtype=np.float32).reshape(-1)
            self.behaviour_steps[i].append(self.agent.grad_steps)
        records = {i: _Recorder() for i in active}
        max_steps = self.dist.episode_length
        for t in range(max_steps):
            if not active:
                break
            actions = {}
            learned = [i for i in active if self.steps[i] >= s.random_steps]
            for i in active:  # random actions drawn in env order: deterministic
                if self.steps[i] < s.random_steps:
                    actions[i] = rng.uniform(-1.0, 1.0, size=self.action_dim).astype(np.float32)
            if learned:
                batch = np.stack([obs[i] for i in learned])
                out = self.agent.act(batch, np.asarray(learned) if self.conditioned else None)
                actions.update(zip(learned, out.astype(np.float32), strict=True))
            still = []
            for i in active:
                env, a = self.envs[i], actions[i]
                next_obs, reward, terminated, truncated, info = env.step(
                    to_env_action(a.reshape(self.action_space.shape), self.action_space)
                )
                next_obs = np.asarray(next_obs, dtype=np.float32).reshape(-1)
                terminated, truncated = bool(terminated), bool(truncated) or t == max_steps - 1
                records[i].add(obs[i], a, float(reward), info, next_obs, terminated, truncated)
                self.buffer.add(obs[i], a, float(reward), next_obs, terminated, i)
                self.steps[i] += 1
                obs[i] = next_obs
                if not (terminated or truncated):
                    still.append(i)
            self._train(len(active))
            if on_steps is not None:
                on_steps(len(active))
            active = still
        for i, rec in records.items():
            self.episodes[i].append(rec.trajectory())

    def _train(self, new_steps: int) -> None:
        s = self.settings
        if len(self.buffer) < self.learning_starts:
            return
        self.credit += s.updates_per_step * new_steps
        while self.credit >= 1.0:
            self.agent.update(self.buffer.sample(self.seeds.buffer, s.batch_size))
            self.credit -= 1.0

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(),
            "buffer": self.buffer.state_dict(),
            "episodes": [_episode_state(e) for e in self.episodes],
            "behaviour_steps": [np.asarray(b, dtype=np.int64) for b in self.behaviour_steps],
            "steps": list(self.steps),
            "credit": self.credit,
            "rng": {"collect": self.seeds.collect.bit_generator.state, "buffer": self.seeds.buffer.bit_generator.state},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.buffer.load_state_dict(state["buffer"])
        self.episodes = [_episodes_from_state(e) for e in state["episodes"]]
        self.behaviour_steps = [[int(x) for x in b] for b in state["behaviour_steps"]]
        self.steps = [int(x) for x in state["steps"]]
        self.credit = float(state["credit"])
        self.seeds.collect.bit_generator.state = state["rng"]["collect"]
        self.seeds.buffer.bit_generator.state = state["rng"]["buffer"]

    def close(self) -> None:
        for env in self.envs:
            env.close()


# ---------------------------------------------------------------------- the entry point
def task_seed(seed: int, task_index: int) -> int:
    """The seed of task ``task_index``'s per-task SAC: independent of which other tasks run in the process."""
    return int(np.random.SeedSequence([seed, task_index]).generate_state(1, dtype=np.uint32)[0])


def generate_datasets(
    distribution_id: str, root: Path, *, split_seed: int = 0, n_train: int | None = None,
    n_test: int | None = None, settings: GenerateSettings | None = None, progress: ProgressFn | None = None,
    shard: tuple[int, int] | None = None, task_indices: Sequence[int] | None = None, **overrides: Any,
) -> Path:  # fmt: skip
    """Generate (or resume generating) every task's behaviour data into the dataset root ``root``.

    ``settings`` defaults to the ``paper`` preset; keyword ``overrides`` replace fields of it (``seed``,
    ``steps_per_task``, ``behaviour``, ``hidden_size``, ``hidden_layers``, ``batch_size``, ``updates_per_step``,
    ``random_steps``, ``replay_capacity``, ``checkpoint_every``). A rerun with the same arguments skips the
    finished tasks; different arguments on an existing root raise :class:`DatasetError`. Returns ``root``.

    ``shard=(k, n)`` (per-task behaviour only) generates only the tasks ``i`` with ``i % n == k``, so ``n``
    processes (or machines sharing the root) can each take one shard at the same time; the data of a task does not
    depend on which process made it.

    ``task_indices`` (per-task behaviour only) generates only those tasks (intersected with ``shard`` when both
    are given): one Ray task per index is how ``nacre dataset generate --ray`` spreads the work
    (:mod:`nacre.scale.generate`); an empty list only creates or checks the root and its manifest.
    """
    if shard is not None:
        k, n = shard
        if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
            raise DatasetError(f"shard must be K/N with 0 <= K < N, got {k}/{n}")
    settings = settings or PRESETS["paper"]
    if overrides:
        bad = sorted(set(overrides) - set(GenerateSettings.__dataclass_fields__))
        if bad:
            raise DatasetError(f"unknown generation settings: {', '.join(bad)}")
        settings = replace(settings, **overrides)
    root = Path(root)
    try:
        dist = make_distribution(distribution_id)
    except TaskDistributionError as exc:
        raise DatasetError(str(exc)) from None
    tasks, splits = resolve_tasks(dist, split_seed, n_train, n_test)
    try:  # before the root exists: a task the manifest cannot hold as JSON is named, nothing is written
        tasks_json_text(tasks)
    except ValueError as exc:
        raise DatasetError(f"{dist.id}: {exc}") from None
    config = {"generator": "nacre.datasets.generate", "distribution": dist.id, "split_seed": split_seed,
              **settings.identity()}  # fmt: skip
    init_dataset_root(root, distribution_id=dist.id, tasks=[task_to_json(t) for t in tasks], splits=splits,
                      config=config)  # fmt: skip
    report = progress or (lambda kind, n: None)
    done = finished_tasks(root)
    if shard is not None and settings.behaviour != "per-task":
        raise DatasetError("--shard needs per-task behaviour (one multi-task SAC cannot be split)")
    if task_indices is not None and settings.behaviour != "per-task":
        raise DatasetError("task_indices needs per-task behaviour (one multi-task SAC cannot be split)")
    mine: Sequence[int] = range(len(tasks)) if shard is None else range(shard[0], len(tasks), shard[1])
    if task_indices is not None:
        bad = [i for i in task_indices if not (isinstance(i, int) and 0 <= i < len(tasks))]
        if bad:
            raise DatasetError(f"task index {bad[0]!r} outside 0..{len(tasks) - 1} of {dist.id}")
        wanted = set(task_indices)
        mine = [i for i in mine if i in wanted]
    todo = [i for i in mine if i not in done]
    report("tasks_total", len(mine))
    report("tasks_done", len(mine) - len(todo))
    ckpt_dir = root / _CHECKPOINT_DIR
    if settings.behaviour == "per-task":
        report("env_steps_total", len(todo) * settings.steps_per_task)
        for i in todo:
            path = ckpt_dir / f"task_{i:05d}.pt"
            run = SACLifetime(dist, [tasks[i]], settings, task_seed(settings.seed, i), conditioned=False)
            _run(run, path, settings, report)
            _write(root, run, 0, i, dist, settings)
            report("tasks_done", 1)
            path.unlink(missing_ok=True)
            run.close()
    elif todo:
        report("env_steps_total", len(tasks) * settings.steps_per_task)
        path = ckpt_dir / "multi_task.pt"
        run = SACLifetime(dist, tasks, settings, settings.seed, conditioned=True)
        resumed_done = _run(run, path, settings, report)
        if settings.checkpoint_every and not resumed_done:  # a kill while writing then resumes from here
            save_checkpoint(path, {"lifetime": run.state_dict()})
        for i in todo:
            _write(root, run, i, i, dist, settings)
            report("tasks_done", 1)
        path.unlink(missing_ok=True)
        run.close()
    if finished_tasks(root) == set(range(len(tasks))):  # complete: drop checkpoints and leftover temporary files
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return root


def _run(run: SACLifetime, path: Path, settings: GenerateSettings, report: ProgressFn) -> bool:
    """Run ``run`` to the end, resuming from and checkpointing to ``path``; whether it resumed finished."""
    if path.is_file():
        try:
            run.load_state_dict(load_checkpoint(path)["lifetime"])
        except (CheckpointError, KeyError) as exc:
            raise DatasetError(f"cannot resume from {path}: {exc}; delete it to restart that part") from None
        report("env_steps", run.env_steps)
    resumed_done = run.done
    last = run.env_steps
    while not run.done:
        run.run_round(lambda n: report("env_steps", n))
        if settings.checkpoint_every and run.env_steps - last >= settings.checkpoint_every and not run.done:
            save_checkpoint(path, {"lifetime": run.state_dict()})
            last = run.env_steps
    return resumed_done


def _write(root: Path, run: SACLifetime, local: int, index: int, dist: TaskDistribution,
           settings: GenerateSettings) -> None:  # fmt: skip
    episodes = run.episodes[local]
    returns = [e.episode_return() for e in episodes]
    last = returns[-max(1, len(returns) // 10) :]
    metadata = {
        "algorithm": f"nacre SAC ({settings.behaviour})", "behaviour": settings.behaviour,
        "env_steps": run.steps[local],
        "agent_grad_steps": run.agent.grad_steps, "final_alpha": float(run.agent.alpha),
        "return_first_episode": returns[0], "return_last_tenth_mean": float(np.mean(last)),
        "distribution": dist.id,
    }  # fmt: skip
    write_task_dataset(root, index, episodes, run.behaviour_steps[local], run.observation_space, run.action_space,
                       metadata=metadata)  # fmt: skip
