"""MAESN's networks: a Gaussian policy MLP on ``[obs, z]`` and the meta-learned latent space.

Policy (docs/baselines.md, 5.5): ReLU hidden layers (100, 100), a linear mean head, a learned state-independent log-std
(initial std 1), as a plain parameter dict (the layout of :mod:`nacre.algos.onpolicy.policies`, Xavier-uniform
weights and zero biases drawn from the run's generator) evaluated by :func:`policy_forward`.

Latents (:class:`LatentSpace`): one diagonal Gaussian ``N(mu_i, diag(sigma_i^2))`` per training task with means
drawn from ``N(0, 1)`` and log-stds 0, plus the learnable per-dimension inner step sizes of the means and of the
log-stds (initialised at ``init_step``). ``z`` is drawn once per episode and held for the whole episode.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nacre.algos.onpolicy.policies import Params, num_layers

_LOG_2PI = math.log(2.0 * math.pi)


def policy_forward(params: Params, obs: torch.Tensor, z: torch.Tensor,
                   min_std: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(mean, log_std)`` ``[..., H, A]`` for observations ``obs [..., H, O]`` and one latent per rollout
    ``z [..., Z]`` (broadcast over the steps)."""
    h = torch.cat([obs, z.unsqueeze(-2).expand(*obs.shape[:-1], z.shape[-1])], dim=-1)
    last = num_layers(params) - 1
    for i in range(last + 1):
        h = nn.functional.linear(h, params[f"w{i}"], params[f"b{i}"])
        if i < last:
            h = torch.relu(h)
    log_std = torch.clamp(params["log_std"], min=math.log(min_std)).expand_as(h)
    return h, log_std


def latent_log_prob(z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(2 log_sigma)))`` for ``z [M, K, Z]`` and per-task ``mu``, ``log_sigma [M, Z]``:
    ``[M, K]``."""
    u = (z - mu.unsqueeze(1)) * torch.exp(-log_sigma).unsqueeze(1)
    return -0.5 * (u * u).sum(-1) - log_sigma.sum(-1, keepdim=True) - 0.5 * _LOG_2PI * z.shape[-1]


def prior_kl(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma) || N(0, I)) per row: ``0.5 sum (sigma^2 + mu^2 - 1) - sum log sigma``."""
    return (0.5 * (torch.exp(2.0 * log_sigma) + mu * mu - 1.0) - log_sigma).sum(-1)


class LatentSpace(nn.Module):
    """The per-task latent Gaussians and the inner step sizes (all meta-parameters)."""

    def __init__(self, n_tasks: int, latent_dim: int = 2, init_step: float = 0.5,
                 generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_tasks, latent_dim, generator=generator))
        self.log_sigma = nn.Parameter(torch.zeros(n_tasks, latent_dim))
        self.step_mu = nn.Parameter(torch.full((latent_dim,), float(init_step)))
        self.step_log_sigma = nn.Parameter(torch.full((latent_dim,), float(init_step)))
