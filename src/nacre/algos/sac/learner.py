"""Soft actor-critic (Haarnoja et al. 2018, "SAC v2"): twin Q with target networks, a tanh-Gaussian policy and
automatic entropy tuning towards ``-|A|``.

The agent may be *task-conditioned*: with ``num_tasks > 0`` a one-hot task id is concatenated to the observation
of every network, so one agent learns several tasks at once. Bootstrapping is masked by ``terminated`` only (a
time limit bootstraps). All randomness goes through explicit ``torch.Generator`` s.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nacre.nn.mlp import EnsembleMLP, set_fast_paths
from nacre.nn.policies import TanhGaussianPolicy
from nacre.nn.precision import resolve_precision


@dataclass(frozen=True)
class SACConfig:
    """SAC hyper-parameters (defaults: the SAC paper's v2 settings)."""

    hidden_size: int = 256
    hidden_layers: int = 2
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    init_alpha: float = 1.0
    #: ``None``: ``-action_dim``
    target_entropy: float | None = None
    # speed options: each computes the same update (to fp32 round-off, tests/unit/test_sac.py); all off is the
    # plain step. ``precision`` "bf16" is the one lossy option: matmuls under bf16 autocast, losses in fp32;
    # "auto" picks bf16 only where the hardware multiplies bf16 natively (nacre.nn.precision), as PEARL does
    #: twin Q: "split" one matmul per critic (fastest on CPU), "batched" one batched matmul for both
    q_ensemble: str = "split"
    #: ReLU in place on each layer's fresh output
    inplace_relu: bool = True
    #: CPU: each hidden layer's matmul, bias and ReLU as one oneDNN primitive
    fused_linear_relu: bool = True
    #: Adam's update in one fused kernel per optimiser
    fused_adam: bool = True
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.q_ensemble not in ("split", "batched"):
            raise ValueError(f"q_ensemble must be 'split' or 'batched', got {self.q_ensemble!r}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto', got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------- losses (pure functions, tested by hand)
def q_target(
    rewards: torch.Tensor, terminated: torch.Tensor, next_min_q: torch.Tensor, next_log_prob: torch.Tensor,
    alpha: torch.Tensor | float, gamma: float,
) -> torch.Tensor:  # fmt: skip
    """y = r + gamma * (1 - terminated) * (min_j Qbar_j(s', a') - alpha * log pi(a' | s')), all ``[N, 1]``."""
    return rewards + gamma * (1.0 - terminated) * (next_min_q - alpha * next_log_prob)


def alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """J(alpha) = E[-log_alpha * (log pi(a|s) + target_entropy)]: alpha grows when the entropy is below target."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


def policy_loss(log_prob: torch.Tensor, min_q: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """J(pi) = E[alpha * log pi(a|s) - min_j Q_j(s, a)]."""
    return (alpha * log_prob - min_q).mean()


class SACNetworks(nn.Module):
    """Policy, twin Q (a 2-member ensemble) and its target copy."""

    def __init__(
        self, obs_dim: int, action_dim: int, num_tasks: int, hidden: int, layers: int, gen: torch.Generator
    ) -> None:
        super().__init__()
        # the one-hot task id plays the role of the policy's latent input
        self.policy = TanhGaussianPolicy(obs_dim, num_tasks, action_dim, hidden, layers, gen)
        self.qf = EnsembleMLP(2, obs_dim + num_tasks + action_dim, 1, hidden, layers, gen)
        self.target_qf = EnsembleMLP(2, obs_dim + num_tasks + action_dim, 1, hidden, layers, gen)
        self.target_qf.load_state_dict(self.qf.state_dict())
        self.target_qf.requires_grad_(False)


class SACLearner:
    """A SAC agent: networks, targets, optimisers and log-alpha; :meth:`update` is one gradient step."""

    def __init__(
        self, cfg: SACConfig, obs_dim: int, action_dim: int, *, num_tasks: int = 0,
        init_gen: torch.Generator, train_gen: torch.Generator, device: str | torch.device = "cpu",
    ) -> None:  # fmt: skip
        """``train_gen`` must live on ``device`` (networks are initialised on the CPU from ``init_gen``)."""
        self.cfg = cfg
        self.device = torch.device(device)
        self.obs_dim, self.action_dim, self.num_tasks = obs_dim, action_dim, num_tasks
        self.nets = SACNetworks(obs_dim, action_dim, num_tasks, cfg.hidden_size, cfg.hidden_layers, init_gen).to(
            self.device
        )
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.init_alpha), dtype=torch.float32, device=self.device))
        self.target_entropy = float(-action_dim if cfg.target_entropy is None else cfg.target_entropy)
        set_fast_paths(
            self.nets,
            inplace_relu=cfg.inplace_relu,
            ensemble_matmul=cfg.q_ensemble,
            fused_linear_relu=cfg.fused_linear_relu,
        )
        #: the matmul precision in use ("fp32" or "bf16": ``precision="auto"`` resolved for this device)
        self.precision = resolve_precision(cfg.precision, self.device)
        self.gen = train_gen
        self.grad_steps = 0
        fused = cfg.fused_adam and self.device.type in ("cpu", "cuda")
        adam = lambda params: torch.optim.Adam(params, lr=cfg.lr, fused=fused)
        self.optimizers = {
            "policy": adam(self.nets.policy.parameters()),
            "qf": adam(self.nets.qf.parameters()),
            "alpha": adam([self.log_alpha]),
        }

    # ------------------------------------------------------------------ inputs
    def _inputs(self, obs: torch.Tensor, task: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(obs, one-hot task ``[N, num_tasks]``; zero columns for an unconditioned agent)."""
        if self.num_tasks == 0:
            return obs, obs.new_zeros(obs.shape[0], 0)
        if task is None:
            raise ValueError("a task-conditioned SAC needs the task index of every observation")
        return obs, nn.functional.one_hot(task.long().reshape(-1), self.num_tasks).to(obs.dtype)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    @torch.no_grad()
    def act(self, obs: np.ndarray, task: np.ndarray | None = None, deterministic: bool = False) -> np.ndarray:
        """Actions in [-1, 1] for observations ``[N, O]`` (and task indices ``[N]``)."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        task_t = None if task is None else torch.as_tensor(np.asarray(task), device=self.device)
        obs_t, onehot = self._inputs(obs_t, task_t)
        with self._autocast():
            return self.nets.policy(obs_t, onehot, self.gen, deterministic).action.cpu().numpy()

    def _autocast(self) -> torch.autocast:
        """bf16 autocast of the networks' matmuls when ``precision`` resolved to bf16 (outputs cast to fp32)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def td_target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The critics' regression target ``[N, 1]`` (a' ~ pi(s') drawn from the training generator)."""
        n = self.nets
        next_obs, onehot = self._inputs(batch["next_obs"], batch.get("task"))
        rewards, terminated = batch["rewards"].reshape(-1, 1), batch["terminated"].reshape(-1, 1)
        with self._autocast():
            nxt = n.policy(next_obs, onehot, self.gen)
            next_q = n.target_qf(torch.cat([next_obs, onehot, nxt.action], -1)).min(0).values.float()
        return q_target(rewards, terminated, next_q, nxt.log_prob, self.alpha, self.cfg.gamma)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One gradient step on a batch with keys obs, actions, rewards, next_obs, terminated (and task)."""
        n = self.nets
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        obs, onehot = self._inputs(batch["obs"], batch.get("task"))
        actions, alpha = batch["actions"], self.alpha

        # critics
        target = self.td_target(batch)
        with self._autocast():
            q_pred = n.qf(torch.cat([obs, onehot, actions], -1)).float()  # [2, N, 1]
        loss_q = 0.5 * (q_pred - target.unsqueeze(0)).pow(2).mean(1).sum()
        self.optimizers["qf"].zero_grad(set_to_none=True)
        loss_q.backward()
        self.optimizers["qf"].step()

        # policy (critic weights detached: no gradients reach Q) and temperature
        with self._autocast():
            sample = n.policy(obs, onehot, self.gen)
            min_q = n.qf(torch.cat([obs, onehot, sample.action], -1), detach_params=True).min(0).values.float()
        loss_pi = policy_loss(sample.log_prob, min_q, alpha)
        self.optimizers["policy"].zero_grad(set_to_none=True)
        loss_pi.backward()
        self.optimizers["policy"].step()
        loss_alpha = alpha_loss(self.log_alpha, sample.log_prob, self.target_entropy)
        self.optimizers["alpha"].zero_grad(set_to_none=True)
        loss_alpha.backward()
        self.optimizers["alpha"].step()

        self.soft_update_target()
        self.grad_steps += 1
        return {"loss/q": loss_q.detach(), "loss/policy": loss_pi.detach(), "alpha": alpha,
                "entropy": -sample.log_prob.detach().mean()}  # fmt: skip

    @torch.no_grad()
    def soft_update_target(self) -> None:
        """Qbar <- (1 - tau) Qbar + tau Q."""
        torch._foreach_lerp_(list(self.nets.target_qf.parameters()), list(self.nets.qf.parameters()), self.cfg.tau)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Networks (incl. targets), optimisers, log-alpha, gradient-step count and the training generator."""
        return {
            "networks": self.nets.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "grad_steps": self.grad_steps,
            "train_gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["networks"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.grad_steps = int(state["grad_steps"])
        self.gen.set_state(state["train_gen"])
