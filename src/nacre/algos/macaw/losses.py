"""MACAW's losses as pure functions (MACAW paper section 5, the MACAW paper's algorithm).

Shapes: ``[..., B]`` with ``B`` the batch rows of one task (usually ``[T, B]``). Every loss averages over the
last (row) axis only and returns one value per task (``[...]``) so that one backward pass of the sum over
tasks yields each task's own inner gradient; callers average over tasks for the outer loss. Metrics are
detached means over everything.
"""

from __future__ import annotations

import math

import torch

Metrics = dict[str, torch.Tensor]
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_prob(mean: torch.Tensor, actions: torch.Tensor, std: float) -> torch.Tensor:
    """log N(a; mean, std^2 I), summed over the action axis, computed in fp32 (or wider)."""
    dtype = torch.promote_types(mean.dtype, torch.float32)
    z = (actions.to(dtype) - mean.to(dtype)) / std
    return (-0.5 * z.pow(2) - math.log(std) - _LOG_SQRT_2PI).sum(-1)


def value_loss(v_pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
    """L_V = mean_rows (V(s) - target)^2 with a detached target (MC return, or the bootstrapped one outside)."""
    loss = (v_pred - target.detach()).pow(2).mean(-1)
    return loss, {"value_loss": loss.detach().mean(), "value_mean": v_pred.detach().mean()}


def bootstrapped_returns(
    mc_returns: torch.Tensor, discount_to_last: torch.Tensor, last_value: torch.Tensor, last_terminated: torch.Tensor
) -> torch.Tensor:
    """R_boot = R_mc + gamma^k V(last state) (1 - last_terminated), detached."""
    return (mc_returns + discount_to_last * last_value * (1.0 - last_terminated)).detach()


def standardise(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x - mean) / (std + eps) over the row axis of each task (unbiased std, as ``torch.std``)."""
    correction = 1 if x.shape[-1] > 1 else 0
    return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, correction=correction) + eps)


def awr_weights(advantages: torch.Tensor, temperature: float, max_weight: float) -> torch.Tensor:
    """w = exp(min(A_std / T, log max_weight)), detached; A_std = per-task standardised advantages.

    Clamped above only (MACAW reference): a huge advantage gets exactly ``max_weight``, a very negative one ~0.
    """
    scaled = standardise(advantages.detach()) / temperature
    return torch.exp(scaled.clamp(max=math.log(max_weight)))


def awr_loss(log_prob: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
    """L_AWR = -mean_rows(w log pi(a|s)) with detached weights."""
    loss = -(weights.detach() * log_prob).mean(-1)
    return loss, {
        "awr_loss": loss.detach().mean(),
        "log_prob_mean": log_prob.detach().mean(),
        "weight_mean": weights.detach().mean(),
        "weight_max": weights.detach().max(),
    }


def advantage_head_loss(prediction: torch.Tensor, advantages: torch.Tensor) -> tuple[torch.Tensor, Metrics]:
    """L_ADV = mean_rows(A_head(s, a) - A)^2; the target is the raw (not standardised) advantage, as in the
    reference."""
    loss = (prediction - advantages.detach()).pow(2).mean(-1)
    return loss, {"adv_head_loss": loss.detach().mean()}


def policy_inner_loss(awr: torch.Tensor, adv_head: torch.Tensor | None, coef: torch.Tensor | None) -> torch.Tensor:
    """L_pi = L_AWR + lambda L_ADV (just L_AWR without the advantage head)."""
    if adv_head is None or coef is None:
        return awr
    return awr + coef * adv_head
