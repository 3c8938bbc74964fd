"""PEARL at meta-test time: posterior sampling over online context (the PEARL paper's meta-test protocol)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.sampling import trajectories_context
from nacre.nn.distributions import Posterior
from nacre.types import Trajectory
from nacre.vector_rollout import BatchPolicyFn


@dataclass
class PearlBeliefs:
    """Beliefs of ``n`` independent runs: posteriors ``[n, L]``, the z in use, each run's context."""

    belief: Posterior
    z: torch.Tensor
    contexts: list[list[Trajectory]]


class PearlAdapter:
    """Start from z ~ prior; after each trajectory redraw z from the current belief, which becomes
    q(z | all context so far) once ``num_exp_traj_eval`` trajectories have been collected."""

    def __init__(self, learner: PearlLearner, deterministic: bool = True, gen: torch.Generator | None = None) -> None:
        """``gen`` draws the z samples (and actions if not deterministic); evaluation passes its own so
        that meta-testing never consumes the training generator."""
        self.learner = learner
        self.cfg = learner.cfg
        self.deterministic = deterministic
        self.gen = gen

    def begin(self, n: int) -> PearlBeliefs:
        prior = Posterior.prior(n, self.cfg.latent_dim, self.learner.device)
        return PearlBeliefs(prior, self.learner.sample_z(prior, self.gen), [[] for _ in range(n)])

    def policy(self, state: PearlBeliefs) -> BatchPolicyFn:
        return lambda obs, idx: self.learner.act(obs, state.z[idx], self.deterministic, self.gen)

    @torch.no_grad()
    def observe(self, state: PearlBeliefs, trajectories: Sequence[Trajectory], trajectories_seen: int) -> PearlBeliefs:
        contexts = [[*c, t] for c, t in zip(state.contexts, trajectories, strict=True)]
        belief = state.belief
        if trajectories_seen >= self.cfg.num_exp_traj_eval:
            belief = self.infer(contexts)
        return PearlBeliefs(belief, self.learner.sample_z(belief, self.gen), contexts)

    def infer(self, contexts: list[list[Trajectory]]) -> Posterior:
        """q(z | c) for each run's whole context; runs with equally long contexts share one encoder call."""
        device = self.learner.device
        ctxs = [trajectories_context(c, self.cfg, device) for c in contexts]
        if len({c.shape[1] for c in ctxs}) == 1:
            return self.learner.infer_posterior(torch.cat(ctxs))
        posts = [self.learner.infer_posterior(c) for c in ctxs]
        return Posterior(torch.cat([p.mean for p in posts]), torch.cat([p.var for p in posts]))
