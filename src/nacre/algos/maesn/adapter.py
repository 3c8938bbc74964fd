"""MAESN's meta-test (REFERENCE 5.5): the latent of every held-out task starts at the prior ``N(0, I)``; each
adaptation step samples ``K`` rollouts (one ``z`` per rollout from the current latent Gaussian) and takes a
vanilla policy-gradient step on the latent's mean and log-std only, with the meta-learned step sizes halved at
every step (``alpha / 2^n`` at step ``n``). The policy weights never change. With ``sparse`` the advantages and the
reported returns use the sparse reward. Results have the layout of the other on-policy methods
(:class:`~nacre.algos.onpolicy.meta_test.OnPolicyAdaptationResult`, ``[runs, tasks, len(steps)]``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from nacre.algos.maesn.config import MaesnConfig
from nacre.algos.maesn.learner import inner_step, make_batch
from nacre.algos.maesn.networks import policy_forward
from nacre.algos.onpolicy.meta_test import OnPolicyAdaptationResult
from nacre.algos.onpolicy.policies import Params
from nacre.algos.onpolicy.sampler import ActFn, EnvPool, Rollouts, sample_rollouts


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
                        horizon: int, rng: np.random.Generator,
                        cfg: MaesnConfig) -> tuple[Rollouts, torch.Tensor]:  # fmt: skip
    """``rollouts`` rollouts per task slot, each with its own ``z ~ N(mu_m, sigma_m)`` (noise from ``rng``); the
    pool must hold ``rollouts`` environments per slot (one wave)."""
    if pool.envs_per_task != rollouts:
        raise ValueError(f"MAESN samples all {rollouts} rollouts of a task in one wave; the pool has "
                         f"{pool.envs_per_task} environments per task")  # fmt: skip
    eps = torch.as_tensor(rng.standard_normal((pool.num_tasks, rollouts, mu.shape[-1])), dtype=mu.dtype,
                          device=mu.device)  # fmt: skip
    z = mu.detach().unsqueeze(1) + log_sigma.detach().exp().unsqueeze(1) * eps
    batch = sample_rollouts(pool, latent_act_fn(params, z, cfg.min_std), rollouts, horizon, rng, cfg.action_scale)
    return batch, z


def maesn_meta_test(params: Params, step_mu: torch.Tensor, step_log_sigma: torch.Tensor, cfg: MaesnConfig,
                    tasks: Sequence[Any], make_env: Callable[[Any], Any], num_runs: int, rollouts: int,
                    steps: Sequence[int], horizon: int, rng: np.random.Generator, pool: EnvPool | None = None,
                    progress: Callable[[int], None] | None = None) -> OnPolicyAdaptationResult:  # fmt: skip
    """Run the protocol of the module docstring for every (run, task)."""
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 0:
        raise ValueError(f"steps must be a non-empty list of non-negative counts, got {steps}")
    slots = [tasks[ti] for _ in range(num_runs) for ti in range(len(tasks))]
    own = pool is None
    if pool is None:
        pool = EnvPool(make_env, slots, rollouts)
    else:
        pool.set_tasks(slots)
    shape = (num_runs, len(tasks), len(steps))
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    success, diverged = np.zeros(shape), np.zeros(shape, dtype=bool)
    device = params["log_std"].device
    mu = torch.zeros(len(slots), cfg.latent_dim, device=device)
    log_sigma = torch.zeros(len(slots), cfg.latent_dim, device=device)
    sparse = cfg.sparse_rewards
    try:
        for n in range(max(steps) + 1):
            batch, z = sample_with_latents(pool, params, mu, log_sigma, rollouts, horizon, rng, cfg)
            columns = [j for j, s in enumerate(steps) if s == n]
            if columns:
                bad = batch.diverged.any(axis=1).reshape(num_runs, len(tasks))
                per_slot = lambda x: x.mean(axis=1).reshape(num_runs, len(tasks))
                returns[:, :, columns] = np.where(bad, np.nan, per_slot(batch.returns(sparse)))[..., None]
                dense[:, :, columns] = np.where(bad, np.nan, per_slot(batch.returns(False)))[..., None]
                success[:, :, columns] = np.where(bad, 0.0, per_slot(batch.success))[..., None]
                lengths[:, :, columns] = per_slot(batch.lengths)[..., None]
                diverged[:, :, columns] = bad[..., None]
                if progress is not None:
                    progress(num_runs)
            if n < max(steps):
                rewards = batch.sparse_rewards if sparse else batch.rewards
                data = make_batch(batch, rewards, z, mu, log_sigma, params, cfg)
                mu, log_sigma = inner_step(mu, log_sigma, step_mu.detach(), step_log_sigma.detach(), data,
                                           create_graph=False, scale=0.5**n)  # fmt: skip
    finally:
        if own:
            pool.close()
    return OnPolicyAdaptationResult(returns, dense, success, lengths, np.asarray(steps), rollouts * horizon, diverged,
                                    rollouts=rollouts)  # fmt: skip
