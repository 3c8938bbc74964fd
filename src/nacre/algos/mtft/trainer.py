"""An MT + fine-tune run's full state (learner, offline data, RNGs, counters) and one training iteration.

Training never steps an environment. Each gradient step draws ``tasks_per_step`` train tasks and ``batch_size``
uniform rows of each task's offline data, appends each row's one-hot train-task id and takes one AWR step on the
pooled batch (:mod:`nacre.algos.mtft.learner`). Same data, split and evaluator as MACAW
(:class:`nacre.algos.macaw.trainer.MacawTrainer`): the dataset's manifest fixes the train and test tasks, its
checksums are stored in every checkpoint, and the meta-test fine-tunes on ``eval_transitions`` offline
transitions of each test task (:class:`nacre.algos.mtft.adapter.MtftOfflineAdapter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.mtft.adapter import MtftOfflineAdapter
from nacre.algos.mtft.config import MtftConfig
from nacre.algos.mtft.learner import MtftLearner
from nacre.datasets.loader import OfflineTaskData, load_offline_tasks, macaw_batch
from nacre.datasets.splits import dataset_split
from nacre.datasets.store import DatasetError
from nacre.envs.base import task_to_json
from nacre.envs.registry import make_distribution
from nacre.evaluation.offline_adaptation import (
    OfflineAdaptationResult,
    offline_adaptation_curves,
    offline_eval_metrics,
)
from nacre.seeding import SeedTree
from nacre.training.errors import check_finite

Progress = Callable[[str, int], None]


class MtftTrainer:
    """Everything an MT + fine-tune run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "mt-finetune"

    def __init__(self, cfg: MtftConfig) -> None:
        self.cfg = cfg
        self.distribution = make_distribution(cfg.env)
        data_split = dataset_split(cfg.dataset, self.distribution)
        self.split, self.dataset_checksums = data_split.split, data_split.checksums
        self.train_indices, self.test_indices = list(data_split.train_indices), list(data_split.test_indices)
        self.episode_length = self.distribution.episode_length
        probe = self.distribution.make_env(self.split.train[0])
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.action_dim = int(np.prod(probe.action_space.shape))
        probe.close()

        def load(idx: list[int], window: Any) -> list[OfflineTaskData]:
            return load_offline_tasks(
                Path(cfg.dataset), idx, gamma=cfg.discount, window=window,
                window_transitions=cfg.window_transitions or None,
                expect_obs_dim=self.obs_dim, expect_action_dim=self.action_dim,
            )  # fmt: skip

        self.train_data = load(self.train_indices, cfg.data_window)
        self.test_data = load(self.test_indices, "all")
        for data in (*self.train_data, *self.test_data):
            if len(data) == 0:
                raise DatasetError(f"task {data.task_index} has no transitions")
        self.seeds = SeedTree.from_seed(cfg.seed, cfg.device)
        # the one-hot id of a train task is its position in the manifest's train split
        self.learner = MtftLearner(cfg, self.obs_dim, self.action_dim, len(self.train_data), self.seeds.torch_init)
        self.iteration = 0
        self.env_steps = 0  # offline: training never steps an environment
        self.grad_steps = 0
        self.train_seconds = 0.0

    def sample_step(self, rng: np.random.Generator) -> tuple[MacawBatch, torch.Tensor]:
        """One step's batch ``[tasks_per_step, batch_size, ...]`` and the train-task ids ``[tasks_per_step]``."""
        cfg = self.cfg
        n = len(self.train_data)
        tasks = rng.choice(n, size=cfg.tasks_per_step, replace=cfg.tasks_per_step > n)
        datas = [self.train_data[t] for t in tasks]
        rows = [d.uniform_indices(rng, cfg.batch_size) for d in datas]
        device = self.learner.device
        return macaw_batch(datas, rows, device), torch.as_tensor(tasks, dtype=torch.long, device=device)

    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        """``steps_per_iteration`` gradient steps; returns their mean metrics."""
        start = time.perf_counter()
        step_metrics: list[dict[str, torch.Tensor]] = []
        for _ in range(self.cfg.steps_per_iteration):
            batch, task_ids = self.sample_step(self.seeds.buffer)
            step_metrics.append(self.learner.update(batch, task_ids))
            self.grad_steps += 1
            if progress is not None:
                progress("grad_steps", 1)
        metrics = {f"train/{k}": torch.stack([m[k] for m in step_metrics]).float().mean().item()
                   for k in step_metrics[0]}  # fmt: skip
        check_finite(metrics, self.learner.named_parameters(), self.iteration + 1)
        self.iteration += 1
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics.update({
            "time/env_steps": 0, "time/grad_steps": self.grad_steps, "time/wall_clock": self.train_seconds,
            "time/grad_steps_per_second": self.cfg.steps_per_iteration / max(elapsed, 1e-9),
        })  # fmt: skip
        return metrics

    # ------------------------------------------------------------------ meta-test
    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None,
    ) -> OfflineAdaptationResult:  # fmt: skip
        """Return after fine-tuning on ``num_transitions`` offline transitions of each ``test`` (or ``train``) task
        with the id zeroed, for each number of fine-tuning steps (default: 0 and ``eval_steps``)."""
        cfg = self.cfg
        task_list, datas = (self.split.test, self.test_data) if tasks == "test" else (self.split.train, self.train_data)
        steps = list(steps) if steps is not None else sorted({0, cfg.eval_steps})
        return offline_adaptation_curves(
            MtftOfflineAdapter(self.learner), datas, task_list, self.distribution.make_env,
            num_runs or cfg.num_evals, num_transitions or cfg.eval_transitions, steps, self.episode_length,
            rng if rng is not None else self.seeds.eval,
            progress=(lambda n: progress("eval_trajectories", n)) if progress else None,
        )  # fmt: skip

    def eval_metrics(self, result: OfflineAdaptationResult) -> dict[str, float]:
        """Scalars for the log: mean and median test return per number of fine-tuning steps."""
        return offline_eval_metrics(result)

    def set_run_options(self, **changes: Any) -> None:
        """Change run-only settings (``cfg.run_only_fields``: device, budgets, logging) of a resumed run."""
        bad = sorted(set(changes) - self.cfg.run_only_fields)
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot change in a running experiment")
        self.cfg = self.cfg.replace(**changes)
        self.learner.cfg = self.cfg

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "config": self.cfg.to_dict(),
            "distribution": self.distribution.id,
            "tasks": {"train": [task_to_json(t) for t in self.split.train],
                      "test": [task_to_json(t) for t in self.split.test]},
            "dataset_checksums": self.dataset_checksums,
            "learner": self.learner.state_dict(),
            "rng": self.seeds.get_state(),
            "counters": {"iteration": self.iteration, "env_steps": 0, "grad_steps": self.grad_steps,
                         "train_seconds": self.train_seconds},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore a run; ``weights_only`` restores just the networks (enough for evaluation)."""
        saved = state.get("dataset_checksums", {})
        if not weights_only and saved != self.dataset_checksums:
            changed = sorted(k for k in set(saved) | set(self.dataset_checksums)
                             if saved.get(k) != self.dataset_checksums.get(k))  # fmt: skip
            raise ValueError(f"the dataset changed since the checkpoint (tasks {', '.join(changed[:5])})")
        self.learner.load_state_dict(state["learner"])
        c = state["counters"]
        self.iteration, self.grad_steps = int(c["iteration"]), int(c["grad_steps"])
        self.train_seconds = float(c["train_seconds"])
        if not weights_only:
            self.seeds.set_state(state["rng"])
