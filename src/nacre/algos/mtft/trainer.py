"""An MT + fine-tune run: pooled offline batches with one-hot task ids, and the fine-tuning adapter.

Training never steps an environment. Each gradient step draws ``tasks_per_step`` train tasks and ``batch_size``
uniform rows of each task's offline data, appends each row's one-hot train-task id and takes one AWR step on the
pooled batch (:mod:`nacre.algos.mtft.learner`). Same data, split and evaluator as MACAW
(:class:`nacre.algos.macaw.trainer.MacawTrainer`): the dataset's manifest fixes the train and test tasks, its
checksums are stored in every checkpoint, and the meta-test fine-tunes on ``eval_transitions`` offline
transitions of each test task (:class:`nacre.algos.mtft.adapter.MtftOfflineAdapter`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.mtft.adapter import MtftOfflineAdapter
from nacre.algos.mtft.config import MtftConfig
from nacre.algos.mtft.learner import MtftLearner
from nacre.datasets.loader import macaw_batch
from nacre.datasets.store import DatasetError
from nacre.training.offline import OfflineTrainer


class MtftTrainer(OfflineTrainer):
    """Everything an MT + fine-tune run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "mt-finetune"
    cfg: MtftConfig

    def build_learner(self) -> MtftLearner:
        for data in (*self.train_data, *self.test_data):
            if len(data) == 0:
                raise DatasetError(f"task {data.task_index} has no transitions")
        # the one-hot id of a train task is its position in the manifest's train split
        return MtftLearner(self.cfg, self.obs_dim, self.action_dim, len(self.train_data), self.seeds.torch_init)

    def sample_step(self, rng: np.random.Generator) -> tuple[MacawBatch, torch.Tensor]:
        """One step's batch ``[tasks_per_step, batch_size, ...]`` and the train-task ids ``[tasks_per_step]``."""
        cfg = self.cfg
        n = len(self.train_data)
        tasks = rng.choice(n, size=cfg.tasks_per_step, replace=cfg.tasks_per_step > n)
        datas = [self.train_data[t] for t in tasks]
        rows = [d.uniform_indices(rng, cfg.batch_size, cfg.buffer_skip) for d in datas]
        device = self.learner.device
        return macaw_batch(datas, rows, device), torch.as_tensor(tasks, dtype=torch.long, device=device)

    def train_step(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        metrics = self.learner.update(*self.sample_step(rng))
        return {f"train/{k}": v for k, v in metrics.items()}

    def adapter(self) -> MtftOfflineAdapter:
        return MtftOfflineAdapter(self.learner)

    def learned_parameters(self) -> Iterable[tuple[str, torch.Tensor]]:
        return self.learner.named_parameters()
