"""A MAESN run: the on-policy run machinery (:class:`~nacre.algos.onpolicy.trainer.OnPolicyTrainer`: tasks, pools,
seeding, counters, checkpoints) with MAESN's iteration and meta-test.

One iteration: draw ``meta_batch`` train tasks; sample ``rollouts_per_task`` rollouts of each with ``z`` drawn per
rollout from the task's latent Gaussian; adapt the latents (inner step, :mod:`nacre.algos.maesn.learner`); sample
again with the adapted latents; one TRPO step on the policy, the sampled tasks' latents and the step sizes. During
meta-training both the inner and the outer step use the dense reward (MAESN's protocol; sparse only at meta-test).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from nacre.algos.maesn.adapter import maesn_meta_test, sample_with_latents
from nacre.algos.maesn.config import MaesnConfig
from nacre.algos.maesn.learner import MaesnBatch, MaesnLearner, inner_step, make_batch
from nacre.algos.onpolicy.meta_test import OnPolicyAdaptationResult
from nacre.algos.onpolicy.sampler import EnvPool
from nacre.algos.onpolicy.trainer import OnPolicyTrainer
from nacre.training.errors import check_finite
from nacre.types import Progress


class MaesnTrainer(OnPolicyTrainer):
    """Everything a MAESN run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "maesn"
    cfg: MaesnConfig

    def build_learner(self) -> MaesnLearner:
        return MaesnLearner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init)

    def _train_pool(self, tasks: Sequence[Any]) -> EnvPool:
        if self._pool is None:
            self._pool = EnvPool(self.distribution.make_env, tasks, self.cfg.rollouts_per_task, self._switch)
        else:
            self._pool.set_tasks(tasks)
        return self._pool

    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        cfg = self.cfg
        start = time.perf_counter()
        chosen = self.seeds.collect.choice(len(self.split.train), size=cfg.meta_batch,
                                           replace=cfg.meta_batch > len(self.split.train))  # fmt: skip
        pool = self._train_pool([self.split.train[int(i)] for i in chosen])
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
                                              self.seeds.collect, cfg)  # fmt: skip
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
        self.grad_steps += 1
        if progress is not None:
            progress("grad_steps", 1)
        for k, value in enumerate(step_returns):
            metrics[f"returns/train_steps_{k}"] = value
        metrics["returns/train_pre"], metrics["returns/train_post"] = step_returns[0], step_returns[-1]
        metrics["returns/train_post_dense"] = step_returns[-1]
        metrics["policy/std"] = float(learner.policy.log_std.detach().exp().mean())
        check_finite(metrics, learner.named_parameters(), self.iteration + 1)
        self.iteration += 1
        self.env_steps += steps
        self.train_seconds += time.perf_counter() - start
        metrics.update({
            "time/env_steps": self.env_steps, "time/grad_steps": self.grad_steps, "time/wall_clock": self.train_seconds,
            "time/env_steps_per_second": steps / max(sampling_seconds, 1e-9),
            "time/sampling_seconds": sampling_seconds, "time/optimization_seconds": optimization_seconds,
            "time/grad_steps_per_second": 1.0 / max(optimization_seconds, 1e-9),
        })  # fmt: skip
        return metrics

    def adapter(self) -> Any:
        raise NotImplementedError("MAESN adapts latents, not policy weights: see maesn_meta_test")

    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None, num_rollouts: int | None = None,
    ) -> OnPolicyAdaptationResult:  # fmt: skip
        """Return after 0, 1, ..., ``eval_steps`` (or each of ``steps``) latent-adaptation steps on every held-out
        (``test``) or ``train`` task, starting from the prior; ``num_transitions`` asks for
        ``ceil(num_transitions / horizon)`` rollouts per step instead of ``eval_rollouts``."""
        cfg = self.cfg
        task_list = self.split.test if tasks == "test" else self.split.train
        if num_rollouts is None:
            num_rollouts = -(-num_transitions // self.horizon) if num_transitions else cfg.eval_rollouts
        steps = list(steps) if steps is not None else list(range(cfg.eval_steps + 1))
        runs = num_runs or cfg.num_evals
        key = (tasks, runs, num_rollouts)
        if self._eval_pool is None or self._eval_pool[0] != key:
            if self._eval_pool is not None:
                self._eval_pool[1].close()
            slots = [t for _ in range(runs) for t in task_list]
            self._eval_pool = (key, EnvPool(self.distribution.make_env, slots, num_rollouts, self._switch))
        lat = self.learner.latents
        return maesn_meta_test(
            self.learner.policy.params(), lat.step_mu, lat.step_log_sigma, cfg, task_list, self.distribution.make_env,
            runs, num_rollouts, steps, self.horizon, rng if rng is not None else self.seeds.eval,
            pool=self._eval_pool[1], progress=(lambda n: progress("eval_trajectories", n)) if progress else None,
        )  # fmt: skip
