"""MAESN's update (docs/baselines.md, 5.5), as pure functions of the parameters plus a learner that owns them.

The stochastic policy of task ``i`` is the pair: ``z ~ N(mu_i, sigma_i)`` once per episode, then
``a_t ~ pi_theta(. | s_t, z)``.

Inner step (only the task's latent changes): with the episode's ``z_k`` and one advantage per episode,
``A_k = G_k - b(s_0)`` (the GAE advantage of the episode's first step with lambda 1, normalised over the task's
``K`` episodes; ``z`` is drawn before the first step, so the whole return is its reward),
``J_i(mu, log_sigma) = mean_k log N(z_k; mu, sigma) A_k`` (the policy gradient of the latent's log-likelihood),
``mu' = mu + alpha_mu * dJ/dmu`` and ``log_sigma' = log_sigma + alpha_sigma * dJ/dlog_sigma`` with the learnable
per-dimension step sizes ``alpha``. The policy weights are not adapted.

Outer step: TRPO on all meta-parameters (policy weights, the latents of the sampled tasks, the step sizes), with
gradients through the inner step, maximising

    mean_i mean_{k,t} r A_{k,t}  -  w mean_i KL(N(mu_i, sigma_i) || N(0, I)),
    r = pi_theta(a|s, z') / pi_old(a|s, z),   z' = mu_i' + sigma_i' eps,   eps = (z - mu_old,i') / sigma_old,i'

on the post-update data (sampled with ``z = mu_old,i' + sigma_old,i' eps``): the latent is reparameterised by the
episode's noise ``eps``, so the adapted latent (and through it the step sizes and the pre-update latent) gets its
gradient through the policy, as in the MAESN reference. The trust region is on the actions,
``mean_i mean_{k,t} KL(pi_old(.|s, z) || pi_theta(.|s, z')) <= max_kl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from nacre.algos.maesn.config import MaesnConfig
from nacre.algos.maesn.networks import LatentSpace, latent_log_prob, policy_forward, prior_kl
from nacre.algos.onpolicy.advantages import normalize, task_advantages
from nacre.algos.onpolicy.policies import GaussianMLPPolicy, Params, kl_divergence, log_prob
from nacre.algos.onpolicy.sampler import Rollouts
from nacre.algos.onpolicy.trpo import trpo_step


class MaesnBatch(NamedTuple):
    """``M`` tasks x ``K`` rollouts x ``H`` steps (torch)."""

    obs: torch.Tensor  # [M, K, H, O]
    actions: torch.Tensor  # [M, K, H, A]
    z: torch.Tensor  # [M, K, Z] the latent of each rollout
    advantages: torch.Tensor  # [M, K, H] per step, normalised per task (the outer surrogate)
    mask: torch.Tensor  # [M, K, H]
    old_log_pi: torch.Tensor  # [M, K, H] log pi_old(a|s, z)
    old_mean: torch.Tensor  # [M, K, H, A]
    old_log_std: torch.Tensor  # [M, K, H, A]
    old_mu: torch.Tensor  # [M, Z] the latent Gaussians that drew z
    old_log_sigma: torch.Tensor  # [M, Z]
    latent_advantages: torch.Tensor  # [M, K] one per episode: its first step's advantage, normalised over K


def make_batch(rollouts: Rollouts, rewards: np.ndarray, z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor,
               params: Params, cfg: MaesnConfig) -> MaesnBatch:  # fmt: skip
    """The batch of ``rollouts`` (drawn with latents ``z [M, K, Z]`` from ``N(mu, sigma)``), advantages from
    ``rewards [M, K, H]`` (per-task linear baseline, GAE, per-task normalisation): per step, and per episode for
    the latent (the first step's, normalised over the task's episodes, as the MAESN reference)."""
    raw = task_advantages(rewards, rollouts.obs, rollouts.mask, cfg.discount, cfg.gae_lambda, False,
                          cfg.baseline_reg).advantages  # fmt: skip
    first, first_mask = raw[:, :, 0], rollouts.mask[:, :, 0]
    if cfg.normalize_advantages:
        adv = np.stack([normalize(raw[m], rollouts.mask[m]) for m in range(len(raw))])
        first = np.stack([normalize(first[m], first_mask[m]) for m in range(len(raw))])
    else:
        adv, first = raw, first * (first_mask > 0)
    device = params["log_std"].device
    as_t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)
    obs, actions = as_t(rollouts.obs), as_t(rollouts.actions)
    with torch.no_grad():
        mean, log_std = policy_forward({k: v.detach() for k, v in params.items()}, obs, z, cfg.min_std)
        old = log_prob(mean, log_std, actions)
    return MaesnBatch(obs, actions, z.detach(), as_t(adv), as_t(rollouts.mask), old, mean, log_std,
                      mu.detach(), log_sigma.detach(), as_t(first))  # fmt: skip


def inner_objective(mu: torch.Tensor, log_sigma: torch.Tensor, batch: MaesnBatch) -> torch.Tensor:
    """``J_i`` of the module docstring, ``[M]``."""
    lq = latent_log_prob(batch.z, mu, log_sigma)  # [M, K]
    return (lq * batch.latent_advantages).mean(1)


def inner_step(mu: torch.Tensor, log_sigma: torch.Tensor, step_mu: torch.Tensor, step_log_sigma: torch.Tensor,
               batch: MaesnBatch, create_graph: bool,
               scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """One inner step of every task's latent (``[M, Z]``): ``(mu', log_sigma')``; ``scale`` multiplies the step
    sizes (the meta-test halves them each step)."""
    with torch.enable_grad():
        if not create_graph:
            mu, log_sigma = mu.detach().requires_grad_(True), log_sigma.detach().requires_grad_(True)
        g_mu, g_ls = torch.autograd.grad(inner_objective(mu, log_sigma, batch).sum(), [mu, log_sigma],
                                         create_graph=create_graph)  # fmt: skip
    new_mu = mu + scale * step_mu * g_mu
    new_ls = log_sigma + scale * step_log_sigma * g_ls
    return (new_mu, new_ls) if create_graph else (new_mu.detach(), new_ls.detach())


def adapted_latents(latents: LatentSpace, task_index: torch.Tensor, pre: Sequence[MaesnBatch],
                    create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The sampled tasks' latents after one inner step on each pre-update batch in turn."""
    mu, ls = latents.mu[task_index], latents.log_sigma[task_index]
    for batch in pre:
        mu, ls = inner_step(mu, ls, latents.step_mu, latents.step_log_sigma, batch, create_graph)
    return mu, ls


