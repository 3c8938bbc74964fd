"""PEARL's data-collection schedule (the PEARL reference's data collection), with the tasks of a phase stepped together.

Every task keeps its own belief and its own episode sequence exactly as in the reference; the tasks
of one phase simply run their k-th episodes side by side (one batched policy call per step, one
batched encoder call per posterior update), which removes the per-step Python/torch overhead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from nacre.algos.pearl.config import PearlConfig
from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.sampling import sample_context
from nacre.buffers.replay import MultiTaskReplayBuffer
from nacre.nn.distributions import Posterior
from nacre.types import Trajectory
from nacre.vector_rollout import rollout_batch


class PearlCollector:
    """Rolls out the current policy on train tasks and fills the RL and encoder buffers."""

    def __init__(
        self, cfg: PearlConfig, learner: PearlLearner, env_for_task: Callable[[int], gym.Env],
        rl_buffer: MultiTaskReplayBuffer, enc_buffer: MultiTaskReplayBuffer, episode_length: int,
        envs_for_tasks: Callable[[list[int]], list[gym.Env]] | None = None,
        batches: Callable[[list[int]], list[list[int]]] | None = None,
    ) -> None:  # fmt: skip
        """``envs_for_tasks`` (optional) returns distinct environments for a batch of train tasks at once (a
        shared :class:`~nacre.envs.pool.EnvPool`); ``batches`` (optional) cuts a list of distinct tasks into the
        lists of task positions stepped side by side (e.g. at most one task per environment class, so a family
        whose tasks share environments needs one environment per class); default: all together."""
        self.cfg, self.learner = cfg, learner
        self.env_for_task = env_for_task
        self.envs_for_tasks = envs_for_tasks or (lambda tasks: [env_for_task(t) for t in tasks])
        self.batches = batches or (lambda tasks: [list(range(len(tasks)))])
        self.rl_buffer, self.enc_buffer = rl_buffer, enc_buffer
        self.episode_length = episode_length

    def collect(
        self, tasks: Sequence[int], num_steps: int, use_posterior: bool, add_to_encoder: bool,
        rng: np.random.Generator, context_rng: np.random.Generator,
    ) -> list[Trajectory]:  # fmt: skip
        """Whole episodes until each task has at least ``num_steps`` transitions; z is redrawn every episode.

        Beliefs start at the prior; with ``use_posterior`` each task's belief is re-inferred after every
        episode from context sampled out of its encoder buffer. ``tasks`` must be distinct.
        """
        if len(set(tasks)) != len(tasks):
            raise ValueError("collect() needs distinct tasks; run repeated tasks in separate calls")
        device = self.learner.device
        mean, var = Posterior.prior(len(tasks), self.cfg.latent_dim, device)
        steps = np.zeros(len(tasks), dtype=np.int64)
        out: list[Trajectory] = []
        while (steps < num_steps).any():
            active = np.flatnonzero(steps < num_steps)
            z = self.learner.sample_z(Posterior(mean[active], var[active]))
            trajs = rollout_batch(
                self.envs_for_tasks([tasks[i] for i in active]),
                lambda obs, idx, z=z: self.learner.act(obs, z[idx]),
                rng, self.episode_length,
            )  # fmt: skip
            for i, traj in zip(active, trajs, strict=True):
                self.rl_buffer.add_trajectory(tasks[i], traj)
                if add_to_encoder:
                    self.enc_buffer.add_trajectory(tasks[i], traj)
                steps[i] += len(traj)
            out += trajs
            informed = [i for i in active if len(self.enc_buffer.task(tasks[i])) > 0]
            if use_posterior and informed:
                with torch.no_grad():
                    ctx = sample_context(self.enc_buffer, [tasks[i] for i in informed], self.cfg, context_rng, device)
                    post = self.learner.infer_posterior(ctx)
                mean, var = mean.clone(), var.clone()
                mean[informed], var[informed] = post.mean, post.var
        return out

    def initial(self, tasks: list[int], rng: np.random.Generator, context_rng: np.random.Generator) -> list[Trajectory]:
        """Iteration 0: ``num_initial_steps`` per train task with z from the prior, into both buffers (batch by
        batch, see ``batches``)."""
        out: list[Trajectory] = []
        for batch in self.batches(tasks):
            out += self.collect([tasks[i] for i in batch], self.cfg.num_initial_steps, False, True, rng, context_rng)
        return out

    def iteration(
        self, tasks: Sequence[int], rng: np.random.Generator, context_rng: np.random.Generator
    ) -> dict[str, list[Trajectory]]:
        """The sampled tasks' share of an iteration: for each task, clear its encoder buffer, then prior,
        posterior and extra-RL-posterior episodes. A task drawn twice is handled twice, in a later wave."""
        out: dict[str, list[Trajectory]] = {"prior": [], "posterior": [], "extra": []}
        for whole_wave in _waves(tasks):
            for batch in self.batches(whole_wave):
                self._wave([whole_wave[i] for i in batch], out, rng, context_rng)
        return out

    def _wave(self, wave: list[int], out: dict[str, list[Trajectory]], rng: np.random.Generator,
              context_rng: np.random.Generator) -> None:  # fmt: skip
        """One batch of distinct tasks: clear their encoder buffers, then the prior, posterior and extra phases."""
        cfg = self.cfg
        for task in wave:
            self.enc_buffer.clear(task)
        if cfg.num_steps_prior:
            out["prior"] += self.collect(wave, cfg.num_steps_prior, False, True, rng, context_rng)
        if cfg.num_steps_posterior:
            out["posterior"] += self.collect(wave, cfg.num_steps_posterior, True, True, rng, context_rng)
        if cfg.num_extra_rl_steps_posterior:
            out["extra"] += self.collect(wave, cfg.num_extra_rl_steps_posterior, True, False, rng, context_rng)


def _waves(tasks: Sequence[int]) -> list[list[int]]:
    """Split a draw with repeats into lists of distinct tasks: first occurrences, second ones, ..."""
    waves: list[list[int]] = []
    seen: dict[int, int] = {}
    for task in tasks:
        k = seen.get(task, 0)
        seen[task] = k + 1
        if k == len(waves):
            waves.append([])
        waves[k].append(task)
    return waves
