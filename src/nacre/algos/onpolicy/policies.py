"""The Gaussian MLP policy of the on-policy meta-learners, as pure functions of its parameters.

The parameters are a plain ``dict`` of tensors (:data:`Params`): ``w0, b0, ..., wL, bL`` (hidden layers and the
linear mean head, weights stored ``[out, in]`` as in ``nn.Linear``) and ``log_std`` (state-independent). The same
function evaluates

* *shared* parameters (every tensor without a task dimension) on observations ``[..., O]``, and
* *per-task* parameters (every tensor with a leading task dimension ``M``: ``w [M, out, in]``, ``log_std [M, A]``)
  on observations ``[M, N, O]``, one batched matrix product per layer;

so a MAML inner step on ``M`` tasks is one forward pass and one ``torch.autograd.grad`` call on the shared
parameters expanded to ``[M, ...]`` (:func:`expand_params`): the gradient with respect to the expanded tensor holds
each task's own gradient in its slice, and with ``create_graph=True`` the adapted parameters stay differentiable
functions of the shared ones.

Settings (docs/baselines.md 5.1): tanh hidden layers, a linear mean, Xavier-uniform weights, zero biases, a learned
log-std initialised at log(1.0) and floored at log(1e-6). Actions are unbounded Gaussian samples; the sampler maps
them to the environment's bounds (:func:`nacre.algos.onpolicy.sampler.env_action`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

Params = dict[str, torch.Tensor]

_LOG_2PI = math.log(2.0 * math.pi)


def init_params(obs_dim: int, action_dim: int, hidden_size: int = 64, hidden_layers: int = 2, init_std: float = 1.0,
                generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Params:  # fmt: skip
    """Fresh parameters: Xavier-uniform weights drawn from ``generator``, zero biases, log-std ``log(init_std)``."""
    sizes = [obs_dim] + [hidden_size] * hidden_layers + [action_dim]
    params: Params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        params[f"w{i}"] = torch.empty(fan_out, fan_in, dtype=dtype).uniform_(-bound, bound, generator=generator)
        params[f"b{i}"] = torch.zeros(fan_out, dtype=dtype)
    params["log_std"] = torch.full((action_dim,), math.log(init_std), dtype=dtype)
    return params


def num_layers(params: Params) -> int:
    """Linear layers (hidden layers + the mean head)."""
    return sum(1 for k in params if k.startswith("w"))


def forward(params: Params, obs: torch.Tensor, min_std: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, log_std)`` of the action distribution, both shaped like the actions (``[..., A]``).

    Shared parameters take any ``obs [..., O]``; per-task parameters (``w0`` of rank 3) take ``obs [M, N, O]``.
    The log-std is floored at ``log(min_std)`` (no gradient below the floor).
    """
    per_task = params["w0"].dim() == 3
    h = obs
    last = num_layers(params) - 1
    for i in range(last + 1):
        w, b = params[f"w{i}"], params[f"b{i}"]
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)) if per_task else nn.functional.linear(h, w, b)
        if i < last:
            h = torch.tanh(h)
    log_std = params["log_std"]
    if per_task:
        log_std = log_std.unsqueeze(1)
    log_std = torch.clamp(log_std, min=math.log(min_std)).expand_as(h)
    return h, log_std


def log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log-density of ``actions`` under the diagonal Gaussian, summed over the action dimension."""
    z = (actions - mean) * torch.exp(-log_std)
    return -0.5 * (z * z).sum(-1) - log_std.sum(-1) - 0.5 * _LOG_2PI * mean.shape[-1]


def kl_divergence(mean_p: torch.Tensor, log_std_p: torch.Tensor, mean_q: torch.Tensor,
                  log_std_q: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """KL(p || q) of diagonal Gaussians, summed over the action dimension."""
    var_p, var_q = torch.exp(2.0 * log_std_p), torch.exp(2.0 * log_std_q)
    return (log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2.0 * var_q) - 0.5).sum(-1)


def entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of the diagonal Gaussian, summed over the action dimension."""
    return (log_std + 0.5 * (1.0 + _LOG_2PI)).sum(-1)


def expand_params(params: Params, n: int) -> Params:
    """Shared parameters viewed with a leading task dimension of size ``n`` (no copy; gradients flow back)."""
    return {k: v.unsqueeze(0).expand(n, *v.shape) for k, v in params.items()}


def flat(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """One vector of all ``tensors``."""
    return torch.cat([t.reshape(-1) for t in tensors])


class GaussianMLPPolicy(nn.Module):
    """Holds the meta-parameters (``nn.Parameter`` s, for optimisers and ``state_dict``); all computation is in the
    module-level functions, called with :meth:`params` or with adapted tensors."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_size: int = 64, hidden_layers: int = 2,
                 init_std: float = 1.0, min_std: float = 1e-6, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32) -> None:  # fmt: skip
        super().__init__()
        self.obs_dim, self.action_dim, self.min_std = obs_dim, action_dim, min_std
        init = init_params(obs_dim, action_dim, hidden_size, hidden_layers, init_std, generator, dtype)
        self.names = tuple(init)
        for name, value in init.items():
            self.register_parameter(name, nn.Parameter(value))

    def params(self) -> Params:
        """The meta-parameters by name, in layer order (the live ``nn.Parameter`` objects)."""
        return {name: getattr(self, name) for name in self.names}

    def forward(self, obs: torch.Tensor, params: Params | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return forward(self.params() if params is None else params, obs, self.min_std)
