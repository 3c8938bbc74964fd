"""MT + fine-tune at meta-test time (the MACAW paper's baselines): the task id input is zeroed and ``n`` Adam steps
(policy lr 1e-3, value lr 1e-4) of the training losses run on the test task's ``k`` offline transitions.

Each task is tuned on its own copy of the trained networks (with fresh optimisers), so the trained weights never
change; the policy is snapshotted after every requested step count (``n = 0``: the trained policy with the zero
id). Acting is deterministic: the tanh mean.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from nacre.algos.macaw.adapter import stack_rows
from nacre.algos.mtft.learner import MtftLearner
from nacre.vector_rollout import BatchPolicyFn


class MtftOfflineAdapter:
    """Fine-tunes an :class:`MtftLearner` on each task's offline rows; see the module docstring."""

    def __init__(self, learner: MtftLearner) -> None:
        self.learner = learner

    def adapted_policies(self, data: Sequence[dict[str, np.ndarray]], steps: Sequence[int]) -> Iterator[BatchPolicyFn]:
        steps = [int(n) for n in steps]
        per_task = [self.learner.finetune(stack_rows([rows], self.learner.device), steps) for rows in data]
        for n in steps:
            yield self._policy([tuned[n] for tuned in per_task])

    def _policy(self, weights: list[dict[str, torch.Tensor]]) -> BatchPolicyFn:
        learner = self.learner

        def act(obs: np.ndarray, idx: np.ndarray) -> np.ndarray:
            idx = np.asarray(idx)
            out = np.zeros((len(idx), learner.action_dim), dtype=np.float32)
            for task in np.unique(idx):
                rows = idx == task
                out[rows] = learner.act(obs[rows], params=weights[int(task)]).cpu().numpy()
            return out

        return act
