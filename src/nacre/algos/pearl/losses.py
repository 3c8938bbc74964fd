"""PEARL's losses as pure functions of (networks, tensors) -> (loss, metrics) (the PEARL reference losses).

Shapes: ``TB`` = tasks x batch rows flattened; ``z`` is already repeated over the batch rows.
"""

from __future__ import annotations

import torch

from nacre.nn.distributions import Posterior, TanhGaussianSample

Metrics = dict[str, torch.Tensor]


def q_target(
    rewards: torch.Tensor, terminated: torch.Tensor, next_v: torch.Tensor, reward_scale: float, discount: float
) -> torch.Tensor:
    """y = reward_scale * r + (1 - terminal) * gamma * Vbar(s', z); no gradient."""
    return (reward_scale * rewards + (1.0 - terminated) * discount * next_v).detach()


def q_loss(q_pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
    """L_Q = mean (Q1 - y)^2 + mean (Q2 - y)^2 with ``q_pred`` of shape ``[2, TB, 1]``."""
    loss = (q_pred - target.unsqueeze(0)).pow(2).mean(dim=(1, 2)).sum()
    return loss, {"losses/qf": loss.detach(), "stats/q_pred_mean": q_pred.detach().mean(),
                  "stats/q_target_mean": target.mean()}  # fmt: skip


def kl_loss(posterior: Posterior, kl_lambda: float, reduction: str = "sum") -> tuple[torch.Tensor, Metrics]:
    """L_KL = kl_lambda * KL(q(z|c) || N(0, I)), summed (reference) or averaged over tasks."""
    kl = posterior.kl_to_standard_normal()
    total = kl.sum() if reduction == "sum" else kl.mean()
    return kl_lambda * total, {"losses/kl": kl.detach().mean()}


def v_loss(v_pred: torch.Tensor, min_q_new: torch.Tensor, log_pi: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
    """L_V = mean (V(s, z) - (min Q(s, a~, z) - log pi(a~|s, z)))^2 with a detached target."""
    target = (min_q_new - log_pi).detach()
    loss = (v_pred - target).pow(2).mean()
    return loss, {"losses/vf": loss.detach(), "stats/v_pred_mean": v_pred.detach().mean()}


def policy_loss(
    sample: TanhGaussianSample,
    min_q_new: torch.Tensor,
    mean_reg: float,
    std_reg: float,
    pre_activation_reg: float = 0.0,
) -> tuple[torch.Tensor, Metrics]:
    """L_pi = mean(log pi - min Q) + mean_reg * mean(mu^2) + std_reg * mean(log_std^2) [+ pre-tanh reg]."""
    loss = (sample.log_prob - min_q_new).mean()
    loss = loss + mean_reg * sample.mean.pow(2).mean() + std_reg * sample.log_std.pow(2).mean()
    if pre_activation_reg:
        loss = loss + pre_activation_reg * sample.pre_tanh.pow(2).sum(-1).mean()
    return loss, {
        "losses/policy": loss.detach(),
        "stats/log_pi_mean": sample.log_prob.detach().mean(),
        "stats/policy_log_std_mean": sample.log_std.detach().mean(),
    }
