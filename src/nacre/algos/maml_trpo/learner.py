"""MAML-TRPO's update (docs/baselines.md, 5.3): the outer TRPO step through the vanilla-policy-gradient inner step.

Meta-objective ``L(theta) = mean_i mean_t [ pi_i'(a|s) / pi_old,i'(a|s) A ]`` on each task's post-update data,
where ``theta_i' = theta + alpha grad_theta mean_t [ log pi_theta(a|s) A ]`` on its pre-update data (every inner
step recomputed from ``theta``, with ``create_graph`` so that the gradient and the KL Hessian are second order);
the trust region is ``mean_i mean_t KL(pi_old,i' || pi_i') <= max_kl`` on the same post-update data.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch

from nacre.algos.maml_trpo.config import MamlTrpoConfig
from nacre.algos.onpolicy.meta import OnPolicyBatch, adaptation_path, mean_kl, surrogate, vpg_objective
from nacre.algos.onpolicy.policies import GaussianMLPPolicy
from nacre.algos.onpolicy.trpo import trpo_step


def meta_surrogate_and_kl(theta: dict[str, torch.Tensor], pre: Sequence[OnPolicyBatch], post: OnPolicyBatch,
                          inner_lr: float, create_graph: bool,
                          min_std: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(L(theta), KL(theta))`` of the module docstring at the current values of ``theta``."""
    objective = functools.partial(vpg_objective, min_std=min_std)
    adapted = adaptation_path(theta, pre, objective, inner_lr, create_graph)[-1]
    return surrogate(adapted, post, min_std), mean_kl(adapted, post, min_std)


class MamlTrpoLearner:
    """Owns the meta-policy; one :meth:`update` is one TRPO step (no optimiser state)."""

    def __init__(self, cfg: MamlTrpoConfig, obs_dim: int, action_dim: int, generator: torch.Generator) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.policy = GaussianMLPPolicy(obs_dim, action_dim, cfg.hidden_size, cfg.hidden_layers, cfg.init_std,
                                        cfg.min_std, generator).to(self.device)  # fmt: skip

    @property
    def inner_objective(self) -> Any:
        return functools.partial(vpg_objective, min_std=self.cfg.min_std)

    def update(self, pre: Sequence[OnPolicyBatch], post: OnPolicyBatch) -> dict[str, float]:
        cfg = self.cfg
        theta = self.policy.params()
        info = trpo_step(
            list(theta.values()),
            lambda create_graph: meta_surrogate_and_kl(theta, pre, post, cfg.inner_lr, create_graph, cfg.min_std),
            cfg.max_kl, cfg.cg_iterations, cfg.backtrack_ratio, cfg.max_backtracks, cfg.cg_damping,
        )  # fmt: skip
        return info.metrics()

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict()}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self.policy.load_state_dict(state["policy"])
