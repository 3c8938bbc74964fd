"""RL2-PPO's update: advantages over whole trials, then PPO epochs on the clipped objective (docs/baselines.md, 5.4).

Advantages: a trial is ONE sequence for the returns and for GAE: the discounted return-to-go and the GAE sum run
across the episode boundaries inside a trial (what the policy does in episode 1 is credited with what it earns in
episode 2; that is how RL2 learns to explore) and stop at the trial's end (``V`` after its last step is 0). The
baseline is the per-task linear feature baseline of the other on-policy methods fitted on the task's trials, with
the time feature counting steps from the trial's start; advantages are normalised per task.

PPO: with ``r = pi(a|x) / pi_old(a|x)`` (``pi_old`` the policy that sampled the trials, its log-likelihoods
recomputed over the whole trials before the first epoch), ``ppo_epochs`` passes over the trials, each minimising
``- mean_t min(r A, clip(r, 1 - eps, 1 + eps) A) - entropy_coef * entropy`` by Adam on whole trials (full
back-propagation through time from the trial's zero hidden state).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from nacre.algos.onpolicy.advantages import gae, normalize, task_advantages
from nacre.algos.onpolicy.policies import entropy, log_prob
from nacre.algos.rl2.config import Rl2Config
from nacre.algos.rl2.networks import Rl2Policy
from nacre.algos.rl2.trials import Trials


def trial_advantages(rewards: np.ndarray, obs: np.ndarray, mask: np.ndarray, discount: float, lam: float,
                     normalize_per_task: bool = True, reg: float = 1e-5,
                     values: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Advantages ``[M, K, T]`` of trials (``rewards``, ``mask [M, K, T]``, ``obs [M, K, T, O]``): GAE over each
    whole trial with the per-task linear baseline fitted on the trials, or with the given ``values``."""
    if values is None:
        return task_advantages(rewards, obs, mask, discount, lam, normalize_per_task, reg).advantages
    adv = gae(rewards, values, mask, discount, lam)
    if normalize_per_task:
        adv = np.stack([normalize(adv[m], mask[m]) for m in range(len(adv))])
    return adv


class Rl2Batch(NamedTuple):
    """``B`` whole trials of at most ``T`` steps (torch)."""

    inputs: torch.Tensor  # [B, T, I]
    actions: torch.Tensor  # [B, T, A]
    advantages: torch.Tensor  # [B, T]
    mask: torch.Tensor  # [B, T]
    old_log_prob: torch.Tensor  # [B, T] under the sampling policy (no graph)


def make_batch(trials: Trials, rewards: np.ndarray, policy: Rl2Policy, cfg: Rl2Config) -> Rl2Batch:
    """The PPO batch of ``trials`` with advantages from ``rewards [M, K, T]``."""
    adv = trial_advantages(rewards, trials.obs, trials.mask, cfg.discount, cfg.gae_lambda, cfg.normalize_advantages,
                           cfg.baseline_reg)  # fmt: skip
    device = policy.log_std.device
    flat = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device).reshape(
        -1, *x.shape[2:])  # fmt: skip
    inputs, actions = flat(trials.inputs), flat(trials.actions)
    with torch.no_grad():
        mean, log_std = policy.sequence(inputs)
        old = log_prob(mean, log_std, actions)
    return Rl2Batch(inputs, actions, flat(adv), flat(trials.mask), old)


def clipped_objective(new_log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                      mask: torch.Tensor, clip: float) -> torch.Tensor:  # fmt: skip
    """``mean over the valid steps of min(r A, clip(r, 1 - clip, 1 + clip) A)``, ``r = exp(new - old)``."""
    ratio = torch.exp(new_log_prob - old_log_prob)
    both = torch.minimum(ratio * advantages, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages)
    return (both * mask).sum() / mask.sum().clamp_min(1.0)


def ppo_loss(policy: Rl2Policy, batch: Rl2Batch, clip: float,
             entropy_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """``(loss, metrics)`` of one PPO step on ``batch`` (see the module docstring)."""
    mean, log_std = policy.sequence(batch.inputs)
    new = log_prob(mean, log_std, batch.actions)
    objective = clipped_objective(new, batch.old_log_prob, batch.advantages, batch.mask, clip)
    valid = batch.mask.sum().clamp_min(1.0)
    ent = (entropy(log_std) * batch.mask).sum() / valid
    loss = -objective - entropy_coef * ent
    with torch.no_grad():
        log_ratio = (new - batch.old_log_prob) * batch.mask
        approx_kl = float(((torch.exp(log_ratio) - 1.0 - log_ratio) * batch.mask).sum() / valid)
        clipped = float((((log_ratio.exp() - 1.0).abs() > clip).float() * batch.mask).sum() / valid)
    return loss, {"ppo/objective": float(objective.detach()), "ppo/entropy": float(ent.detach()),
                  "ppo/approx_kl": approx_kl, "ppo/clip_fraction": clipped}  # fmt: skip


class Rl2Learner:
    """Owns the recurrent policy and its Adam optimiser (both checkpointed)."""

    def __init__(self, cfg: Rl2Config, obs_dim: int, action_dim: int, generator: torch.Generator) -> None:
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.policy = Rl2Policy(obs_dim, action_dim, cfg.hidden_size, cfg.init_std, cfg.min_std,
                                generator).to(self.device)  # fmt: skip
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate)

    def update(self, batch: Rl2Batch, rng: np.random.Generator) -> dict[str, float]:
        """``ppo_epochs`` passes over the trials (in ``minibatch_trials`` chunks, shuffled by ``rng``)."""
        cfg = self.cfg
        n = batch.inputs.shape[0]
        size = cfg.minibatch_trials or n
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        for _ in range(cfg.ppo_epochs):
            order = rng.permutation(n) if size < n else np.arange(n)
            for start in range(0, n, size):
                idx = torch.as_tensor(order[start : start + size], device=batch.inputs.device)
                part = Rl2Batch(*(x[idx] for x in batch))
                loss, last = ppo_loss(self.policy, part, cfg.clip_eps, cfg.entropy_coef)
                first = first or last
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
        with torch.no_grad():
            _, after = ppo_loss(self.policy, batch, cfg.clip_eps, cfg.entropy_coef)
        return {"ppo/objective_first": first["ppo/objective"], **{k: v for k, v in after.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        self.policy.load_state_dict(state["policy"])
        if not weights_only:
            self.optimizer.load_state_dict(state["optimizer"])
