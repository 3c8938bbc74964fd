"""MACAW's input contract: per-step Monte-Carlo targets of stored trajectories and the task-batched tensors.

MACAW never steps an environment during training: every target is derived from the stored (offline)
trajectories. For a step ``i`` of a stored trajectory of length ``L`` (steps ``0 .. L-1``):

* ``mc_return[i] = sum_{j=i}^{L-1} gamma^(j-i) r_j`` (return-to-go inside the stored trajectory);
* the *last state* is ``next_obs[L-1]``, the state after the trajectory's final action, ``k_i = L - i``
  steps away, reached with discount ``gamma^k_i``;
* ``last_terminated`` is 1 when the trajectory truly ended there (a fall, a goal): its value is 0 and
  nothing is bootstrapped. A time limit (``truncated``) or a trajectory cut by the dataset is bootstrapped.

The bootstrapped target is then ``mc_return + gamma^k V(last state) (1 - last_terminated)``
(the MACAW reference code's "value target"; the reference omits the ``(1 - last_terminated)`` factor and bootstraps
through falls).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class MacawBatch(NamedTuple):
    """Transitions of ``T`` tasks, ``B`` per task: torch tensors of shape ``[T, B, ...]``."""

    obs: torch.Tensor  # [T, B, O]
    actions: torch.Tensor  # [T, B, A] in [-1, 1]
    mc_returns: torch.Tensor  # [T, B, 1] return-to-go within the stored trajectory
    last_obs: torch.Tensor  # [T, B, O] state at the end of the stored trajectory (next_obs of its last step)
    discount_to_last: torch.Tensor  # [T, B, 1] gamma^k, k = steps from this transition to last_obs
    last_terminated: torch.Tensor  # [T, B, 1] 1.0 if the stored trajectory ended with a true terminal

    def slice_rows(self, start: int, stop: int) -> MacawBatch:
        """Rows ``start:stop`` of every task (the chunk one inner step uses)."""
        return MacawBatch(*(x[:, start:stop] for x in self))

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> MacawBatch:
        return MacawBatch(*(x.to(device=device, dtype=dtype) for x in self))

    @property
    def tasks(self) -> int:
        return self.obs.shape[0]

    @property
    def rows(self) -> int:
        return self.obs.shape[1]


class EpisodeTargets(NamedTuple):
    """Per-step targets of one stored trajectory (numpy, length ``L``)."""

    returns: np.ndarray  # [L] float64, return-to-go
    steps_to_last: np.ndarray  # [L] int64, k_i = L - i
    discount_to_last: np.ndarray  # [L] float64, gamma^k_i
    bootstrap: bool  # False iff the trajectory ended with a true terminal


def mc_returns_and_bootstrap(
    rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, gamma: float
) -> EpisodeTargets:
    """Return-to-go, steps and discount to the last state, and whether to bootstrap, for one trajectory.

    ``terminated``/``truncated`` may be true only at the last step (split multi-episode data first). If both
    are true at the end, the terminal wins (no bootstrap). A trajectory with neither flag set (cut by the
    dataset) is bootstrapped.
    """
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    term = np.asarray(terminated, dtype=bool).reshape(-1)
    trunc = np.asarray(truncated, dtype=bool).reshape(-1)
    n = len(r)
    if n == 0:
        raise ValueError("empty trajectory")
    if len(term) != n or len(trunc) != n:
        raise ValueError(f"rewards ({n}), terminated ({len(term)}) and truncated ({len(trunc)}) lengths differ")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if term[:-1].any() or trunc[:-1].any():
        raise ValueError("terminated/truncated set before the last step: split the data into episodes first")
    returns = np.empty(n, dtype=np.float64)
    acc = 0.0
    for i in range(n - 1, -1, -1):
        acc = r[i] + gamma * acc
        returns[i] = acc
    steps = np.arange(n, 0, -1, dtype=np.int64)
    return EpisodeTargets(returns, steps, np.power(gamma, steps.astype(np.float64)), bool(not term[-1]))


def episode_fields(
    obs: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    next_obs: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
) -> dict[str, np.ndarray]:
    """The per-step arrays of :class:`MacawBatch` (without the task axis) for one stored trajectory, float32."""
    t = mc_returns_and_bootstrap(rewards, terminated, truncated, gamma)
    n = len(t.returns)
    last = np.broadcast_to(np.asarray(next_obs, dtype=np.float32)[-1], (n, np.shape(next_obs)[-1]))
    return {
        "obs": np.asarray(obs, dtype=np.float32),
        "actions": np.asarray(actions, dtype=np.float32),
        "mc_returns": t.returns.astype(np.float32)[:, None],
        "last_obs": np.ascontiguousarray(last),
        "discount_to_last": t.discount_to_last.astype(np.float32)[:, None],
        "last_terminated": np.full((n, 1), 0.0 if t.bootstrap else 1.0, dtype=np.float32),
    }
