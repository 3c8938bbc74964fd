"""Per-task replay buffers that grow on demand (the reference pre-allocates 1e6 rows per task, twice).

Storage doubles when full until ``capacity``; after that the oldest transitions are overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nacre.types import Trajectory

_FIELDS = ("obs", "actions", "rewards", "sparse_rewards", "next_obs", "terminated")


def field_widths(obs_dim: int, action_dim: int) -> dict[str, int]:
    """Columns of each stored field; a row is ``sum(widths) * 4`` bytes (float32)."""
    return {"obs": obs_dim, "actions": action_dim, "rewards": 1, "sparse_rewards": 1, "next_obs": obs_dim,
            "terminated": 1}  # fmt: skip


_INITIAL_ROWS = 1024


class TaskReplayBuffer:
    """Transitions of one task, in insertion order (a ring once ``capacity`` is reached)."""

    def __init__(self, obs_dim: int, action_dim: int, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.obs_dim, self.action_dim, self.capacity = obs_dim, action_dim, capacity
        self._widths = field_widths(obs_dim, action_dim)
        self._data = self._allocate(0)
        self._size = 0
        self._next = 0  # write position
        self._episode_starts: list[int] = []

    def _allocate(self, rows: int) -> dict[str, np.ndarray]:
        return {k: np.zeros((rows, w), dtype=np.float32) for k, w in self._widths.items()}

    def __len__(self) -> int:
        return self._size

    @property
    def allocated_rows(self) -> int:
        return len(self._data["obs"])

    def clear(self) -> None:
        """Forget all transitions (the memory is kept for reuse)."""
        self._size = 0
        self._next = 0
        self._episode_starts = []

    def _reserve(self, rows: int) -> None:
        have = self.allocated_rows
        if rows <= have:
            return
        new_rows = min(self.capacity, max(rows, 2 * have, _INITIAL_ROWS))
        grown = self._allocate(new_rows)
        for k in _FIELDS:
            grown[k][: self._size] = self._data[k][: self._size]
        self._data = grown

    def add_trajectory(self, traj: Trajectory) -> None:
        """Append one episode (transitions beyond ``capacity`` overwrite the oldest)."""
        n = len(traj)
        values = {
            "obs": traj.obs, "actions": traj.actions, "rewards": traj.rewards[:, None],
            "sparse_rewards": traj.sparse_rewards[:, None], "next_obs": traj.next_obs,
            "terminated": traj.terminated[:, None],
        }  # fmt: skip
        if self._size < self.capacity:
            self._reserve(min(self.capacity, self._size + n))
        self._episode_starts.append(self._next)
        for i in range(0, n, self.capacity):  # an episode longer than the buffer keeps its tail
            chunk = slice(i, min(n, i + self.capacity))
            m = chunk.stop - chunk.start
            idx = (self._next + np.arange(m)) % self.capacity
            for k in _FIELDS:
                self._data[k][idx] = values[k][chunk]
            self._next = (self._next + m) % self.capacity
            self._size = min(self.capacity, self._size + m)
        if len(self._episode_starts) > self.capacity:  # bound the bookkeeping once the ring wraps
            del self._episode_starts[: len(self._episode_starts) - self.capacity]

    def sample_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` indices drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self._size, size=n)

    def sequence_indices(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Indices of whole consecutive episodes in temporal order, cut to ``n`` rows."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        oldest = self._next if self._size == self.capacity else 0
        offsets = [(s - oldest) % self.capacity for s in self._episode_starts if s < self._size]
        fitting = [o for o in offsets if o + n <= self._size]  # episode starts with n rows after them
        offset = int(fitting[rng.integers(len(fitting))]) if fitting else 0
        ages = offset + np.arange(min(n, self._size))
        return (oldest + ages) % self.capacity if self._size == self.capacity else ages

    def get(self, indices: np.ndarray, fields: Iterable[str] = _FIELDS) -> dict[str, np.ndarray]:
        return {k: self._data[k][indices] for k in fields}

    def state_dict(self) -> dict[str, Any]:
        return {
            "data": {k: v[: self.allocated_rows].copy() for k, v in self._data.items()},
            "size": self._size,
            "next": self._next,
            "episode_starts": list(self._episode_starts),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        data = {k: np.asarray(v, dtype=np.float32) for k, v in state["data"].items()}
        if set(data) != set(_FIELDS) or data["obs"].shape[1] != self.obs_dim:
            raise ValueError("replay buffer state does not match this buffer's dimensions")
        self._data = data
        self._size = int(state["size"])
        self._next = int(state["next"])
        self._episode_starts = [int(s) for s in state["episode_starts"]]


class MultiTaskReplayBuffer:
    """One :class:`TaskReplayBuffer` per task index, created lazily."""

    def __init__(self, obs_dim: int, action_dim: int, capacity: int) -> None:
        self.obs_dim, self.action_dim, self.capacity = obs_dim, action_dim, capacity
        self.widths = field_widths(obs_dim, action_dim)
        self.row_bytes = 4 * sum(self.widths.values())
        self.tasks: dict[int, TaskReplayBuffer] = {}

    def task(self, index: int) -> TaskReplayBuffer:
        if index not in self.tasks:
            self.tasks[index] = TaskReplayBuffer(self.obs_dim, self.action_dim, self.capacity)
        return self.tasks[index]

    def add_trajectory(self, index: int, traj: Trajectory) -> None:
        self.task(index).add_trajectory(traj)

    def clear(self, index: int) -> None:
        self.task(index).clear()

    def num_transitions(self) -> int:
        return sum(len(b) for b in self.tasks.values())

    def nbytes(self) -> int:
        return sum(b.allocated_rows for b in self.tasks.values()) * self.row_bytes

    def sample(
        self,
        task_indices: Sequence[int],
        batch_size: int,
        rng: np.random.Generator,
        fields: Sequence[str] = _FIELDS,
        sequence: bool = False,
    ) -> dict[str, np.ndarray]:
        """Stacked arrays ``[len(task_indices), batch_size, width]`` for each requested field."""
        out = {k: np.empty((len(task_indices), batch_size, self.widths[k]), np.float32) for k in fields}
        for row, t in enumerate(task_indices):
            buf = self.task(t)
            idx = buf.sequence_indices(rng, batch_size) if sequence else buf.sample_indices(rng, batch_size)
            got = buf.get(idx, fields)
            for k in fields:
                if len(idx) < batch_size:  # short buffer in sequence mode: repeat to fill
                    got[k] = np.resize(got[k], (batch_size, got[k].shape[1]))
                out[k][row] = got[k]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"tasks": {int(t): b.state_dict() for t, b in self.tasks.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tasks = {}
        for t, s in state["tasks"].items():
            self.task(int(t)).load_state_dict(s)
