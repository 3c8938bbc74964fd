"""A MACAW run: offline data, one outer step's batches, the meta-test adapter (the MACAW reference settings).

Meta-training never steps an environment. Each outer step draws ``tasks_per_step`` train tasks; per task,
D_tr is a contiguous slice of ``inner_batch_size`` rows of its offline data (as the reference) and D_ts
``outer_batch_size`` rows drawn uniformly. Data, split, evaluation and state are those of every offline run
(:class:`nacre.training.offline.OfflineTrainer`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from nacre.algos.macaw.adapter import MacawOfflineAdapter
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.macaw.config import MacawConfig
from nacre.algos.macaw.learner import MacawLearner
from nacre.datasets.loader import macaw_batch
from nacre.datasets.store import DatasetError
from nacre.training.offline import OfflineTrainer


class MacawTrainer(OfflineTrainer):
    """Everything a MACAW run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "macaw"
    cfg: MacawConfig

    def build_learner(self) -> MacawLearner:
        skip = self.cfg.inner_buffer_skip
        for data in self.train_data:
            if -(-len(data) // skip) < self.cfg.inner_batch_size:
                kept = f" ({-(-len(data) // skip)} after keeping every {skip}th)" if skip > 1 else ""
                raise DatasetError(
                    f"task {data.task_index} has {len(data)} transitions{kept}, fewer than inner_batch_size "
                    f"({self.cfg.inner_batch_size})"
                )
        return MacawLearner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init, self.seeds.torch_train)

    def sample_step(self, rng: np.random.Generator) -> tuple[MacawBatch, MacawBatch]:
        """(D_tr, D_ts) of one outer step, ``[tasks_per_step, B, ...]`` on the learner's device."""
        cfg = self.cfg
        n = len(self.train_data)
        tasks = rng.choice(n, size=cfg.tasks_per_step, replace=cfg.tasks_per_step > n)
        datas = [self.train_data[t] for t in tasks]
        tr = [d.contiguous_indices(rng, cfg.inner_batch_size, cfg.inner_buffer_skip) for d in datas]
        ts = [d.uniform_indices(rng, cfg.outer_batch_size, cfg.buffer_skip) for d in datas]
        device = self.learner.device
        return macaw_batch(datas, tr, device), macaw_batch(datas, ts, device)

    def train_step(self, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        return self.learner.update(*self.sample_step(rng))

    def adapter(self) -> MacawOfflineAdapter:
        return MacawOfflineAdapter(self.learner)

    def learned_parameters(self) -> Iterable[tuple[str, torch.Tensor]]:
        return self.learner.params.named_parameters()
