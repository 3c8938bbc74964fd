"""Offline task data for MACAW: stored episodes -> flat per-task arrays with the derived targets -> batches.

Each task's episodes are concatenated in collection order into ``N`` rows. The per-row MACAW targets
(``mc_returns``, ``last_obs``, ``discount_to_last``, ``last_terminated``) come from
:func:`nacre.algos.macaw.batch.episode_fields`, one stored episode at a time, so a return never runs across
two episodes and a true terminal (``terminated``) is never bootstrapped while a time limit (``truncated``) or
an episode cut by the end of the buffer is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch

from nacre.algos.macaw.batch import MacawBatch, episode_fields
from nacre.datasets.store import DatasetError, load_task_episodes, read_manifest
from nacre.types import Trajectory

Window = Literal["all", "first", "middle", "last"]

#: the per-row array fields of :class:`OfflineTaskData`, in order
ROW_FIELDS = (
    "obs", "actions", "rewards", "sparse_rewards", "next_obs", "terminated", "truncated", "mc_returns", "last_obs",
    "discount_to_last", "last_terminated",
)  # fmt: skip


@dataclass(eq=False)
class OfflineTaskData:
    """One task's transitions, flat arrays of N rows in collection order, with MACAW's derived fields."""

    task_index: int
    task: dict
    obs: np.ndarray  # [N, O] float32
    actions: np.ndarray  # [N, A] float32 in [-1, 1]
    rewards: np.ndarray  # [N] float32 dense
    sparse_rewards: np.ndarray  # [N] float32
    next_obs: np.ndarray  # [N, O]
    terminated: np.ndarray  # [N] bool
    truncated: np.ndarray  # [N] bool
    mc_returns: np.ndarray  # [N, 1] float32 return-to-go within the stored episode
    last_obs: np.ndarray  # [N, O] next_obs of the episode's last step
    discount_to_last: np.ndarray  # [N, 1] gamma^k
    last_terminated: np.ndarray  # [N, 1] 1.0 iff the episode ended with a true terminal
    #: first row of each episode [E] (int64) and the behaviour agent's gradient steps when it began [E]
    episode_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    behaviour_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.rewards)

    def contiguous_indices(self, rng: np.random.Generator, n: int, skip: int = 1) -> np.ndarray:
        """A random window of ``n`` consecutive rows (it may span episodes; the targets are per row).

        ``skip > 1``: consecutive rows of the sub-sampled buffer that keeps every ``skip``-th row (rows 0, skip,
        2 skip, ...), as the MACAW reference's buffers do; the window then spans about ``skip * n`` rows.
        """
        kept = self._kept_rows(skip)
        if not 0 < n <= kept:
            raise ValueError(
                f"cannot take {n} consecutive rows from task {self.task_index} ({kept} rows"
                + (f" after keeping every {skip}th" if skip > 1 else "")
                + ")"
            )
        start = int(rng.integers(0, kept - n + 1))
        return np.arange(start, start + n) * skip

    def uniform_indices(self, rng: np.random.Generator, n: int, skip: int = 1) -> np.ndarray:
        """``n`` rows drawn uniformly with replacement (from every ``skip``-th row)."""
        kept = self._kept_rows(skip)
        if n <= 0 or kept == 0:
            raise ValueError(f"cannot sample {n} rows from task {self.task_index} ({kept} rows)")
        return rng.integers(0, kept, size=n) * skip

    def _kept_rows(self, skip: int) -> int:
        """How many rows the sub-sampled buffer (every ``skip``-th row, from row 0) holds."""
        if skip < 1:
            raise ValueError(f"skip must be a positive integer, got {skip}")
        return -(-len(self) // skip)

    def rows(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Every per-row field indexed by ``idx``."""
        return {name: getattr(self, name)[idx] for name in ROW_FIELDS}


def _window_episodes(lengths: np.ndarray, window: Window, n: int | None, task_index: int) -> tuple[int, int]:
    """Episode range ``[a, b)`` of a window of about ``n`` transitions, its edges moved to the nearest
    episode boundary (ties to the earlier one), at least one episode."""
    n_eps = len(lengths)
    if window == "all":
        return 0, n_eps
    total = int(lengths.sum())
    if n is None or n <= 0:
        raise DatasetError(f"window {window!r} needs a positive window_transitions, got {n}")
    if n > total:
        raise DatasetError(f"window_transitions {n} exceeds the {total} transitions of task {task_index}")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    nearest = lambda x: int(np.argmin(np.abs(bounds - x)))
    if window == "first":
        a, b = 0, max(1, nearest(n))
    elif window == "last":
        a, b = min(n_eps - 1, nearest(total - n)), n_eps
    else:
        a = min(n_eps - 1, nearest((total - n) / 2))
        b = max(a + 1, nearest(bounds[a] + n))
    return a, b


