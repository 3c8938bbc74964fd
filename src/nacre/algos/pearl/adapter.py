"""PEARL at meta-test time: posterior sampling over online context (REFERENCE 1.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.sampling import trajectories_context
from nacre.nn.distributions import Posterior
from nacre.rollout import PolicyFn
from nacre.types import Trajectory


@dataclass
class PearlBelief:
    belief: Posterior
    z: torch.Tensor
    context: list[Trajectory] = field(default_factory=list)


class PearlAdapter:
    """Start from z ~ prior; after each trajectory redraw z from the current belief, which becomes
    q(z | all context so far) once ``num_exp_traj_eval`` trajectories have been collected."""

    def __init__(self, learner: PearlLearner, deterministic: bool = True) -> None:
        self.learner = learner
        self.cfg = learner.cfg
        self.deterministic = deterministic

    def begin(self) -> PearlBelief:
        prior = Posterior.prior(1, self.cfg.latent_dim, self.learner.device)
        return PearlBelief(prior, self.learner.sample_z(prior))

    def policy(self, state: PearlBelief) -> PolicyFn:
        z = state.z[0]
        return lambda obs: self.learner.act(obs, z, self.deterministic)

    @torch.no_grad()
    def observe(self, state: PearlBelief, trajectory: Trajectory, trajectories_seen: int) -> PearlBelief:
        context = [*state.context, trajectory]
        belief = state.belief
        if trajectories_seen >= self.cfg.num_exp_traj_eval:
            belief = self.learner.infer_posterior(trajectories_context(context, self.cfg, self.learner.device))
        return PearlBelief(belief, self.learner.sample_z(belief), context)
