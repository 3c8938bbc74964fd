"""Context encoders f_phi: context ``[T, N, C]`` -> belief q(z | c) (the PEARL paper's model).

* :class:`TransitionEncoder` maps each transition to a Gaussian factor and multiplies the factors
  (permutation-invariant); with ``probabilistic=False`` it averages point estimates instead (the
  deterministic-z ablation).
* :class:`RecurrentEncoder` runs a GRU over the transitions in the order given and reads one Gaussian
  off its last state; it serves both recurrent ablations (shuffled transitions or whole trajectories:
  the order is chosen by how the context is sampled).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nacre.nn.distributions import MIN_VARIANCE, Posterior, product_of_gaussians
from nacre.nn.mlp import MLP


class TransitionEncoder(nn.Module):
    def __init__(
        self, context_dim: int, latent_dim: int, hidden: int, layers: int, probabilistic: bool = True,
        gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.latent_dim = latent_dim
        self.probabilistic = probabilistic
        out = 2 * latent_dim if probabilistic else latent_dim
        self.net = MLP(context_dim, out, hidden, layers, gen)

    def factors(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-transition means and variances ``[T, N, L]`` (variances softplus, >= 1e-7)."""
        out = self.net(context).float()  # the product of Gaussians always runs in fp32
        mu, raw = out.split(self.latent_dim, dim=-1)
        return mu, F.softplus(raw).clamp_min(MIN_VARIANCE)

    def forward(self, context: torch.Tensor) -> Posterior:
        if context.shape[1] == 0:
            return Posterior.prior(context.shape[0], self.latent_dim, context.device)
        if not self.probabilistic:
            mean = self.net(context).float().mean(1)
            return Posterior(mean, torch.zeros_like(mean))
        return product_of_gaussians(*self.factors(context))


class RecurrentEncoder(nn.Module):
    def __init__(
        self, context_dim: int, latent_dim: int, hidden: int, probabilistic: bool = True,
        gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.latent_dim = latent_dim
        self.probabilistic = probabilistic
        self.embed = MLP(context_dim, hidden, hidden, 1, gen)
        with torch.device("meta"):  # no draw from the global RNG; initialised from ``gen`` below
            gru = nn.GRU(hidden, hidden, batch_first=True)
        self.gru = gru.to_empty(device="cpu")
        bound = 1.0 / hidden**0.5
        with torch.no_grad():
            for p in self.gru.parameters():
                p.uniform_(-bound, bound, generator=gen)
        self.head = MLP(hidden, 2 * latent_dim if probabilistic else latent_dim, hidden, 0, gen)

    def forward(self, context: torch.Tensor) -> Posterior:
        if context.shape[1] == 0:
            return Posterior.prior(context.shape[0], self.latent_dim, context.device)
        h = torch.relu(self.embed(context))
        _, last = self.gru(h)
        out = self.head(last[-1]).float()
        if not self.probabilistic:
            return Posterior(out, torch.zeros_like(out))
        mu, raw = out.split(self.latent_dim, dim=-1)
        return Posterior(mu, F.softplus(raw).clamp_min(MIN_VARIANCE))
