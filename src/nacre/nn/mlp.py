"""Fully connected networks with the reference initialisation, seeded through an explicit generator.

Hidden layers: weights U(+-1/sqrt(fan_in)), biases 0.1; output layer: weights and biases U(+-3e-3)
(REFERENCE 1.2, "reference init").
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import skip_init

HIDDEN_BIAS = 0.1
OUTPUT_INIT = 3e-3


def _fanin_(weight: torch.Tensor, fan_in: int, gen: torch.Generator | None) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=gen)


class MLP(nn.Module):
    """``in -> [hidden] * layers (ReLU) -> out``."""

    def __init__(
        self, in_dim: int, out_dim: int, hidden: int, layers: int, gen: torch.Generator | None = None
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers
        # skip_init: torch's default init would draw from the global RNG; ours uses ``gen`` only
        self.hidden = nn.ModuleList(skip_init(nn.Linear, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.out = skip_init(nn.Linear, dims[-1], out_dim)
        for layer in self.hidden:
            _fanin_(layer.weight, layer.in_features, gen)
            nn.init.constant_(layer.bias, HIDDEN_BIAS)
        with torch.no_grad():
            self.out.weight.uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)
            self.out.bias.uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.trunk(x))


class EnsembleMLP(nn.Module):
    """``E`` independent MLPs of one shape evaluated together with batched matmuls.

    Mathematically identical to ``E`` separate :class:`MLP` s (each member has its own weights and,
    with an element-wise optimiser like Adam, its own updates); input ``[N, in]`` or ``[E, N, in]``,
    output ``[E, N, out]``.
    """

    def __init__(
        self, members: int, in_dim: int, out_dim: int, hidden: int, layers: int,
        gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.members = members
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            w = torch.empty(members, a, b)
            bias = torch.empty(members, 1, b)
            last = i == len(dims) - 2
            with torch.no_grad():
                for m in range(members):  # the reference law, member by member
                    if last:
                        w[m].copy_(torch.empty(b, a).uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen).T)
                        bias[m, 0].uniform_(-OUTPUT_INIT, OUTPUT_INIT, generator=gen)
                    else:
                        bound = 1.0 / math.sqrt(a)
                        w[m].copy_(torch.empty(b, a).uniform_(-bound, bound, generator=gen).T)
                        bias[m].fill_(HIDDEN_BIAS)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(bias))

    def forward(self, x: torch.Tensor, detach_params: bool = False) -> torch.Tensor:
        """``detach_params=True`` lets gradients reach ``x`` but not the weights (no wasted work)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if detach_params:
                w, b = w.detach(), b.detach()
            x = torch.baddbmm(b, x, w)
            if i < n - 1:
                x = torch.relu(x)
        return x
