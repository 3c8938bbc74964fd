"""Offline PEARL, a baseline of the MACAW paper: PEARL trained from fixed per-task datasets.

Meta-training never steps an environment: each train task's buffer holds its whole offline dataset, and
the encoder's context and the RL batch are both drawn from it (there is no "recent data" to prefer
offline). The losses, gradient routing and optimisers are PEARL's (the PEARL reference losses). At meta-test the
context is ``eval_transitions`` transitions of the test task's offline data (256 in the paper); the
agent acts deterministically with z drawn from q(z | context). PEARL takes no test-time gradient steps,
so every column of the shared offline evaluator (:mod:`nacre.evaluation.offline_adaptation`) is the
same policy. The datasets' checksums are stored in checkpoints, so a run never resumes on changed data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nacre.algos.pearl.config import PearlConfig
from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.trainer import PearlTrainer
from nacre.buffers.context import make_context
from nacre.buffers.replay import MultiTaskReplayBuffer
from nacre.datasets.loader import OfflineTaskData, load_offline_tasks
from nacre.datasets.splits import DatasetSplit, check_same_data, dataset_split
from nacre.datasets.store import load_task_episodes
from nacre.envs.base import TaskSplit
from nacre.envs.registry import make_distribution
from nacre.evaluation.offline_adaptation import (
    OfflineAdaptationResult,
    offline_adaptation_curves,
    offline_eval_metrics,
)
from nacre.evaluation.success import with_success_labels
from nacre.types import Progress, Trajectory
from nacre.vector_rollout import BatchPolicyFn


class OfflinePearlAdapter:
    """q(z | k offline transitions) per task, one z draw per task, deterministic actions."""

    def __init__(self, learner: PearlLearner, gen: torch.Generator) -> None:
        self.learner, self.cfg, self.gen = learner, learner.cfg, gen

    @torch.no_grad()
    def adapted_policies(self, data: Sequence[dict[str, np.ndarray]], steps: Sequence[int]) -> Iterator[BatchPolicyFn]:
        key = "sparse_rewards" if self.cfg.sparse_rewards else "rewards"
        ctx = np.stack([make_context(d["obs"], d["actions"], d[key], d["next_obs"], self.cfg.use_next_obs_in_context)
                        for d in data])  # fmt: skip
        posterior = self.learner.infer_posterior(torch.from_numpy(ctx).to(self.learner.device))
        z = self.learner.sample_z(posterior, self.gen)
        policy = lambda obs, idx: self.learner.act(obs, z[torch.as_tensor(idx)], True, self.gen)
        for _ in steps:
            yield policy


class OfflinePearlTrainer(PearlTrainer):
    """A :class:`PearlTrainer` whose buffers are filled once from a dataset and never collect."""

    algorithm = "offline-pearl"

    def __init__(self, cfg: PearlConfig) -> None:
        data_split = dataset_split(cfg.dataset, make_distribution(cfg.env, **cfg.env_kwargs))
        # the dataset decides the tasks; the config's task counts follow it
        cfg = cfg.replace(n_train_tasks=len(data_split.train_indices), n_test_tasks=len(data_split.test_indices))
        self._data_split: DatasetSplit = data_split
        super().__init__(cfg)
        self.dataset_checksums = data_split.checksums
        episodes = [load_task_episodes(Path(cfg.dataset), i)[0] for i in data_split.train_indices]
        capacity = max(sum(len(t) for t in eps) for eps in episodes)
        self.rl_buffer = MultiTaskReplayBuffer(self.obs_dim, self.action_dim, capacity)
        for task, eps in enumerate(episodes):
            for traj in eps:
                self.rl_buffer.add_trajectory(task, traj)
        self.enc_buffer = self.rl_buffer  # offline, context comes from the same data as the RL batch
        self.test_data: list[OfflineTaskData] = load_offline_tasks(
            Path(cfg.dataset), list(data_split.test_indices), gamma=cfg.discount,
            expect_obs_dim=self.obs_dim, expect_action_dim=self.action_dim,
        )  # fmt: skip
        self._train_data: list[OfflineTaskData] | None = None

    def _task_split(self) -> TaskSplit:
        return self._data_split.split

    def _collect(self) -> dict[str, list[Trajectory]]:
        return {}

    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None,
    ) -> OfflineAdaptationResult:  # fmt: skip
        """Return after inferring z from ``num_transitions`` offline transitions of each task (no gradient steps)."""
        cfg = self.cfg
        if tasks == "test":
            task_list, datas = self.split.test, self.test_data
        else:
            if self._train_data is None:
                self._train_data = load_offline_tasks(Path(cfg.dataset), list(self._data_split.train_indices),
                                                      gamma=cfg.discount)  # fmt: skip
            task_list, datas = self.split.train, self._train_data
        rng = rng if rng is not None else self.seeds.eval
        gen = torch.Generator(device=self.learner.device)
        gen.manual_seed(int(rng.integers(0, 2**62)))
        result = offline_adaptation_curves(
            OfflinePearlAdapter(self.learner, gen), datas, task_list, self.distribution.make_env,
            num_runs or cfg.num_evals, num_transitions or cfg.eval_transitions, list(steps) if steps else [0],
            self.episode_length, rng, sparse=cfg.sparse_rewards,
            progress=progress,
        )  # fmt: skip
        return with_success_labels(result, self.reports_success, self.distribution, task_list)

    def eval_metrics(self, result: OfflineAdaptationResult) -> dict[str, float]:
        return offline_eval_metrics(result)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "dataset_checksums": self.dataset_checksums}

    def _buffer_state(self) -> dict[str, Any]:
        return {}  # the data is the dataset on disk, pinned by its checksums

    def _load_buffers(self, state: dict[str, Any]) -> None:
        check_same_data(state.get("dataset_checksums", {}), self.dataset_checksums)
