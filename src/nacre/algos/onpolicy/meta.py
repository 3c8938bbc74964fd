"""Gradient-based meta-learning on on-policy batches: typed batches, inner objectives, inner steps and the outer
surrogates, as pure functions of parameter dicts (:mod:`nacre.algos.onpolicy.policies`).

Every objective returns one value per task (``[M]``): a masked mean over that task's steps, so a task's value
does not depend on how much padding its rollouts left. Inner objectives are *maximised* (``theta' = theta + lr *
grad``), as in the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from nacre.algos.onpolicy.advantages import task_advantages
from nacre.algos.onpolicy.policies import Params, expand_params, forward, kl_divergence, log_prob
from nacre.algos.onpolicy.sampler import ActFn, Rollouts


class OnPolicyBatch(NamedTuple):
    """One sampled batch of ``M`` tasks, ``N = K * H`` (padded) steps per task, torch tensors."""

    obs: torch.Tensor  # [M, N, O]
    actions: torch.Tensor  # [M, N, A] the Gaussian samples
    advantages: torch.Tensor  # [M, N]
    mask: torch.Tensor  # [M, N] 1.0 on steps that happened
    old_log_prob: torch.Tensor  # [M, N] log-likelihood under the sampling policy (no graph)
    old_mean: torch.Tensor  # [M, N, A] the sampling policy's distribution (no graph)
    old_log_std: torch.Tensor  # [M, N, A]


#: ``(params, batch) -> [M]`` per-task objective
Objective = Callable[[Params, OnPolicyBatch], torch.Tensor]


def task_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x [M, N]`` over each task's steps that happened: ``[M]``."""
    return (x * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


def make_batch(rollouts: Rollouts, rewards: np.ndarray, sampling_params: Params, discount: float, gae_lambda: float,
               normalize: bool = True, baseline_reg: float = 1e-5, min_std: float = 1e-6,
               device: str | torch.device = "cpu") -> OnPolicyBatch:  # fmt: skip
    """The batch of ``rollouts`` with advantages from ``rewards [M, K, H]`` (per-task linear baseline, GAE,
    per-task normalisation) and the distribution of ``sampling_params`` (shared or per-task) on its steps."""
    m, k, h = rollouts.mask.shape
    adv = task_advantages(rewards, rollouts.obs, rollouts.mask, discount, gae_lambda, normalize, baseline_reg)
    dtype = next(iter(sampling_params.values())).dtype
    as_t = lambda x, *shape: torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device).reshape(
        m, k * h, *shape
    )
    obs = as_t(rollouts.obs, -1)
    actions = as_t(rollouts.actions, -1)
    with torch.no_grad():
        mean, log_std = forward({n: p.detach() for n, p in sampling_params.items()}, obs, min_std)
        old = log_prob(mean, log_std, actions)
    return OnPolicyBatch(obs, actions, as_t(adv.advantages), as_t(rollouts.mask), old, mean, log_std)


def vpg_objective(params: Params, batch: OnPolicyBatch, min_std: float = 1e-6) -> torch.Tensor:
    """MAML's inner objective: ``mean_t log pi(a|s) A`` per task (docs/baselines.md, 5.3)."""
    mean, log_std = forward(params, batch.obs, min_std)
    return task_mean(log_prob(mean, log_std, batch.actions) * batch.advantages, batch.mask)


def lvc_objective(params: Params, batch: OnPolicyBatch, min_std: float = 1e-6) -> torch.Tensor:
    """ProMP's low-variance curvature objective: ``mean_t pi(a|s) / stopgrad(pi_old(a|s)) A`` per task, with
    ``pi_old`` the policy that sampled the batch (docs/baselines.md 5.2). Its gradient at ``pi = pi_old`` is the vanilla
    policy gradient."""
    mean, log_std = forward(params, batch.obs, min_std)
    ratio = torch.exp(log_prob(mean, log_std, batch.actions) - batch.old_log_prob)
    return task_mean(ratio * batch.advantages, batch.mask)


def inner_step(params: Params, batch: OnPolicyBatch, objective: Objective, lr: float,
               create_graph: bool) -> Params:  # fmt: skip
    """One gradient-ascent step of every task on its own slice of per-task ``params`` (``[M, ...]``, part of an
    autograd graph): ``p_i + lr * d objective_i / d p_i``. With ``create_graph`` the result is differentiable
    (second order) with respect to whatever ``params`` came from."""
    names = list(params)
    total = objective(params, batch).sum()  # task i's value depends only on slice i: one backward, M gradients
    grads = torch.autograd.grad(total, [params[n] for n in names], create_graph=create_graph)
    return {n: params[n] + lr * g for n, g in zip(names, grads, strict=True)}


def adaptation_path(theta: Params, batches: Sequence[OnPolicyBatch], objective: Objective, lr: float,
                    create_graph: bool) -> list[Params]:  # fmt: skip
    """``[theta, theta', theta'', ...]`` per task (each ``[M, ...]``): one inner step on ``batches[k]`` from the
    ``k``-th entry. Without ``create_graph`` every entry is detached (for sampling and evaluation); with it, every
    entry is a differentiable function of ``theta``."""
    if not batches:
        raise ValueError("adaptation needs at least one batch")
    n_tasks = batches[0].obs.shape[0]
    path = [expand_params(theta, n_tasks)]
    with torch.enable_grad():
        current = path[0]
        for batch in batches:
            if not create_graph:
                current = {n: p.detach().clone().requires_grad_(True) for n, p in current.items()}
            current = inner_step(current, batch, objective, lr, create_graph)
            path.append(current if create_graph else {n: p.detach() for n, p in current.items()})
    if not create_graph:
        path[0] = {n: p.detach() for n, p in path[0].items()}
    return path


def surrogate(params: Params, batch: OnPolicyBatch, min_std: float = 1e-6) -> torch.Tensor:
    """``mean_i mean_t r A`` with ``r = pi / pi_old`` on the batch (MAML-TRPO's outer objective)."""
    mean, log_std = forward(params, batch.obs, min_std)
    ratio = torch.exp(log_prob(mean, log_std, batch.actions) - batch.old_log_prob)
    return task_mean(ratio * batch.advantages, batch.mask).mean()


def clipped_surrogate(params: Params, batch: OnPolicyBatch, clip: float, min_std: float = 1e-6) -> torch.Tensor:
    """``mean_i mean_t min(r A, clip(r, 1 - clip, 1 + clip) A)`` (ProMP's outer objective)."""
    mean, log_std = forward(params, batch.obs, min_std)
    ratio = torch.exp(log_prob(mean, log_std, batch.actions) - batch.old_log_prob)
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return task_mean(torch.minimum(ratio * batch.advantages, clipped * batch.advantages), batch.mask).mean()


def mean_kl(params: Params, batch: OnPolicyBatch, min_std: float = 1e-6) -> torch.Tensor:
    """``mean_i mean_t KL(pi_old || pi)`` on the batch, ``pi_old`` its sampling policy."""
    mean, log_std = forward(params, batch.obs, min_std)
    return task_mean(kl_divergence(batch.old_mean, batch.old_log_std, mean, log_std), batch.mask).mean()


def act_fn(params: Params, min_std: float = 1e-6) -> ActFn:
    """The sampler's policy call for ``params`` (shared, or per-task with as many tasks as the pool has slots)."""
    frozen = {n: p.detach() for n, p in params.items()}
    device, dtype = frozen["log_std"].device, frozen["log_std"].dtype

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            mean, log_std = forward(frozen, torch.as_tensor(obs, dtype=dtype, device=device), min_std)
        return mean.cpu().numpy(), log_std.exp().cpu().numpy()

    return act
