"""Named data contracts. Shapes: ``T`` tasks, ``B`` transitions per task, ``O``/``A`` obs/action dims."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # only annotations name torch: the data contracts load without it
    import torch

#: ``progress(kind, n)``: a long job reports ``n`` more units of ``kind`` ("grad_steps", "eval_trajectories");
#: an evaluation first reports ``("eval_total", n)``, the number of "eval_trajectories" units it will report
Progress = Callable[[str, int], None]


class Trajectory(NamedTuple):
    """One episode, arrays of length ``L`` (numpy). ``terminated``/``truncated`` are kept apart."""

    obs: np.ndarray  # [L, O]
    actions: np.ndarray  # [L, A], in the agent's [-1, 1] action space
    rewards: np.ndarray  # [L] dense reward
    sparse_rewards: np.ndarray  # [L] sparse reward (== rewards for dense families)
    next_obs: np.ndarray  # [L, O]
    terminated: np.ndarray  # [L] bool: a true end, no bootstrapping
    truncated: np.ndarray  # [L] bool: time limit
    success: np.ndarray  # [L] bool: info["success"] (all False if the family has none)

    def __len__(self) -> int:
        return len(self.rewards)

    def episode_return(self, sparse: bool = False) -> float:
        return float((self.sparse_rewards if sparse else self.rewards).sum())

    @property
    def succeeded(self) -> bool:
        return bool(self.success.any())


class TransitionBatch(NamedTuple):
    """A batch of transitions per task, torch tensors of shape ``[T, B, ...]``."""

    obs: torch.Tensor  # [T, B, O]
    actions: torch.Tensor  # [T, B, A]
    rewards: torch.Tensor  # [T, B, 1] the reward the critic learns from (dense)
    next_obs: torch.Tensor  # [T, B, O]
    terminated: torch.Tensor  # [T, B, 1] 1.0 where the episode truly ended
