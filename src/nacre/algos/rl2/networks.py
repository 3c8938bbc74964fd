"""RL2's recurrent Gaussian policy.

At step ``t`` of a trial the policy reads ``x_t = [o_t, a_{t-1}, r_{t-1}, d_{t-1}]`` (:func:`policy_inputs`, the
one place that defines the layout): the observation, the previous action (the Gaussian sample), the previous
reward and a flag that is 1 when the previous step ended an episode; all three are 0 at the first step of a
trial. A GRU cell turns ``x_t`` and the hidden state ``h_{t-1}`` into ``h_t``; a linear head gives the action mean,
and a learned state-independent log-std (floored at ``log(min_std)``) the spread. The hidden state starts at 0
for every trial and is carried across the trial's episodes.

Initialisation draws from the given ``torch.Generator`` only (never the global RNG): GRU weights and biases
uniform in ``+-1/sqrt(hidden)`` (PyTorch's own scheme), a Xavier-uniform mean head with zero bias, log-std
``log(init_std)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def policy_inputs(obs: np.ndarray, prev_action: np.ndarray, prev_reward: np.ndarray,
                  prev_done: np.ndarray) -> np.ndarray:  # fmt: skip
    """``[..., O + A + 2]`` from ``obs [..., O]``, ``prev_action [..., A]``, ``prev_reward [...]``,
    ``prev_done [...]`` (float32)."""
    return np.concatenate([obs, prev_action, np.asarray(prev_reward)[..., None], np.asarray(prev_done)[..., None]],
                          axis=-1).astype(np.float32)  # fmt: skip


class Rl2Policy(nn.Module):
    """GRU policy; :meth:`step` for sampling one step at a time, :meth:`sequence` for whole trials."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_size: int = 64, init_std: float = 1.0,
                 min_std: float = 1e-6, generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden_size, self.min_std = obs_dim, action_dim, hidden_size, min_std
        self.input_dim = obs_dim + action_dim + 2
        with torch.random.fork_rng(devices=[]):  # the modules' own default init touches the global RNG: undone
            self.gru = nn.GRU(self.input_dim, hidden_size, batch_first=True)
            self.mean_head = nn.Linear(hidden_size, action_dim)
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))
        with torch.no_grad():
            bound = 1.0 / math.sqrt(hidden_size)
            for p in self.gru.parameters():
                p.uniform_(-bound, bound, generator=generator)
            limit = math.sqrt(6.0 / (hidden_size + action_dim))
            self.mean_head.weight.uniform_(-limit, limit, generator=generator)
            self.mean_head.bias.zero_()

    def initial_state(self, batch: int) -> torch.Tensor:
        """The hidden state at the start of a trial: zeros ``[batch, hidden]``."""
        return torch.zeros(batch, self.hidden_size, device=self.log_std.device, dtype=self.log_std.dtype)

    def _log_std(self, like: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.log_std, min=math.log(self.min_std)).expand_as(like)

    def step(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step: ``x [B, I]``, ``h [B, hidden]`` -> ``(mean [B, A], log_std [B, A], h' [B, hidden])``."""
        out, h_next = self.gru(x.unsqueeze(1), h.unsqueeze(0).contiguous())
        mean = self.mean_head(out[:, 0])
        return mean, self._log_std(mean), h_next[0]

    def sequence(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole trials ``x [B, T, I]`` from ``h0`` (default: zeros, a trial's start) -> ``(mean, log_std)``
        ``[B, T, A]``."""
        h = self.initial_state(x.shape[0]) if h0 is None else h0
        out, _ = self.gru(x, h.unsqueeze(0).contiguous())
        mean = self.mean_head(out)
        return mean, self._log_std(mean)
