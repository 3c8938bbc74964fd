"""Trials for RL2: every environment of an :class:`~nacre.algos.onpolicy.sampler.EnvPool` runs ONE trial of
``episodes`` episodes in lockstep with the others, its hidden state carried from episode to episode.

A trial is one sequence of at most ``T = episodes x horizon`` steps: when an episode ends (termination, the env's
time limit or ``horizon`` steps) the environment is reset at once (seeded from the generator) and the next episode
continues the sequence, so step ``t`` of every environment is taken at the same policy call. Each call is ONE
batched GRU step on all environments (finished ones included, their actions ignored); the Gaussian noise and every
reset seed come from the given ``numpy`` generator, so a batch is a function of the generator's state, the policy
and the tasks. A new call starts every trial from a zero hidden state: trials never share memory.

Actions follow the on-policy convention: the Gaussian sample is stored (and fed back as the previous action) as
drawn; the environment receives it mapped from ``[-action_scale, action_scale]`` to its bounds and clipped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from nacre.algos.onpolicy.sampler import EnvPool, env_action
from nacre.algos.rl2.networks import Rl2Policy, policy_inputs
from nacre.seeding import env_seed


class Trials(NamedTuple):
    """One trial per environment: ``M`` task slots x ``K`` environments each, at most ``T`` steps (numpy)."""

    inputs: np.ndarray  # [M, K, T, O + A + 2] float32: what the policy read at each step
    obs: np.ndarray  # [M, K, T, O] float32
    actions: np.ndarray  # [M, K, T, A] float32: the Gaussian samples
    rewards: np.ndarray  # [M, K, T] float32: dense
    sparse_rewards: np.ndarray  # [M, K, T] float32: info["sparse_reward"] (== rewards for dense families)
    mask: np.ndarray  # [M, K, T] float32: 1 on the steps that happened
    episode: np.ndarray  # [M, K, T] int64: the episode of the trial each step belongs to
    episode_returns: np.ndarray  # [M, K, E] float64 dense
    sparse_episode_returns: np.ndarray  # [M, K, E] float64
    success: np.ndarray  # [M, K, E] bool: info["success"] at some step of the episode
    lengths: np.ndarray  # [M, K, E] int64
    diverged: np.ndarray  # [M, K] bool: the policy gave a non-finite action (zeros were played)

    @property
    def num_steps(self) -> int:
        return int(self.lengths.sum())

    def returns(self, sparse: bool = False) -> np.ndarray:
        """Undiscounted return of each episode of each trial ``[M, K, E]``."""
        return self.sparse_episode_returns if sparse else self.episode_returns


def sample_trials(pool: EnvPool, policy: Rl2Policy, episodes: int, horizon: int, rng: np.random.Generator,
                  action_scale: float = 10.0, sparse_input: bool = False, deterministic: bool = False,
                  memory: bool = True) -> Trials:  # fmt: skip
    """One trial of ``episodes`` episodes (each at most ``horizon`` steps) in every environment of ``pool``; see
    the module docstring. ``sparse_input`` feeds the policy the sparse reward; ``deterministic`` plays the mean;
    ``memory=False`` is the no-adaptation ablation: the hidden state is zeroed before every step, so each action
    depends on the current input only and nothing seen earlier in the trial."""
    m_tasks, k, e_total, h = pool.num_tasks, pool.envs_per_task, int(episodes), int(horizon)
    t_total = e_total * h
    o_dim, a_dim = pool.obs_dim, pool.action_dim
    i_dim = o_dim + a_dim + 2
    inputs = np.zeros((m_tasks, k, t_total, i_dim), dtype=np.float32)
    obs = np.zeros((m_tasks, k, t_total, o_dim), dtype=np.float32)
    actions = np.zeros((m_tasks, k, t_total, a_dim), dtype=np.float32)
    rewards = np.zeros((m_tasks, k, t_total), dtype=np.float32)
    sparse = np.zeros((m_tasks, k, t_total), dtype=np.float32)
    mask = np.zeros((m_tasks, k, t_total), dtype=np.float32)
    episode = np.zeros((m_tasks, k, t_total), dtype=np.int64)
    ep_ret = np.zeros((m_tasks, k, e_total))
    ep_sparse = np.zeros((m_tasks, k, e_total))
    success = np.zeros((m_tasks, k, e_total), dtype=bool)
    lengths = np.zeros((m_tasks, k, e_total), dtype=np.int64)
    diverged = np.zeros((m_tasks, k), dtype=bool)

    current = np.zeros((m_tasks, k, o_dim), dtype=np.float32)
    for m in range(m_tasks):
        for j in range(k):
            first, _ = pool.envs[m][j].reset(seed=env_seed(rng))
            current[m, j] = np.asarray(first, dtype=np.float32).reshape(-1)
    prev_a = np.zeros((m_tasks, k, a_dim), dtype=np.float32)
    prev_r = np.zeros((m_tasks, k), dtype=np.float32)
    prev_d = np.zeros((m_tasks, k), dtype=np.float32)
    ep_index = np.zeros((m_tasks, k), dtype=np.int64)
    ep_step = np.zeros((m_tasks, k), dtype=np.int64)
    running = np.ones((m_tasks, k), dtype=bool)
    device = policy.log_std.device
    with torch.no_grad():
        hidden = policy.initial_state(m_tasks * k)
        for t in range(t_total):
            if not memory:
                hidden = policy.initial_state(m_tasks * k)
            x = policy_inputs(current, prev_a, prev_r, prev_d)
            mean_t, log_std_t, hidden = policy.step(torch.as_tensor(x.reshape(m_tasks * k, i_dim), device=device),
                                                    hidden)  # fmt: skip
            mean = mean_t.cpu().numpy().reshape(m_tasks, k, a_dim)
            if deterministic:
                sample = mean
            else:
                std = np.exp(log_std_t.cpu().numpy()).reshape(m_tasks, k, a_dim)
                sample = mean + std * rng.standard_normal(mean.shape, dtype=np.float32)
            finite = np.isfinite(sample).all(axis=-1)
            if not finite.all():
                diverged |= ~finite & running
                sample = np.where(finite[..., None], sample, np.float32(0.0))
            to_env = env_action(sample, pool.low, pool.high, action_scale)
            for m, j in zip(*np.nonzero(running), strict=True):
                e = ep_index[m, j]
                next_obs, reward, term, trunc, info = pool.envs[m][j].step(to_env[m, j])
                sparse_r = float(info.get("sparse_reward", reward))
                inputs[m, j, t], obs[m, j, t], actions[m, j, t] = x[m, j], current[m, j], sample[m, j]
                rewards[m, j, t], sparse[m, j, t], mask[m, j, t], episode[m, j, t] = reward, sparse_r, 1.0, e
                ep_ret[m, j, e] += reward
                ep_sparse[m, j, e] += sparse_r
                success[m, j, e] |= bool(info.get("success", False))
                lengths[m, j, e] += 1
                ep_step[m, j] += 1
                done = bool(term or trunc or ep_step[m, j] >= h)
                prev_a[m, j], prev_r[m, j], prev_d[m, j] = sample[m, j], sparse_r if sparse_input else reward, done
                if not done:
                    current[m, j] = np.asarray(next_obs, dtype=np.float32).reshape(-1)
                    continue
                ep_index[m, j] += 1
                ep_step[m, j] = 0
                if ep_index[m, j] >= e_total:
                    running[m, j] = False
                else:
                    first, _ = pool.envs[m][j].reset(seed=env_seed(rng))
                    current[m, j] = np.asarray(first, dtype=np.float32).reshape(-1)
            if not running.any():
                break
    return Trials(inputs, obs, actions, rewards, sparse, mask, episode, ep_ret, ep_sparse, success, lengths, diverged)
