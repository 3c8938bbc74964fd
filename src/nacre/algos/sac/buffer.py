"""A flat transition buffer for SAC: rows added one env step at a time, grown on demand, FIFO at capacity."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_INITIAL_ROWS = 4096


class SACReplayBuffer:
    """obs, actions, rewards, next_obs, terminated and the task index of each transition (float32 / int64)."""

    def __init__(self, obs_dim: int, action_dim: int, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.obs_dim, self.action_dim, self.capacity = obs_dim, action_dim, capacity
        self._widths = {"obs": obs_dim, "actions": action_dim, "rewards": 1, "next_obs": obs_dim, "terminated": 1}
        self._data = self._allocate(0)
        self._size = 0
        self._next = 0

    def _allocate(self, rows: int) -> dict[str, np.ndarray]:
        data = {k: np.zeros((rows, w), dtype=np.float32) for k, w in self._widths.items()}
        data["task"] = np.zeros(rows, dtype=np.int64)
        return data

    def __len__(self) -> int:
        return self._size

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
            task: int = 0) -> None:  # fmt: skip
        """Append one transition (the oldest is overwritten once the buffer holds ``capacity`` rows)."""
        rows = len(self._data["task"])
        if self._next >= rows and rows < self.capacity:
            grown = self._allocate(min(self.capacity, max(_INITIAL_ROWS, 2 * rows)))
            for k, v in self._data.items():
                grown[k][:rows] = v
            self._data = grown
        i = self._next
        d = self._data
        d["obs"][i], d["actions"][i], d["rewards"][i] = obs, action, reward
        d["next_obs"][i], d["terminated"][i], d["task"][i] = next_obs, float(terminated), task
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, torch.Tensor]:
        """``n`` transitions drawn uniformly with replacement, as torch tensors."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty buffer")
        idx = rng.integers(0, self._size, size=n)
        return {k: torch.from_numpy(v[idx]) for k, v in self._data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self._size, "next": self._next,
                "data": {k: v[: self._size].copy() for k, v in self._data.items()}}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        self._data = self._allocate(max(size, min(self.capacity, _INITIAL_ROWS)))
        for k, v in state["data"].items():
            self._data[k][:size] = v
        self._size, self._next = size, int(state["next"])
