"""What every offline meta-RL run shares (MACAW, MT+FT): its data, split, evaluator and checkpointed state.

Training never steps an environment. The dataset's manifest fixes the train and test tasks
(:func:`nacre.datasets.splits.dataset_split`); the per-task checksums go into every checkpoint, so a run
never resumes on changed data. A subclass sets ``algorithm``, builds its learner in :meth:`build_learner`,
takes one gradient step in :meth:`train_step` and names its meta-test adapter in :meth:`adapter`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacre.datasets.loader import OfflineTaskData, load_offline_tasks
from nacre.datasets.splits import check_same_data, dataset_split
from nacre.envs.registry import make_distribution
from nacre.evaluation.offline_adaptation import (
    OfflineAdaptationResult,
    OfflineAdapter,
    offline_adaptation_curves,
    offline_eval_metrics,
)
from nacre.evaluation.success import tasks_report_success, with_success_labels
from nacre.seeding import SeedTree
from nacre.training.checkpoint import run_header
from nacre.training.errors import check_finite
from nacre.types import Progress


class OfflineTrainer:
    """Base of the offline trainers; the attributes and methods are the interface the loop and CLI use."""

    algorithm = ""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.distribution = make_distribution(cfg.env)
        data_split = dataset_split(cfg.dataset, self.distribution)
        self.split, self.dataset_checksums = data_split.split, data_split.checksums
        self.train_indices, self.test_indices = list(data_split.train_indices), list(data_split.test_indices)
        self.episode_length = self.distribution.episode_length
        probe = self.distribution.make_env(self.split.train[0])
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.action_dim = int(np.prod(probe.action_space.shape))
        #: whether the tasks report success (sparse goal or info["success"]): evaluations then log success rates
        self.reports_success = tasks_report_success(self.distribution, probe)
        probe.close()
        load = lambda idx, window: load_offline_tasks(
            Path(cfg.dataset), idx, gamma=cfg.discount, window=window,
            window_transitions=cfg.window_transitions or None,  # the distribution was checked by dataset_split
            expect_obs_dim=self.obs_dim, expect_action_dim=self.action_dim,
        )  # fmt: skip
        self.train_data: list[OfflineTaskData] = load(self.train_indices, cfg.data_window)
        self.test_data: list[OfflineTaskData] = load(self.test_indices, "all")
        self.seeds = SeedTree.from_seed(cfg.seed, cfg.device)
        self.learner = self.build_learner()
        self.iteration = 0
        self.env_steps = 0  # offline: training never steps an environment
        self.grad_steps = 0
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ what a subclass provides
    def build_learner(self) -> Any:
        raise NotImplementedError

    def train_step(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """One gradient (outer) step on batches drawn with ``rng``; detached metric tensors."""
        raise NotImplementedError

    def adapter(self) -> OfflineAdapter:
        raise NotImplementedError

    def learned_parameters(self) -> Iterable[tuple[str, torch.Tensor]]:
        """Named parameters checked for NaN/inf after each iteration."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        """``steps_per_iteration`` steps; returns their mean metrics."""
        start = time.perf_counter()
        step_metrics: list[dict[str, torch.Tensor]] = []
        for _ in range(self.cfg.steps_per_iteration):
            step_metrics.append(self.train_step(self.seeds.buffer))
            self.grad_steps += 1
            if progress is not None:
                progress("grad_steps", 1)
        metrics = {k: torch.stack([m[k] for m in step_metrics]).float().mean().item() for k in step_metrics[0]}
        check_finite(metrics, self.learned_parameters(), self.iteration + 1)
        self.iteration += 1
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics.update({
            "time/env_steps": 0, "time/grad_steps": self.grad_steps, "time/wall_clock": self.train_seconds,
            "time/grad_steps_per_second": self.cfg.steps_per_iteration / max(elapsed, 1e-9),
        })  # fmt: skip
        return metrics

    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None,
    ) -> OfflineAdaptationResult:  # fmt: skip
        """Return after adapting on ``num_transitions`` offline transitions of each ``test`` (or ``train``) task,
        for each number of test-time steps (default: 0 and ``eval_steps``)."""
        cfg = self.cfg
        task_list, datas = (self.split.test, self.test_data) if tasks == "test" else (self.split.train, self.train_data)
        steps = list(steps) if steps is not None else sorted({0, cfg.eval_steps})
        result = offline_adaptation_curves(
            self.adapter(), datas, task_list, self.distribution.make_env,
            num_runs or cfg.num_evals, num_transitions or cfg.eval_transitions, steps, self.episode_length,
            rng if rng is not None else self.seeds.eval,
            progress=progress,
        )  # fmt: skip
        return with_success_labels(result, self.reports_success, self.distribution, task_list)

    def eval_metrics(self, result: OfflineAdaptationResult) -> dict[str, float]:
        return offline_eval_metrics(result)

    def set_run_options(self, **changes: Any) -> None:
        """Change run-only settings (``cfg.run_only_fields``: device, budgets, logging) of a resumed run."""
        self.cfg = self.cfg.with_run_options(**changes)
        self.learner.cfg = self.cfg

    def state_dict(self) -> dict[str, Any]:
        return {
            **run_header(self),
            "dataset_checksums": self.dataset_checksums,
            "learner": self.learner.state_dict(),
            "rng": self.seeds.get_state(),
            "counters": {"iteration": self.iteration, "env_steps": 0, "grad_steps": self.grad_steps,
                         "train_seconds": self.train_seconds},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore a run; ``weights_only`` restores just the networks (enough for evaluation)."""
        if not weights_only:
            check_same_data(state.get("dataset_checksums", {}), self.dataset_checksums)
        self.learner.load_state_dict(state["learner"])
        c = state["counters"]
        self.iteration, self.grad_steps = int(c["iteration"]), int(c["grad_steps"])
        self.train_seconds = float(c["train_seconds"])
        if not weights_only:
            self.seeds.set_state(state["rng"])
