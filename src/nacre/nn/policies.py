"""The z-conditioned tanh-Gaussian policy pi(a | s, z)."""

from __future__ import annotations

import torch
from torch import nn

from nacre.nn.distributions import TanhGaussianSample, tanh_gaussian_sample
from nacre.nn.mlp import MLP


class TanhGaussianPolicy(nn.Module):
    """MLP trunk with two linear heads: mean and log-std (clamped to [-20, 2])."""

    def __init__(
        self, obs_dim: int, latent_dim: int, action_dim: int, hidden: int, layers: int,
        gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.net = MLP(obs_dim + latent_dim, action_dim, hidden, layers, gen)
        self.log_std = MLP(hidden, action_dim, hidden, 0, gen)  # a single linear layer, reference init

    def scale_head_init_(self, factor: float) -> None:
        """Multiply the mean and log-std heads' weights and biases (drawn U(+-3e-3)) by ``factor``."""
        with torch.no_grad():
            for head in (self.net.out, self.log_std.out):
                head.weight.mul_(factor)
                head.bias.mul_(factor)

    def forward(
        self, obs: torch.Tensor, z: torch.Tensor, gen: torch.Generator | None = None, deterministic: bool = False
    ) -> TanhGaussianSample:
        h = self.net.trunk(torch.cat([obs, z], dim=-1))
        # heads cast to fp32: the log-prob maths never runs in reduced precision
        return tanh_gaussian_sample(self.net.out(h).float(), self.log_std(h).float(), gen, deterministic)
