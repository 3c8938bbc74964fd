"""MACAW at meta-test time: the learned inner loop run on a test task's offline transitions (MACAW reference).

``n`` test-time steps are ``n`` inner steps on the same ``k`` transitions with the learned per-tensor
rates: ``n`` steps on V (MC regression), then ``n`` on the policy (AWR + lambda * advantage regression,
advantages from the adapted V). ``n = 1`` is the paper's protocol; ``n = 0`` is the un-adapted policy.
Steps beyond the meta-trained ``inner_steps`` are backtracked unless ``test_time_guard`` is off
(:func:`nacre.algos.macaw.inner.test_time_adapt`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from nacre.algos.macaw import inner
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.macaw.learner import MacawLearner
from nacre.algos.macaw.networks import materialise, policy_forward
from nacre.vector_rollout import BatchPolicyFn

_FIELDS = MacawBatch._fields


def stack_rows(rows: Sequence[dict[str, np.ndarray]], device: torch.device | str) -> MacawBatch:
    """``[T, k, ...]`` batch from one dict of ``k`` rows per task (the loader's ``rows`` output)."""
    return MacawBatch(*(torch.as_tensor(np.stack([r[f] for r in rows]), dtype=torch.float32, device=device)
                        for f in _FIELDS))  # fmt: skip


class MacawOfflineAdapter:
    """Adapts a :class:`MacawLearner` to each task's offline rows; see the module docstring."""

    def __init__(self, learner: MacawLearner) -> None:
        self.learner = learner

    def adapted_policies(self, data: Sequence[dict[str, np.ndarray]], steps: Sequence[int]) -> Iterator[BatchPolicyFn]:
        learner = self.learner
        cfg = learner.cfg
        batch = stack_rows(data, learner.device)
        counts = sorted({int(n) for n in steps if n > 0})
        adapted = {}
        if counts:
            guard_after = cfg.inner_steps if cfg.test_time_guard else max(counts)
            found = inner.test_time_adapt(cfg, learner.specs, learner.meta_params(), batch, counts, guard_after)
            adapted = dict(zip(counts, found, strict=True))
        for n in steps:
            if n == 0:
                shared = materialise(learner.specs.policy, learner.meta_params().policy)
                weights = {k: v.detach().expand(batch.tasks, *v.shape) for k, v in shared.items()}
            else:
                weights = adapted[int(n)].policy
            yield self._policy(weights)

    def _policy(self, weights: dict[str, torch.Tensor]) -> BatchPolicyFn:
        spec, device = self.learner.specs.policy, self.learner.device

        @torch.no_grad()
        def act(obs: np.ndarray, idx: np.ndarray) -> np.ndarray:
            index = torch.as_tensor(idx, device=device)
            eff = {k: v.index_select(0, index) for k, v in weights.items()}
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)[:, None]
            mean, _ = policy_forward(spec, eff, obs_t)
            return mean[:, 0].cpu().numpy()

        return act
