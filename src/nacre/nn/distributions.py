"""Gaussian beliefs over the task variable z and the tanh-Gaussian action distribution."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

MIN_VARIANCE = 1e-7
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Posterior(NamedTuple):
    """Diagonal Gaussian belief q(z | c) per task: ``mean``, ``var`` of shape ``[T, latent]``.

    ``var == 0`` encodes a deterministic z (the no-information-bottleneck ablation).
    """

    mean: torch.Tensor
    var: torch.Tensor

    @classmethod
    def prior(cls, tasks: int, latent_dim: int, device: torch.device | str = "cpu") -> Posterior:
        """The N(0, I) prior: the belief before any context."""
        return cls(torch.zeros(tasks, latent_dim, device=device), torch.ones(tasks, latent_dim, device=device))

    def sample(self, gen: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised draw z = mean + std * eps (gradients flow to mean and var)."""
        eps = torch.randn(self.mean.shape, generator=gen, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.var.sqrt() * eps

    def kl_to_standard_normal(self) -> torch.Tensor:
        """KL(q || N(0, I)) per task, summed over latent dimensions: ``[T]``."""
        var = self.var.clamp_min(MIN_VARIANCE)
        return 0.5 * (var + self.mean.pow(2) - 1.0 - var.log()).sum(-1)


def product_of_gaussians(mu: torch.Tensor, var: torch.Tensor) -> Posterior:
    """Combine per-transition factors ``[T, N, L]`` into one Gaussian per task (the PEARL paper's model).

    sigma^2 = 1 / sum_n 1/sigma_n^2;  mu = sigma^2 * sum_n mu_n / sigma_n^2.
    """
    var = var.clamp_min(MIN_VARIANCE)
    precision = var.reciprocal()
    post_var = precision.sum(1).reciprocal()
    post_mean = post_var * (mu * precision).sum(1)
    return Posterior(post_mean, post_var)


class TanhGaussianSample(NamedTuple):
    action: torch.Tensor  # tanh(pre_tanh), in [-1, 1]
    mean: torch.Tensor
    log_std: torch.Tensor
    log_prob: torch.Tensor  # [N, 1]
    pre_tanh: torch.Tensor


def tanh_gaussian_sample(
    mean: torch.Tensor, log_std: torch.Tensor, gen: torch.Generator | None = None, deterministic: bool = False
) -> TanhGaussianSample:
    """a = tanh(u), u ~ N(mean, exp(log_std)^2), with log pi(a) = log N(u) - sum log(1 - tanh(u)^2).

    The tanh correction uses the exact identity log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))
    instead of the reference's ``log(1 - a^2 + 1e-6)``, which is inexact near |a| = 1.
    """
    log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
    std = log_std.exp()
    if deterministic:
        pre_tanh = mean
    else:
        eps = torch.randn(mean.shape, generator=gen, device=mean.device, dtype=mean.dtype)
        pre_tanh = mean + std * eps
    normal_log_prob = -0.5 * ((pre_tanh - mean) / std).pow(2) - log_std - _HALF_LOG_2PI
    correction = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    log_prob = (normal_log_prob - correction).sum(-1, keepdim=True)
    return TanhGaussianSample(torch.tanh(pre_tanh), mean, log_std, log_prob, pre_tanh)
