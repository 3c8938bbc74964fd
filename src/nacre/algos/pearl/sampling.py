"""Turning replay buffers into PEARL's two inputs: context for the encoder and RL batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from nacre.algos.pearl.config import PearlConfig
from nacre.buffers.context import make_context
from nacre.buffers.replay import MultiTaskReplayBuffer
from nacre.types import Trajectory, TransitionBatch


def sample_context(
    buffer: MultiTaskReplayBuffer, tasks: Sequence[int], cfg: PearlConfig, rng: np.random.Generator,
    device: torch.device,
) -> torch.Tensor:  # fmt: skip
    """Context ``[T, embedding_batch_size, C]`` from ``buffer`` (sparse rewards if configured): the encoder
    buffer, or in the gradient steps the RL buffer with ``context_source="replay"`` (the trainer chooses).

    ``rnn-trajectories`` takes whole consecutive episodes in order; the others draw transitions
    uniformly (for ``rnn-transitions`` that is the shuffled-transition ablation).
    """
    reward_key = "sparse_rewards" if cfg.sparse_rewards else "rewards"
    fields = ["obs", "actions", reward_key] + (["next_obs"] if cfg.use_next_obs_in_context else [])
    data = buffer.sample(tasks, cfg.embedding_batch_size, rng, fields, sequence=cfg.encoder == "rnn-trajectories")
    ctx = make_context(data["obs"], data["actions"], data[reward_key], data.get("next_obs"),
                       cfg.use_next_obs_in_context)  # fmt: skip
    return torch.from_numpy(ctx).to(device)


def sample_rl_batch(
    buffer: MultiTaskReplayBuffer, tasks: Sequence[int], batch_size: int, rng: np.random.Generator,
    device: torch.device,
) -> TransitionBatch:  # fmt: skip
    """RL batch ``[T, batch_size, ...]`` from the whole replay buffer, dense rewards."""
    d = buffer.sample(tasks, batch_size, rng, ("obs", "actions", "rewards", "next_obs", "terminated"))
    t = {k: torch.from_numpy(v).to(device) for k, v in d.items()}
    return TransitionBatch(t["obs"], t["actions"], t["rewards"], t["next_obs"], t["terminated"])


def trajectories_context(trajs: Sequence[Trajectory], cfg: PearlConfig, device: torch.device) -> torch.Tensor:
    """Online context ``[1, N, C]`` from the trajectories of one task, in the order collected."""
    if not trajs:
        return torch.zeros(1, 0, 0, device=device)
    rewards = [t.sparse_rewards if cfg.sparse_rewards else t.rewards for t in trajs]
    ctx = make_context(
        np.concatenate([t.obs for t in trajs]), np.concatenate([t.actions for t in trajs]),
        np.concatenate(rewards), np.concatenate([t.next_obs for t in trajs]), cfg.use_next_obs_in_context,
    )  # fmt: skip
    return torch.from_numpy(ctx)[None].to(device)
