"""Whole trajectories for on-policy meta-RL: ``M`` tasks x ``K`` rollouts stepped in lockstep.

An :class:`EnvPool` holds ``M x W`` environments (``W`` per task slot, at most ``K``), built once and given new
tasks in place where the family allows it (``env.unwrapped.set_task``, or the distribution's ``set_env_task`` within
one ``env_key``), else rebuilt. :func:`sample_rollouts`
runs the ``K`` rollouts of every task in ``ceil(K / W)`` waves; each step of a wave makes ONE policy call on the
observations ``[M, w, O]`` of all its environments (finished ones included, their actions are ignored) and draws
the Gaussian noise of all of them from the given ``numpy`` generator, which also seeds every reset: the result is
a function of the generator's state, the policy and the tasks.

Actions follow ProMP's convention (docs/baselines.md 5.1): the policy's Gaussian sample ``a`` is stored as drawn (it is
what the log-likelihoods use) and the environment receives ``low + (a / scale + 1) (high - low) / 2`` clipped to
``[low, high]`` (``scale`` 10: the policy's ``[-10, 10]`` covers the bounds).

The result (:class:`Rollouts`) has fixed-shape arrays ``[M, K, H, ...]`` with a ``mask`` that is 1 on the steps
that happened (a rollout that terminates early leaves zeros after its last step). Memory is that of one batch: the
arrays are allocated per call, the pool never grows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from nacre.seeding import env_seed

#: observations ``[M, w, O]`` (float32) -> (mean ``[M, w, A]``, std broadcastable to it), numpy
ActFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Rollouts(NamedTuple):
    """``K`` rollouts of each of ``M`` tasks, at most ``H`` steps each (numpy)."""

    obs: np.ndarray  # [M, K, H, O] float32
    actions: np.ndarray  # [M, K, H, A] float32: the Gaussian samples (before rescaling and clipping)
    rewards: np.ndarray  # [M, K, H] float32: the dense reward the environment returns
    sparse_rewards: np.ndarray  # [M, K, H] float32: info["sparse_reward"] (== rewards for dense families)
    mask: np.ndarray  # [M, K, H] float32: 1.0 on steps that happened
    terminated: np.ndarray  # [M, K] bool: the rollout ended by a true termination (not the time limit)
    success: np.ndarray  # [M, K] bool: info["success"] at some step
    lengths: np.ndarray  # [M, K] int64
    diverged: np.ndarray  # [M, K] bool: the policy gave a non-finite action (zeros were played instead)

    @property
    def num_steps(self) -> int:
        """Environment steps taken."""
        return int(self.lengths.sum())

    def returns(self, sparse: bool = False) -> np.ndarray:
        """Undiscounted return of each rollout, ``[M, K]`` (float64)."""
        r = self.sparse_rewards if sparse else self.rewards
        return (r.astype(np.float64) * self.mask).sum(-1)


def env_action(action: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float) -> np.ndarray:
    """The policy's action (``[-scale, scale]`` covers the bounds) mapped affinely to ``[low, high]`` and clipped."""
    return np.clip(low + (action / scale + 1.0) * 0.5 * (high - low), low, high)


#: ``switch(env, old_task, new_task) -> bool``: give ``env`` the new task in place and return True, or return False
#: (the pool then builds a new environment)
TaskSwitch = Callable[[gym.Env, Any, Any], bool]


def set_task_switch(env: gym.Env, old_task: Any, new_task: Any) -> bool:
    """In place through ``env.unwrapped.set_task`` where the environment has it (nacre's MuJoCo families)."""
    setter = getattr(env.unwrapped, "set_task", None)
    if setter is None:
        return False
    setter(new_task)
    return True


def distribution_switch(distribution: Any) -> TaskSwitch:
    """The switch for a task distribution: a family that groups tasks by ``env_key`` (environments shared only
    within a key, e.g. Meta-World's classes) switches in place only between tasks of one key, through its
    ``set_env_task``; other families use :func:`set_task_switch`."""
    env_key = getattr(distribution, "env_key", None)
    set_env_task = getattr(distribution, "set_env_task", None)

    def switch(env: gym.Env, old_task: Any, new_task: Any) -> bool:
        if env_key is not None and set_env_task is not None:
            old_key, new_key = env_key(old_task), env_key(new_task)
            if old_key is not None or new_key is not None:
                if old_key != new_key:
                    return False
                set_env_task(env, new_task)
                return True
        return set_task_switch(env, old_task, new_task)

    return switch


