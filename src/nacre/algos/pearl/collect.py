"""PEARL's data-collection schedule (REFERENCE 1.3)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from nacre.algos.pearl.config import PearlConfig
from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.sampling import sample_context
from nacre.buffers.replay import MultiTaskReplayBuffer
from nacre.nn.distributions import Posterior
from nacre.rollout import rollout
from nacre.types import Trajectory


class PearlCollector:
    """Rolls out the current policy on train tasks and fills the RL and encoder buffers."""

    def __init__(
        self, cfg: PearlConfig, learner: PearlLearner, env_for_task: Callable[[int], gym.Env],
        rl_buffer: MultiTaskReplayBuffer, enc_buffer: MultiTaskReplayBuffer, episode_length: int,
    ) -> None:  # fmt: skip
        self.cfg, self.learner = cfg, learner
        self.env_for_task = env_for_task
        self.rl_buffer, self.enc_buffer = rl_buffer, enc_buffer
        self.episode_length = episode_length

    def collect(
        self, task: int, num_steps: int, use_posterior: bool, add_to_encoder: bool,
        rng: np.random.Generator, context_rng: np.random.Generator,
    ) -> list[Trajectory]:  # fmt: skip
        """Whole episodes until at least ``num_steps`` transitions; z is redrawn every episode.

        The belief starts at the prior; with ``use_posterior`` it is re-inferred after every episode
        from context sampled out of the task's encoder buffer.
        """
        env = self.env_for_task(task)
        device = self.learner.device
        belief = Posterior.prior(1, self.cfg.latent_dim, device)
        trajs: list[Trajectory] = []
        steps = 0
        while steps < num_steps:
            z = self.learner.sample_z(belief)
            traj = rollout(env, lambda o, z=z: self.learner.act(o, z[0]), rng, self.episode_length)
            self.rl_buffer.add_trajectory(task, traj)
            if add_to_encoder:
                self.enc_buffer.add_trajectory(task, traj)
            trajs.append(traj)
            steps += len(traj)
            if use_posterior and len(self.enc_buffer.task(task)) > 0:
                with torch.no_grad():
                    belief = self.learner.infer_posterior(
                        sample_context(self.enc_buffer, [task], self.cfg, context_rng, device)
                    )
        return trajs

    def initial(self, tasks: list[int], rng: np.random.Generator, context_rng: np.random.Generator) -> list[Trajectory]:
        """Iteration 0: ``num_initial_steps`` per train task with z from the prior, into both buffers."""
        out: list[Trajectory] = []
        for task in tasks:
            out += self.collect(task, self.cfg.num_initial_steps, False, True, rng, context_rng)
        return out

    def iteration(
        self, task: int, rng: np.random.Generator, context_rng: np.random.Generator
    ) -> dict[str, list[Trajectory]]:
        """One sampled task's share of an iteration: clear its encoder buffer, then prior,
        posterior and extra-RL-posterior episodes."""
        cfg = self.cfg
        self.enc_buffer.clear(task)
        out = {"prior": [], "posterior": [], "extra": []}
        if cfg.num_steps_prior:
            out["prior"] = self.collect(task, cfg.num_steps_prior, False, True, rng, context_rng)
        if cfg.num_steps_posterior:
            out["posterior"] = self.collect(task, cfg.num_steps_posterior, True, True, rng, context_rng)
        if cfg.num_extra_rl_steps_posterior:
            out["extra"] = self.collect(task, cfg.num_extra_rl_steps_posterior, True, False, rng, context_rng)
        return out
