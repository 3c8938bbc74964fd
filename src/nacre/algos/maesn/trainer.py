"""A MAESN run: the on-policy run machinery (:class:`~nacre.algos.onpolicy.trainer.OnPolicyTrainer`: tasks, pools,
seeding, counters, checkpoints) with MAESN's iteration and meta-test.

One iteration: draw ``meta_batch`` train tasks; sample ``rollouts_per_task`` rollouts of each with ``z`` drawn per
rollout from the task's latent Gaussian; adapt the latents (inner step, :mod:`nacre.algos.maesn.learner`); sample
again with the adapted latents; one TRPO step on the policy, the sampled tasks' latents and the step sizes. During
meta-training both the inner and the outer step use the dense reward (MAESN's protocol; sparse only at meta-test).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from nacre.algos.maesn.adapter import LatentAdapter, sample_with_latents
from nacre.algos.maesn.config import MaesnConfig
from nacre.algos.maesn.learner import MaesnBatch, MaesnLearner, inner_step, make_batch
from nacre.algos.onpolicy.sampler import EnvPool
from nacre.algos.onpolicy.trainer import IterationStats, OnPolicyTrainer


class MaesnTrainer(OnPolicyTrainer):
    """Everything a MAESN run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "maesn"
    cfg: MaesnConfig

    def build_learner(self) -> MaesnLearner:
        return MaesnLearner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init)

    def sample_and_update(self, pool: EnvPool, chosen: np.ndarray) -> IterationStats:
        cfg = self.cfg
        learner = self.learner
        params = learner.policy.params()
        task_index = torch.as_tensor(chosen, dtype=torch.long, device=learner.device)
        with torch.no_grad():
            mu, log_sigma = learner.latents.mu[task_index].clone(), learner.latents.log_sigma[task_index].clone()
        sampling_seconds, steps, step_returns = 0.0, 0, []
        pre: list[MaesnBatch] = []
        for k in range(cfg.inner_steps + 1):
            t0 = time.perf_counter()
            rollouts, z = sample_with_latents(pool, params, mu, log_sigma, cfg.rollouts_per_task, self.horizon,
                                              self.seeds.collect, cfg.min_std, cfg.action_scale)  # fmt: skip
            sampling_seconds += time.perf_counter() - t0
            steps += rollouts.num_steps
            step_returns.append(float(rollouts.returns(False).mean()))
            batch = make_batch(rollouts, rollouts.rewards, z, mu, log_sigma, params, cfg)
            if k < cfg.inner_steps:
                pre.append(batch)
                mu, log_sigma = inner_step(mu, log_sigma, learner.latents.step_mu, learner.latents.step_log_sigma,
                                           batch, create_graph=False)  # fmt: skip
            else:
                post = batch
        t0 = time.perf_counter()
        metrics = learner.update(task_index, pre, post)
        optimization_seconds = time.perf_counter() - t0
        for k, value in enumerate(step_returns):
            metrics[f"returns/train_steps_{k}"] = value
        metrics["returns/train_pre"], metrics["returns/train_post"] = step_returns[0], step_returns[-1]
        metrics["returns/train_post_dense"] = step_returns[-1]
        metrics["policy/std"] = float(learner.policy.log_std.detach().exp().mean())
        return IterationStats(metrics, steps, sampling_seconds, optimization_seconds)

    def checked_parameters(self) -> Iterable[tuple[str, Any]]:
        return self.learner.named_parameters()  # the latents and step sizes too

    def adapter(self) -> LatentAdapter:
        """The meta-test adapter: latents from the prior, adapted with the meta-learned step sizes (the policy
        weights stay fixed)."""
        lat = self.learner.latents
        return LatentAdapter(self.learner.policy.params(), lat.step_mu, lat.step_log_sigma, self.cfg)

    def eval_envs_per_task(self, rollouts: int) -> int:
        return rollouts  # every rollout of a task at once, each with its own z
