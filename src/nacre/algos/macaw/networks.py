"""MACAW's networks, written functionally so MAML can pass (adapted) parameters explicitly.

Two levels of parameters:

* **meta-parameters** (``dict[str, Tensor]``, what Adam updates): for a weight-transform layer (MACAW
  section 5.3) a latent ``z`` (``D``), a generating map ``M`` (``[P, D]``) and its offset
  ``c`` (``[P]``); for a plain layer a weight ``[in, out]`` and a bias ``[out]``;
* **effective weights** (``dict[layer, Tensor]``): each layer's weight and bias flattened into one vector
  ``theta`` of size ``P = in * out + out`` (``theta = M z + c`` for a weight-transform layer), either shared
  (``[P]``) or one per task (``[T, P]``, the adapted weights). The forward passes take effective weights.

The policy is ``obs -> [hidden] * n (ReLU) -> tanh -> mean``, with a fixed action std; its advantage head
reads ``[last hidden layer (after its ReLU), raw action] -> 32 (ReLU) -> 1``. The reference applies a ReLU
to the concatenation, i.e. also to the raw action (a MACAW reference defect); here the action enters unchanged.

Initialisation (drawn only from the given generator): plain layers use ``torch.nn.Linear``'s law
``U(+-1/sqrt(in))`` for weight and bias. Weight-transform layers use the reference laws for the latent
(``N(0, (1/out)^2)``) and the map (``U(+-1/sqrt(D))``); the offset ``c`` follows ``U(+-1/sqrt(in))`` of the
*generated* layer, so the initial effective layer is a plain-initialised layer plus the small ``M z``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nacre.algos.macaw.config import MacawConfig

Params = dict[str, torch.Tensor]
WT_KINDS = ("latent", "map", "offset")
PLAIN_KINDS = ("weight", "bias")


@dataclass(frozen=True)
class LayerSpec:
    name: str
    in_dim: int
    out_dim: int

    @property
    def size(self) -> int:
        """``P``: weight and bias entries of the layer."""
        return self.in_dim * self.out_dim + self.out_dim


@dataclass(frozen=True)
class NetworkSpec:
    """Layer shapes of one network; ``head`` is the advantage head (empty for the value net / the ablation)."""

    trunk: tuple[LayerSpec, ...]
    out: LayerSpec
    head: tuple[LayerSpec, ...]
    weight_transform: bool
    latent: int

    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        return (*self.trunk, self.out, *self.head)

    def param_names(self, layer: LayerSpec) -> tuple[str, ...]:
        kinds = WT_KINDS if self.weight_transform else PLAIN_KINDS
        return tuple(f"{layer.name}_{k}" for k in kinds)


def _mlp_layers(prefix: str, in_dim: int, hidden: int, depth: int, out_dim: int) -> tuple[tuple, LayerSpec]:
    dims = [in_dim] + [hidden] * depth
    trunk = tuple(LayerSpec(f"{prefix}{i}", a, b) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)))
    return trunk, LayerSpec(f"{prefix}_out", dims[-1], out_dim)


def policy_spec(cfg: MacawConfig, obs_dim: int, action_dim: int) -> NetworkSpec:
    trunk, out = _mlp_layers("pi", obs_dim, cfg.policy_hidden_size, cfg.policy_hidden_layers, action_dim)
    head: tuple[LayerSpec, ...] = ()
    if cfg.advantage_head:
        head = (
            LayerSpec("adv0", cfg.policy_hidden_size + action_dim, cfg.advantage_head_size),
            LayerSpec("adv1", cfg.advantage_head_size, 1),
        )
    return NetworkSpec(trunk, out, head, cfg.weight_transform, cfg.weight_transform_latent)


def value_spec(cfg: MacawConfig, obs_dim: int) -> NetworkSpec:
    trunk, out = _mlp_layers("v", obs_dim, cfg.value_hidden_size, cfg.value_hidden_layers, 1)
    return NetworkSpec(trunk, out, (), cfg.weight_transform, cfg.weight_transform_latent)


def init_params(spec: NetworkSpec, gen: torch.Generator, dtype: torch.dtype = torch.float32) -> Params:
    """Meta-parameters of ``spec`` (CPU tensors, layer by layer in a fixed order from ``gen``)."""
    params: Params = {}
    for layer in spec.layers:
        names = spec.param_names(layer)
        bound = 1.0 / math.sqrt(layer.in_dim)
        if spec.weight_transform:
            d = spec.latent
            latent = torch.empty(d, dtype=dtype).normal_(0.0, 1.0 / layer.out_dim, generator=gen)
            mapping = torch.empty(layer.size, d, dtype=dtype).uniform_(
                -1 / math.sqrt(d), 1 / math.sqrt(d), generator=gen
            )
            offset = torch.empty(layer.size, dtype=dtype).uniform_(-bound, bound, generator=gen)
            tensors = (latent, mapping, offset)
        else:
            weight = torch.empty(layer.in_dim, layer.out_dim, dtype=dtype).uniform_(-bound, bound, generator=gen)
            bias = torch.empty(layer.out_dim, dtype=dtype).uniform_(-bound, bound, generator=gen)
            tensors = (weight, bias)
        params.update(zip(names, tensors, strict=True))
    return params


def layer_theta(spec: NetworkSpec, layer: LayerSpec, params: Params) -> torch.Tensor:
    """Effective weights ``[P]`` of one layer from (unbatched) meta-parameters."""
    if spec.weight_transform:
        latent, mapping, offset = (params[n] for n in spec.param_names(layer))
        return torch.addmv(offset, mapping, latent)  # theta = M z + c
    weight, bias = (params[n] for n in spec.param_names(layer))
    return torch.cat([weight.reshape(-1), bias])


def materialise(spec: NetworkSpec, params: Params) -> Params:
    """Effective weights of every layer: ``{layer name: theta [P]}``."""
    return {layer.name: layer_theta(spec, layer, params) for layer in spec.layers}


def linear(x: torch.Tensor, theta: torch.Tensor, layer: LayerSpec) -> torch.Tensor:
    """``x @ W + b`` with ``W, b`` read from ``theta``: shared ``[P]`` (any ``x``) or per task ``[T, P]``
    (``x`` of shape ``[T, N, in]``)."""
    n = layer.in_dim * layer.out_dim
    w = theta[..., :n].unflatten(-1, (layer.in_dim, layer.out_dim))
    b = theta[..., n:]
    if theta.dim() == 2:
        return torch.baddbmm(b.unsqueeze(1), x, w)
    return torch.addmm(b, x.reshape(-1, layer.in_dim), w).reshape(*x.shape[:-1], layer.out_dim)


def policy_forward(
    spec: NetworkSpec, eff: Params, obs: torch.Tensor, actions: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(tanh mean ``[..., A]``, advantage prediction ``[...]`` or None). The head runs only given actions."""
    h = obs
    for layer in spec.trunk:
        h = torch.relu(linear(h, eff[layer.name], layer))
    mean = torch.tanh(linear(h, eff[spec.out.name], spec.out))
    if actions is None or not spec.head:
        return mean, None
    x = torch.cat([h, actions], dim=-1)  # raw action: no ReLU on it (reference defect fixed)
    for i, layer in enumerate(spec.head):
        x = linear(x, eff[layer.name], layer)
        if i < len(spec.head) - 1:
            x = torch.relu(x)
    return mean, x.squeeze(-1)


def value_forward(spec: NetworkSpec, eff: Params, obs: torch.Tensor) -> torch.Tensor:
    """V(s) of shape ``obs.shape[:-1]``."""
    h = obs
    for layer in spec.trunk:
        h = torch.relu(linear(h, eff[layer.name], layer))
    return linear(h, eff[spec.out.name], spec.out).squeeze(-1)


def count(spec: NetworkSpec) -> int:
    """Number of meta-parameters of ``spec``."""
    total = 0
    for layer in spec.layers:
        total += (spec.latent + 1) * layer.size + spec.latent if spec.weight_transform else layer.size
    return total
