"""ProMP's update (docs/baselines.md, 5.2): Adam steps on the clipped outer objective through the LVC inner step.

With ``theta_i^(k+1) = theta_i^(k) + alpha grad mean_t [ pi(a|s) / stopgrad(pi_old(a|s)) A ]`` on the task's
``k``-th pre-update batch (``pi_old`` the policy that sampled it), the loss minimised by ``ppo_steps`` Adam steps on
the same batches is

    - mean_i mean_t min(r A, clip(r, 1 - eps, 1 + eps) A)  +  mean_k eta_k mean_i mean_t KL(pi_old^(k) || pi^(k))

with ``r = pi_i'(a|s) / pi_old,i'(a|s)`` on the post-update batch and the KL terms on the pre-update batches
(averaged over the inner steps ``k``, as the ProMP reference does: with two inner steps each counts half);
gradients flow through the inner steps (second order). After the steps, each ``eta_k`` is halved or doubled
towards ``target_inner_kl`` if ``adaptive_inner_kl_penalty``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch

from nacre.algos.onpolicy.meta import OnPolicyBatch, adaptation_path, clipped_surrogate, lvc_objective, mean_kl
from nacre.algos.onpolicy.policies import GaussianMLPPolicy, Params
from nacre.algos.promp.config import PrompConfig


def promp_loss(theta: Params, pre: Sequence[OnPolicyBatch], post: OnPolicyBatch, inner_lr: float, clip: float,
               kl_penalties: Sequence[float], min_std: float = 1e-6,
               create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:  # fmt: skip
    """``(loss, clipped surrogate, [inner KL per inner step])`` of the module docstring at ``theta``."""
    objective = functools.partial(lvc_objective, min_std=min_std)
    path = adaptation_path(theta, pre, objective, inner_lr, create_graph)
    surr = clipped_surrogate(path[-1], post, clip, min_std)
    kls = [mean_kl(path[k], batch, min_std) for k, batch in enumerate(pre)]
    loss = -surr + sum(eta * kl for eta, kl in zip(kl_penalties, kls, strict=True)) / len(kls)
    return loss, surr, kls


def adapt_penalty(eta: float, kl: float, target: float) -> float:
    """Halve ``eta`` when ``kl < target / 1.5``, double it when ``kl > 1.5 target`` (docs/baselines.md, 5.2)."""
    if kl < target / 1.5:
        return eta / 2.0
    if kl > target * 1.5:
        return eta * 2.0
    return eta


class PrompLearner:
    """Owns the meta-policy, its Adam optimiser and the KL penalties (all checkpointed)."""

    def __init__(self, cfg: PrompConfig, obs_dim: int, action_dim: int, generator: torch.Generator) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.policy = GaussianMLPPolicy(obs_dim, action_dim, cfg.hidden_size, cfg.hidden_layers, cfg.init_std,
                                        cfg.min_std, generator).to(self.device)  # fmt: skip
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate)
        self.kl_penalties = [cfg.inner_kl_penalty] * cfg.inner_steps

    @property
    def inner_objective(self) -> Any:
        return functools.partial(lvc_objective, min_std=self.cfg.min_std)

    def update(self, pre: Sequence[OnPolicyBatch], post: OnPolicyBatch) -> dict[str, float]:
        cfg = self.cfg
        theta = self.policy.params()
        surrogates: list[float] = []
        for _ in range(cfg.ppo_steps):
            loss, surr, _ = promp_loss(theta, pre, post, cfg.inner_lr, cfg.clip_eps, self.kl_penalties, cfg.min_std)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            surrogates.append(float(surr.detach()))
        with torch.no_grad():
            path = adaptation_path(theta, pre, self.inner_objective, cfg.inner_lr, create_graph=False)
            kls = [float(mean_kl(path[k], batch, cfg.min_std)) for k, batch in enumerate(pre)]
            outer_kl = float(mean_kl(path[-1], post, cfg.min_std))
            final = float(clipped_surrogate(path[-1], post, cfg.clip_eps, cfg.min_std))
        metrics = {"promp/surrogate_first": surrogates[0], "promp/surrogate_last": surrogates[-1],
                   "promp/surrogate_after": final, "promp/outer_kl": outer_kl}  # fmt: skip
        for k, kl in enumerate(kls):
            metrics[f"promp/inner_kl_{k}"] = kl
            metrics[f"promp/kl_penalty_{k}"] = self.kl_penalties[k]
        if cfg.adaptive_inner_kl_penalty:
            self.kl_penalties = [
                adapt_penalty(eta, kl, cfg.target_inner_kl) for eta, kl in zip(self.kl_penalties, kls, strict=True)
            ]
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(),
                "kl_penalties": list(self.kl_penalties)}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self.policy.load_state_dict(state["policy"])
        if weights_only:
            return
        self.optimizer.load_state_dict(state["optimizer"])
        penalties = [float(x) for x in state["kl_penalties"]]
        if len(penalties) != self.cfg.inner_steps:
            raise ValueError(f"checkpoint has {len(penalties)} KL penalties for {self.cfg.inner_steps} inner steps")
        self.kl_penalties = penalties