def _flatten(task_index: int, task: dict, episodes: Sequence[Trajectory], steps: np.ndarray,
             gamma: float) -> OfflineTaskData:  # fmt: skip
    derived = []
    for ep in episodes:
        try:
            derived.append(episode_fields(ep.obs, ep.actions, ep.rewards, ep.next_obs, ep.terminated, ep.truncated,
                                          gamma))  # fmt: skip
        except ValueError as exc:
            raise DatasetError(f"task {task_index}: {exc}") from None
    cat = lambda xs, dtype: np.concatenate([np.asarray(x, dtype=dtype) for x in xs])
    lengths = np.asarray([len(ep) for ep in episodes], dtype=np.int64)
    return OfflineTaskData(
        task_index=task_index, task=dict(task),
        obs=cat([d["obs"] for d in derived], np.float32), actions=cat([d["actions"] for d in derived], np.float32),
        rewards=cat([ep.rewards for ep in episodes], np.float32),
        sparse_rewards=cat([ep.sparse_rewards for ep in episodes], np.float32),
        next_obs=cat([ep.next_obs for ep in episodes], np.float32),
        terminated=cat([ep.terminated for ep in episodes], bool),
        truncated=cat([ep.truncated for ep in episodes], bool),
        mc_returns=cat([d["mc_returns"] for d in derived], np.float32),
        last_obs=cat([d["last_obs"] for d in derived], np.float32),
        discount_to_last=cat([d["discount_to_last"] for d in derived], np.float32),
        last_terminated=cat([d["last_terminated"] for d in derived], np.float32),
        episode_starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        behaviour_steps=np.asarray(steps, dtype=np.int64),
    )  # fmt: skip


def load_offline_tasks(
    root: Path, task_indices: Sequence[int] | None = None, *, gamma: float, window: Window = "all",
    window_transitions: int | None = None, expect_distribution: str | None = None,
    expect_obs_dim: int | None = None, expect_action_dim: int | None = None,
) -> list[OfflineTaskData]:  # fmt: skip
    """Load tasks (default: every task of the manifest) as :class:`OfflineTaskData`, in the order asked.

    ``window`` keeps the first / middle / last ``window_transitions`` transitions of each task's buffer, cut at
    the nearest episode boundaries (the paper's data-quality ablation); ``"all"`` ignores ``window_transitions``.
    A mismatched distribution id or observation/action dimension, or a missing task, raises ``DatasetError``.
    """
    root = Path(root)
    if window not in get_args(Window):
        raise DatasetError(f"window must be one of {', '.join(get_args(Window))}, got {window!r}")
    manifest = read_manifest(root)
    if expect_distribution is not None and manifest["distribution_id"] != expect_distribution:
        raise DatasetError(f"dataset {root} holds distribution {manifest['distribution_id']!r}, "
                           f"expected {expect_distribution!r}")  # fmt: skip
    spaces = manifest.get("spaces")
    if spaces is not None:
        _check_dims(root, spaces["observation"]["shape"][0], spaces["action"]["shape"][0], expect_obs_dim,
                    expect_action_dim)  # fmt: skip
    indices = range(len(manifest["tasks"])) if task_indices is None else task_indices
    out = []
    for i in indices:
        episodes, steps, meta = load_task_episodes(root, int(i))
        _check_dims(root, meta["observation_space"].shape[0], meta["action_space"].shape[0], expect_obs_dim,
                    expect_action_dim, f" (task {i})")  # fmt: skip
        a, b = _window_episodes(np.asarray([len(ep) for ep in episodes]), window, window_transitions, int(i))
        out.append(_flatten(int(i), meta["task"], episodes[a:b], steps[a:b], gamma))
    return out


def _check_dims(root: Path, obs_dim: int, act_dim: int, want_obs: int | None, want_act: int | None,
                where: str = "") -> None:  # fmt: skip
    if want_obs is not None and obs_dim != want_obs:
        raise DatasetError(f"dataset {root} has observation dim {obs_dim}{where}, expected {want_obs}")
    if want_act is not None and act_dim != want_act:
        raise DatasetError(f"dataset {root} has action dim {act_dim}{where}, expected {want_act}")


def macaw_batch(datas: Sequence[OfflineTaskData], indices: Sequence[np.ndarray],
                device: torch.device | str = "cpu") -> MacawBatch:  # fmt: skip
    """Stack ``datas[t].rows(indices[t])`` into a float32 :class:`MacawBatch` of ``[T, B, ...]`` tensors."""
    if len(datas) != len(indices) or not datas:
        raise ValueError(f"macaw_batch needs one index array per task, got {len(datas)} tasks, {len(indices)} arrays")
    sizes = {len(idx) for idx in indices}
    if len(sizes) != 1:
        raise ValueError(f"every task needs the same number of rows, got {sorted(sizes)}")
    tensors = []
    for name in MacawBatch._fields:
        stacked = np.stack([getattr(d, name)[np.asarray(idx)] for d, idx in zip(datas, indices, strict=True)])
        tensors.append(torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32)).to(device))
    return MacawBatch(*tensors)
