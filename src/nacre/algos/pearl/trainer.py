"""A PEARL run's full state (learner, buffers, RNGs, counters) and one meta-training iteration."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from nacre.algos.pearl.adapter import PearlAdapter
from nacre.algos.pearl.collect import PearlCollector
from nacre.algos.pearl.config import ConfigError, PearlConfig
from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.sampling import sample_context, sample_rl_batch
from nacre.buffers.replay import MultiTaskReplayBuffer
from nacre.envs.base import TaskSplit, split_to_json
from nacre.envs.pool import EnvPool, batches_by_key
from nacre.envs.registry import TaskDistributionError, make_distribution
from nacre.evaluation.adaptation import AdaptationResult, adaptation_curves
from nacre.evaluation.success import tasks_report_success
from nacre.seeding import SeedTree
from nacre.training.checkpoint import run_header
from nacre.training.errors import check_finite
from nacre.types import Progress, Trajectory


class PearlTrainer:
    """Everything a PEARL run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "pearl"
    #: a family whose tasks share environments (Meta-World: by class) steps at most this many tasks of one class
    #: side by side, in collection and in evaluation, so it holds that many environments per class, whatever the
    #: number of tasks per class
    envs_per_class = 1

    def __init__(self, cfg: PearlConfig, tasks: TaskSplit | None = None) -> None:
        """``tasks``: the run's stored train/test tasks (``tasks.json``), used instead of drawing them again."""
        if cfg.dataset and self.algorithm == "pearl":
            raise ConfigError("dataset is for offline PEARL: nacre train offline-pearl <id> --dataset ROOT")
        self.cfg = cfg
        self.distribution = make_distribution(cfg.env, **cfg.env_kwargs)
        self._stored_tasks = tasks
        self.split: TaskSplit = self._checked_split()
        self.episode_length = self.distribution.episode_length
        # tasks with equal env_key share environments (one per class for Meta-World), switched with set_task
        self.env_pool = EnvPool(self.distribution, cache_unkeyed=True)
        self.eval_pool = EnvPool(self.distribution, cache_unkeyed=False)
        self.shares_envs = self.distribution.env_key(self.split.train[0]) is not None
        probe = self.env_pool.envs([self.split.train[0]], ids=[0])[0]
        if not isinstance(probe.action_space, gym.spaces.Box):
            raise ValueError(f"{cfg.env} has a non-continuous action space; PEARL needs Box actions")
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.action_dim = int(np.prod(probe.action_space.shape))
        #: whether the environments report info["success"] (one probe step; every rollout resets first)
        self.reports_success = tasks_report_success(self.distribution, probe)
        self.seeds = SeedTree.from_seed(cfg.seed, cfg.device)
        self.learner = PearlLearner(cfg, self.obs_dim, self.action_dim, self.seeds.torch_init,
                                    self.seeds.torch_train)  # fmt: skip
        self.rl_buffer = MultiTaskReplayBuffer(self.obs_dim, self.action_dim, cfg.replay_buffer_size)
        self.enc_buffer = MultiTaskReplayBuffer(self.obs_dim, self.action_dim, cfg.replay_buffer_size)
        self.collector = PearlCollector(cfg, self.learner, self._train_env, self.rl_buffer, self.enc_buffer,
                                        self.episode_length, envs_for_tasks=self._train_envs,
                                        batches=self._train_batches)  # fmt: skip
        self.iteration = 0  # completed iterations
        self.env_steps = 0
        self.grad_steps = 0
        self.train_seconds = 0.0

    def _task_split(self) -> TaskSplit:
        """Train and test tasks: the stored ones when given, else a pure function of (distribution, seed, sizes)."""
        if self._stored_tasks is not None:
            return self._stored_tasks
        return self.distribution.split(self.cfg.seed, self.cfg.n_train_tasks, self.cfg.n_test_tasks)

    def _checked_split(self) -> TaskSplit:
        """:meth:`_task_split`, checked: the configured sizes and plain-JSON tasks (before any run directory
        exists, so a bad task never leaves a half-made run behind)."""
        try:
            split = self._task_split()
        except ValueError as exc:
            if isinstance(exc, TaskDistributionError):
                raise
            raise TaskDistributionError(f"{self.cfg.env}: {exc}") from None
        if (len(split.train), len(split.test)) != (self.cfg.n_train_tasks, self.cfg.n_test_tasks):
            source = "the stored tasks hold" if self._stored_tasks is not None else f"{self.cfg.env}'s split gave"
            raise TaskDistributionError(
                f"{source} {len(split.train)} train / {len(split.test)} test tasks, but the config asks for "
                f"n_train_tasks={self.cfg.n_train_tasks}, n_test_tasks={self.cfg.n_test_tasks}"
            )
        try:
            split_to_json(split)
        except ValueError as exc:
            raise TaskDistributionError(f"{self.distribution.id}: tasks must be plain JSON; {exc}") from None
        return split

    def _train_env(self, task: int) -> gym.Env:
        return self._train_envs([task])[0]

    def _train_batches(self, tasks: list[int]) -> list[list[int]]:
        """Positions in ``tasks`` stepped side by side: at most :attr:`envs_per_class` per shared environment."""
        return batches_by_key(self.distribution, [self.split.train[t] for t in tasks], self.envs_per_class)

    def _train_envs(self, tasks: list[int]) -> list[gym.Env]:
        """Distinct environments for these train tasks (shared through set_task where the family allows)."""
        return self.env_pool.envs([self.split.train[t] for t in tasks], ids=tasks)

    # ------------------------------------------------------------------ one iteration
    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        """Collect data (as the PEARL reference), take ``num_train_steps_per_itr`` gradient steps, return metrics."""
        cfg, seeds = self.cfg, self.seeds
        start = time.perf_counter()
        collected = self._collect()
        new_steps = sum(len(t) for trajs in collected.values() for t in trajs)
        self.env_steps += new_steps
        collect_seconds = time.perf_counter() - start

        train_start = time.perf_counter()
        step_metrics: list[dict[str, torch.Tensor]] = []
        device = self.learner.device
        # Distinct tasks when there are enough; the two-task paper presets (meta_batch 4) repeat tasks.
        with_replacement = cfg.meta_batch > cfg.n_train_tasks
        context_buffer = self.context_buffer()
        for _ in range(cfg.num_train_steps_per_itr):
            tasks = seeds.buffer.choice(cfg.n_train_tasks, size=cfg.meta_batch, replace=with_replacement)
            context = sample_context(context_buffer, tasks, cfg, seeds.buffer, device)
            batch = sample_rl_batch(self.rl_buffer, tasks, cfg.batch_size, seeds.buffer, device)
            step_metrics.append(self.learner.update(batch, context))
            self.grad_steps += 1
            if progress is not None:
                progress("grad_steps", 1)
        train_seconds = time.perf_counter() - train_start
        metrics = {k: torch.stack([m[k] for m in step_metrics]).mean().item() for k in step_metrics[0]}
        check_finite(metrics, self.learner.nets.named_parameters(), self.iteration + 1)

        sparse = cfg.sparse_rewards
        for phase in ("prior", "posterior", "extra"):
            if collected.get(phase):
                metrics[f"returns/train_{phase}"] = float(np.mean([t.episode_return(sparse) for t in collected[phase]]))
                if self.reports_success:
                    metrics[f"success/train_{phase}"] = float(np.mean([t.succeeded for t in collected[phase]]))
        self.iteration += 1
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics.update({
            "time/env_steps": self.env_steps, "time/grad_steps": self.grad_steps,
            "time/wall_clock": self.train_seconds,
            "time/grad_steps_per_second": cfg.num_train_steps_per_itr / train_seconds,
            "time/env_steps_per_second": new_steps / max(collect_seconds, 1e-9),
            "memory/replay_bytes": sum({id(b): b.nbytes() for b in (self.rl_buffer, self.enc_buffer)}.values()),
        })  # fmt: skip
        return metrics

    def context_buffer(self) -> MultiTaskReplayBuffer:
        """The buffer the gradient steps draw context from (``cfg.context_source``): the encoder buffer
        ("recent") or the RL buffer ("replay", the paper's ablation). Collection always uses the encoder buffer."""
        return self.rl_buffer if self.cfg.context_source == "replay" else self.enc_buffer

    def _collect(self) -> dict[str, list[Trajectory]]:
        """This iteration's data collection by phase (as the PEARL reference), already added to the buffers."""
        cfg, seeds = self.cfg, self.seeds
        collected: dict[str, list[Trajectory]] = {"initial": [], "prior": [], "posterior": [], "extra": []}
        if self.iteration == 0:
            collected["initial"] = self.collector.initial(list(range(cfg.n_train_tasks)), seeds.collect, seeds.buffer)
        sampled = [int(t) for t in seeds.collect.integers(cfg.n_train_tasks, size=cfg.num_tasks_sample)]
        for phase, trajs in self.collector.iteration(sampled, seeds.collect, seeds.buffer).items():
            collected[phase] += trajs
        return collected

    # ------------------------------------------------------------------ meta-test
    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_trajectories: int | None = None,
        rng: np.random.Generator | None = None, progress: Progress | None = None,
    ) -> AdaptationResult:  # fmt: skip
        """Adaptation curves on the ``test`` (or ``train``) tasks, the PEARL paper's meta-test protocol."""
        cfg = self.cfg
        task_list = self.split.test if tasks == "test" else self.split.train
        rng = rng if rng is not None else self.seeds.eval
        # z draws come from a generator seeded by the evaluation stream, never from the training one
        gen = torch.Generator(device=self.learner.device)
        gen.manual_seed(int(rng.integers(0, 2**62)))
        try:
            return adaptation_curves(
                PearlAdapter(self.learner, deterministic=True, gen=gen), task_list, self.distribution.make_env,
                num_runs or cfg.num_evals, num_trajectories or cfg.num_eval_trajectories, self.episode_length,
                rng, sparse=cfg.sparse_rewards,
                progress=progress,
                envs_for=self.eval_pool.envs,
                batches=lambda tasks: batches_by_key(self.distribution, tasks, self.envs_per_class),
                groups=[self.distribution.task_group(t) for t in task_list],
            )  # fmt: skip
        finally:
            self.eval_pool.close_unkeyed()

    def eval_metrics(self, result: AdaptationResult) -> dict[str, float]:
        """Scalars for the log: per-trajectory test returns, the paper's number, prior-only return; where the
        environments report ``info["success"]`` (or the family is sparse), the success rate per trajectory,
        ``success/test`` (the reported trajectory) and, for families with task groups (ML10 / ML45 classes),
        ``success/test_class/<group>``."""
        curve = result.returns.mean(axis=(0, 1))
        out = {f"returns/test_traj_{k + 1}": float(v) for k, v in enumerate(curve)}
        index = self.cfg.test_return_index
        out["returns/test"] = float(curve[index])
        out["returns/test_prior_only"] = float(curve[0])
        if self.reports_success or result.reports_success:
            success = result.success.mean(axis=(0, 1))
            out.update({f"success/test_traj_{k + 1}": float(v) for k, v in enumerate(success)})
            out["success/test"] = float(success[index])
            out.update({f"success/test_class/{g}": v for g, v in result.success_by_group(index).items()})
        return out

    def set_run_options(self, **changes: Any) -> None:
        """Change run-only settings (``cfg.run_only_fields``: device, budgets, logging) of a resumed run."""
        self.cfg = self.cfg.with_run_options(**changes)
        self.learner.cfg = self.collector.cfg = self.cfg

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            **run_header(self),
            "learner": self.learner.state_dict(),
            "buffers": self._buffer_state(),
            "rng": self.seeds.get_state(),
            "counters": {"iteration": self.iteration, "env_steps": self.env_steps,
                         "grad_steps": self.grad_steps, "train_seconds": self.train_seconds},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore a run; ``weights_only`` restores just the networks (enough for evaluation)."""
        self.learner.load_state_dict(state["learner"])
        c = state["counters"]
        self.iteration, self.env_steps = int(c["iteration"]), int(c["env_steps"])
        self.grad_steps, self.train_seconds = int(c["grad_steps"]), float(c["train_seconds"])
        if weights_only:
            return
        self._load_buffers(state)
        self.seeds.set_state(state["rng"])

    def _buffer_state(self) -> dict[str, Any]:
        return {"rl": self.rl_buffer.state_dict(), "encoder": self.enc_buffer.state_dict()}

    def _load_buffers(self, state: dict[str, Any]) -> None:
        self.rl_buffer.load_state_dict(state["buffers"]["rl"])
        self.enc_buffer.load_state_dict(state["buffers"]["encoder"])
