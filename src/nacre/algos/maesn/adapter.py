"""MAESN's meta-test (docs/baselines.md, 5.5): the latent of every held-out task starts at the prior ``N(0, I)``; each
adaptation step samples ``K`` rollouts (one ``z`` per rollout from the current latent Gaussian) and takes a
vanilla policy-gradient step on the latent's mean and log-std only, with the meta-learned step sizes halved after
every step from the second on (``alpha, alpha, alpha / 2, alpha / 4, ...``, as the MAESN reference's test-time
loop, which halves them after each update from its second iteration). The policy weights never change. With
``sparse`` the advantages and the reported returns use the sparse reward. Results have the layout of the other
on-policy methods (:class:`~nacre.algos.onpolicy.meta_test.OnPolicyAdaptationResult`, ``[runs, tasks,
len(steps)]``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from nacre.algos.maesn.config import MaesnConfig
from nacre.algos.maesn.learner import inner_step, make_batch
from nacre.algos.maesn.networks import policy_forward
from nacre.algos.onpolicy.meta_test import OnPolicyAdaptationResult, onpolicy_adaptation_curves
from nacre.algos.onpolicy.policies import Params
from nacre.algos.onpolicy.sampler import ActFn, EnvPool, Rollouts, sample_rollouts
from nacre.types import Progress


def latent_act_fn(params: Params, z: torch.Tensor, min_std: float = 1e-6) -> ActFn:
    """The sampler's policy call when all ``K`` rollouts of a task run in one wave: observations ``[M, K, O]``
    with the rollouts' latents ``z [M, K, Z]``."""
    frozen = {k: v.detach() for k, v in params.items()}
    dtype = frozen["log_std"].dtype

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            o = torch.as_tensor(obs, dtype=dtype, device=z.device).unsqueeze(-2)  # [M, K, 1, O]
            mean, log_std = policy_forward(frozen, o, z, min_std)
        return mean[..., 0, :].cpu().numpy(), log_std[..., 0, :].exp().cpu().numpy()

    return act


def sample_with_latents(pool: EnvPool, params: Params, mu: torch.Tensor, log_sigma: torch.Tensor, rollouts: int,
                        horizon: int, rng: np.random.Generator, min_std: float,
                        action_scale: float) -> tuple[Rollouts, torch.Tensor]:  # fmt: skip
    """``rollouts`` rollouts per task slot, each with its own ``z ~ N(mu_m, sigma_m)`` (noise from ``rng``); the
    pool must hold ``rollouts`` environments per slot (one wave)."""
    if pool.envs_per_task != rollouts:
        raise ValueError(f"MAESN samples all {rollouts} rollouts of a task in one wave; the pool has "
                         f"{pool.envs_per_task} environments per task")  # fmt: skip
    eps = torch.as_tensor(rng.standard_normal((pool.num_tasks, rollouts, mu.shape[-1])), dtype=mu.dtype,
                          device=mu.device)  # fmt: skip
    z = mu.detach().unsqueeze(1) + log_sigma.detach().exp().unsqueeze(1) * eps
    batch = sample_rollouts(pool, latent_act_fn(params, z, min_std), rollouts, horizon, rng, action_scale)
    return batch, z


class Latents(NamedTuple):
    """The latent Gaussians of the task slots ``[M, Z]`` and the ``z [M, K, Z]`` their last rollouts drew."""

    mu: torch.Tensor
    log_sigma: torch.Tensor
    z: torch.Tensor | None = None


@dataclass
class LatentAdapter:
    """The :class:`~nacre.algos.onpolicy.meta_test.Adapter` of MAESN's meta-test: the state of a slot is its latent
    Gaussian (from the prior), adapted by the inner step with the step sizes ``step_mu`` / ``step_log_sigma``
    scaled by ``0.5**max(n - 1, 0)`` at step ``n`` (from 0); the policy weights ``params`` never change."""

    params: Params
    step_mu: torch.Tensor
    step_log_sigma: torch.Tensor
    cfg: MaesnConfig

    def initial(self, n: int) -> Latents:
        device = self.params["log_std"].device
        return Latents(torch.zeros(n, self.cfg.latent_dim, device=device),
                       torch.zeros(n, self.cfg.latent_dim, device=device))  # fmt: skip

    def sample(self, pool: EnvPool, state: Latents, rollouts: int, horizon: int, rng: np.random.Generator,
               action_scale: float) -> tuple[Rollouts, Latents]:  # fmt: skip
        batch, z = sample_with_latents(pool, self.params, state.mu, state.log_sigma, rollouts, horizon, rng,
                                       self.cfg.min_std, action_scale)  # fmt: skip
        return batch, state._replace(z=z)

    def adapt(self, state: Latents, rollouts: Rollouts, step: int) -> Latents:
        cfg = self.cfg
        rewards = rollouts.sparse_rewards if cfg.sparse_rewards else rollouts.rewards
        data = make_batch(rollouts, rewards, state.z, state.mu, state.log_sigma, self.params, cfg)
        mu, log_sigma = inner_step(state.mu, state.log_sigma, self.step_mu.detach(), self.step_log_sigma.detach(),
                                   data, create_graph=False, scale=0.5 ** max(step - 1, 0))  # fmt: skip
        return Latents(mu, log_sigma)


def maesn_meta_test(params: Params, step_mu: torch.Tensor, step_log_sigma: torch.Tensor, cfg: MaesnConfig,
                    tasks: Sequence[Any], make_env: Callable[[Any], Any], num_runs: int, rollouts: int,
                    steps: Sequence[int], horizon: int, rng: np.random.Generator, pool: EnvPool | None = None,
                    progress: Progress | None = None) -> OnPolicyAdaptationResult:  # fmt: skip
    """Run the protocol of the module docstring for every (run, task): the shared on-policy meta-test
    (:func:`~nacre.algos.onpolicy.meta_test.onpolicy_adaptation_curves`) with :class:`LatentAdapter`."""
    return onpolicy_adaptation_curves(LatentAdapter(params, step_mu, step_log_sigma, cfg), tasks, make_env, num_runs,
                                      rollouts, steps, horizon, rng, sparse=cfg.sparse_rewards,
                                      action_scale=cfg.action_scale, pool=pool, progress=progress)  # fmt: skip