class EnvPool:
    """``slots x envs_per_task`` environments; slot ``m`` runs task ``tasks[m]``."""

    def __init__(self, make_env: Callable[[Any], gym.Env], tasks: Sequence[Any], envs_per_task: int,
                 switch: TaskSwitch = set_task_switch) -> None:  # fmt: skip
        if envs_per_task < 1 or not tasks:
            raise ValueError("an EnvPool needs at least one task and one env per task")
        self.make_env = make_env
        self.switch = switch
        self.envs_per_task = int(envs_per_task)
        self.tasks: list[Any] = list(tasks)
        self.envs: list[list[gym.Env]] = [[make_env(t) for _ in range(self.envs_per_task)] for t in self.tasks]
        self.rebuilt = 0  # environments rebuilt by set_tasks (families without set_task)
        space = self.envs[0][0].action_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError("on-policy meta-RL needs a continuous (Box) action space")
        self.low = np.asarray(space.low, dtype=np.float64)
        self.high = np.asarray(space.high, dtype=np.float64)
        self.obs_dim = int(np.prod(self.envs[0][0].observation_space.shape))
        self.action_dim = int(np.prod(space.shape))

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    def set_tasks(self, tasks: Sequence[Any]) -> None:
        """Give slot ``m`` the task ``tasks[m]`` (as many tasks as slots): in place where the pool's ``switch``
        can, else by building a new environment."""
        if len(tasks) != len(self.tasks):
            raise ValueError(f"this pool has {len(self.tasks)} task slots, got {len(tasks)} tasks")
        for m, task in enumerate(tasks):
            for j, env in enumerate(self.envs[m]):
                if not self.switch(env, self.tasks[m], task):
                    env.close()
                    self.envs[m][j] = self.make_env(task)
                    self.rebuilt += 1
        self.tasks = list(tasks)

    def close(self) -> None:
        for row in self.envs:
            for env in row:
                env.close()


def sample_rollouts(pool: EnvPool, act: ActFn, rollouts_per_task: int, horizon: int, rng: np.random.Generator,
                    action_scale: float = 10.0, deterministic: bool = False) -> Rollouts:  # fmt: skip
    """``rollouts_per_task`` rollouts of at most ``horizon`` steps in every task slot of ``pool``; see the module
    docstring. ``deterministic`` plays the mean action (no noise is drawn)."""
    m_tasks, k_total, h = pool.num_tasks, int(rollouts_per_task), int(horizon)
    o_dim, a_dim = pool.obs_dim, pool.action_dim
    obs = np.zeros((m_tasks, k_total, h, o_dim), dtype=np.float32)
    actions = np.zeros((m_tasks, k_total, h, a_dim), dtype=np.float32)
    rewards = np.zeros((m_tasks, k_total, h), dtype=np.float32)
    sparse = np.zeros((m_tasks, k_total, h), dtype=np.float32)
    mask = np.zeros((m_tasks, k_total, h), dtype=np.float32)
    terminated = np.zeros((m_tasks, k_total), dtype=bool)
    success = np.zeros((m_tasks, k_total), dtype=bool)
    lengths = np.zeros((m_tasks, k_total), dtype=np.int64)
    diverged = np.zeros((m_tasks, k_total), dtype=bool)
    low, high = pool.low, pool.high
    start = 0
    while start < k_total:
        w = min(pool.envs_per_task, k_total - start)
        current = np.zeros((m_tasks, w, o_dim), dtype=np.float32)
        for m in range(m_tasks):
            for j in range(w):
                first, _ = pool.envs[m][j].reset(seed=env_seed(rng))
                current[m, j] = np.asarray(first, dtype=np.float32).reshape(-1)
        running = np.ones((m_tasks, w), dtype=bool)
        for t in range(h):
            mean, std = act(current)
            mean = np.asarray(mean, dtype=np.float32)
            if deterministic:
                sample = mean
            else:
                sample = mean + np.asarray(std, dtype=np.float32) * rng.standard_normal(mean.shape, dtype=np.float32)
            finite = np.isfinite(sample).all(axis=-1)
            if not finite.all():  # played as zeros, flagged
                diverged[:, start : start + w] |= ~finite & running
                sample = np.where(finite[..., None], sample, np.float32(0.0))
            to_env = env_action(sample, low, high, action_scale)  # the whole batch in one call
            for m, j in zip(*np.nonzero(running), strict=True):
                k = start + j
                next_obs, reward, term, trunc, info = pool.envs[m][j].step(to_env[m, j])
                obs[m, k, t] = current[m, j]
                actions[m, k, t] = sample[m, j]
                rewards[m, k, t] = reward
                sparse[m, k, t] = info.get("sparse_reward", reward)
                mask[m, k, t] = 1.0
                success[m, k] |= bool(info.get("success", False))
                lengths[m, k] = t + 1
                current[m, j] = np.asarray(next_obs, dtype=np.float32).reshape(-1)
                if term or trunc:
                    running[m, j] = False
                    terminated[m, k] = bool(term)
            if not running.any():
                break
        start += w
    return Rollouts(obs, actions, rewards, sparse, mask, terminated, success, lengths, diverged)
