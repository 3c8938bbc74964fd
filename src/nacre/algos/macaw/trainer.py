"""A MACAW run's full state (learner, offline data, RNGs, counters) and one meta-training iteration.

Meta-training never steps an environment. Each outer step draws ``tasks_per_step`` train tasks; per task,
D_tr is a contiguous slice of ``inner_batch_size`` rows of its offline data (as the reference) and D_ts
``outer_batch_size`` rows drawn uniformly (REFERENCE 2.2). The dataset's manifest fixes which tasks are
train and test; its checksums are stored in every checkpoint, so a run never resumes on changed data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacre.algos.macaw.adapter import MacawOfflineAdapter
from nacre.algos.macaw.config import MacawConfig
from nacre.algos.macaw.learner import MacawLearner
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



class MacawTrainer:
    """Everything a MACAW run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "macaw"

    def __init__(self, cfg: MacawConfig) -> None:
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
        load = lambda idx, window: load_offline_tasks(
            Path(cfg.dataset), idx, gamma=cfg.discount, window=window,
            window_transitions=cfg.window_transitions or None,  # the distribution was checked by dataset_split
            expect_obs_dim=self.obs_dim, expect_action_dim=self.action_dim,
        )  # fmt: skip
        self.train_data: list[OfflineTaskData] = load(self.train_indices, cfg.data_window)
        self.test_data: list[OfflineTaskData] = load(self.test_indices, "all")
        for data in self.train_data:
            if len(data) < cfg.inner_batch_size:
                raise DatasetError(
                    f"task {data.task_index} has {len(data)} transitions, fewer than inner_batch_size "
                    f"({cfg.inner_batch_size})"
                )
        self.seeds = SeedTree.from_seed(cfg.seed, cfg.device)
        self.learner = MacawLearner(cfg, self.obs_dim, self.action_dim, self.seeds.torch_init, self.seeds.torch_train)
        self.iteration = 0
        self.env_steps = 0  # offline: meta-training never steps an environment
        self.grad_steps = 0  # outer steps
        self.train_seconds = 0.0

    def sample_step(self, rng: np.random.Generator) -> tuple[Any, Any]:
        """(D_tr, D_ts) of one outer step, ``[tasks_per_step, B, ...]`` on the learner's device."""
        cfg = self.cfg
        n = len(self.train_data)
        tasks = rng.choice(n, size=cfg.tasks_per_step, replace=cfg.tasks_per_step > n)
        datas = [self.train_data[t] for t in tasks]
        tr = [d.contiguous_indices(rng, cfg.inner_batch_size) for d in datas]
        ts = [d.uniform_indices(rng, cfg.outer_batch_size) for d in datas]
        device = self.learner.device
        return macaw_batch(datas, tr, device), macaw_batch(datas, ts, device)

    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        """``steps_per_iteration`` outer steps; returns their mean metrics."""
        start = time.perf_counter()
        step_metrics: list[dict[str, torch.Tensor]] = []
        for _ in range(self.cfg.steps_per_iteration):
            batch_tr, batch_ts = self.sample_step(self.seeds.buffer)
            step_metrics.append(self.learner.update(batch_tr, batch_ts))
            self.grad_steps += 1
            if progress is not None:
                progress("grad_steps", 1)
        metrics = {k: torch.stack([m[k] for m in step_metrics]).float().mean().item() for k in step_metrics[0]}
        check_finite(metrics, self.learner.params.named_parameters(), self.iteration + 1)
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
        """Return after adapting on ``num_transitions`` offline transitions of each ``test`` (or ``train``) task,
        for each number of test-time steps (default: 0 and ``eval_steps``)."""
        cfg = self.cfg
        task_list, datas = (self.split.test, self.test_data) if tasks == "test" else (self.split.train, self.train_data)
        steps = list(steps) if steps is not None else sorted({0, cfg.eval_steps})
        return offline_adaptation_curves(
            MacawOfflineAdapter(self.learner), datas, task_list, self.distribution.make_env,
            num_runs or cfg.num_evals, num_transitions or cfg.eval_transitions, steps, self.episode_length,
            rng if rng is not None else self.seeds.eval,
            progress=(lambda n: progress("eval_trajectories", n)) if progress else None,
        )  # fmt: skip

    def eval_metrics(self, result: OfflineAdaptationResult) -> dict[str, float]:
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