def outer_objective_and_kl(params: Params, latents: LatentSpace, task_index: torch.Tensor,
                           pre: Sequence[MaesnBatch], post: MaesnBatch, prior_weight: float, min_std: float = 1e-6,
                           create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(objective, trust-region KL)`` of the module docstring at the current parameter values."""
    mu, ls = adapted_latents(latents, task_index, pre, create_graph)
    eps = (post.z - post.old_mu.unsqueeze(1)) / post.old_log_sigma.exp().unsqueeze(1)  # the episodes' noise
    z = mu.unsqueeze(1) + ls.exp().unsqueeze(1) * eps  # [M, K, Z], equal to post.z at the sampling parameters
    mean, log_std = policy_forward(params, post.obs, z, min_std)
    ratio = torch.exp(log_prob(mean, log_std, post.actions) - post.old_log_pi)
    valid = post.mask.sum((1, 2)).clamp_min(1.0)
    surr = ((ratio * post.advantages * post.mask).sum((1, 2)) / valid).mean()
    penalty = prior_kl(latents.mu[task_index], latents.log_sigma[task_index]).mean()
    kl = ((kl_divergence(post.old_mean, post.old_log_std, mean, log_std) * post.mask).sum((1, 2)) / valid).mean()
    return surr - prior_weight * penalty, kl


class MaesnLearner:
    """Owns the policy and the latent space (both checkpointed); one :meth:`update` is one TRPO step."""

    def __init__(self, cfg: MaesnConfig, obs_dim: int, action_dim: int, generator: torch.Generator) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.policy = GaussianMLPPolicy(obs_dim + cfg.latent_dim, action_dim, cfg.hidden_size, cfg.hidden_layers,
                                        cfg.init_std, cfg.min_std, generator).to(self.device)  # fmt: skip
        self.latents = LatentSpace(cfg.n_train_tasks, cfg.latent_dim, cfg.inner_lr, generator).to(self.device)

    def meta_parameters(self) -> list[torch.Tensor]:
        return [*self.policy.params().values(), *self.latents.parameters()]

    def named_parameters(self) -> list[tuple[str, torch.Tensor]]:
        return [*self.policy.named_parameters(), *(("latents." + n, p) for n, p in self.latents.named_parameters())]

    def update(self, task_index: torch.Tensor, pre: Sequence[MaesnBatch], post: MaesnBatch) -> dict[str, float]:
        cfg = self.cfg
        params = self.policy.params()
        info = trpo_step(
            self.meta_parameters(),
            lambda create_graph: outer_objective_and_kl(params, self.latents, task_index, pre, post,
                                                        cfg.prior_kl_weight, cfg.min_std, create_graph),
            cfg.max_kl, cfg.cg_iterations, cfg.backtrack_ratio, cfg.max_backtracks, cfg.cg_damping,
        )  # fmt: skip
        with torch.no_grad():
            sel = self.latents.mu[task_index], self.latents.log_sigma[task_index]
            metrics = {"maesn/prior_kl": float(prior_kl(*sel).mean()),
                       "maesn/latent_std": float(sel[1].exp().mean()),
                       "maesn/step_mu": float(self.latents.step_mu.mean()),
                       "maesn/step_log_sigma": float(self.latents.step_log_sigma.mean())}  # fmt: skip
        return {**info.metrics(), **metrics}

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "latents": self.latents.state_dict()}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self.policy.load_state_dict(state["policy"])
        self.latents.load_state_dict(state["latents"])
