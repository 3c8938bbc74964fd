"""The PEARL learner: networks, optimisers and the target V; ``update`` is one gradient step.

Gradient routing (the PEARL reference losses): the encoder is trained only by the Q losses and the KL term; V,
the policy and the target V see ``z.detach()``; the policy loss moves only the policy (by default the Q
ensemble is evaluated with detached weights, so no discarded Q gradients are computed).

Speed options (``PearlConfig``: ``q_ensemble``, ``detach_critic_in_policy_loss``,
``fused_v_policy_backward``, ``inplace_relu``, ``fused_linear_relu``, ``precision``) change how the step is
computed, never which gradients reach which network; tests/unit/test_pearl_fast_paths.py checks each against the plain
computation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nacre.algos.pearl import losses
from nacre.algos.pearl.config import PearlConfig
from nacre.buffers.context import context_dim
from nacre.nn.distributions import Posterior
from nacre.nn.encoders import RecurrentEncoder, TransitionEncoder
from nacre.nn.mlp import MLP, OUTPUT_INIT, EnsembleMLP, reference_fan_in_, set_fast_paths
from nacre.nn.policies import TanhGaussianPolicy
from nacre.nn.precision import resolve_precision
from nacre.types import TransitionBatch

#: the reference policy's mean and log-std heads are U(+-1e-3) (``reference_init``)
REFERENCE_POLICY_HEAD_INIT = 1e-3


class PearlNetworks(nn.Module):
    """Encoder, policy, twin Q (one 2-member ensemble), V and target V."""

    def __init__(self, cfg: PearlConfig, obs_dim: int, action_dim: int, gen: torch.Generator) -> None:
        super().__init__()
        cdim = context_dim(obs_dim, action_dim, cfg.use_next_obs_in_context)
        prob = cfg.use_information_bottleneck
        if cfg.encoder == "mlp":
            self.encoder: nn.Module = TransitionEncoder(
                cdim, cfg.latent_dim, cfg.encoder_hidden_size, cfg.encoder_hidden_layers, prob, gen
            )
        else:
            self.encoder = RecurrentEncoder(cdim, cfg.latent_dim, cfg.encoder_hidden_size, prob, gen)
        h, n, z = cfg.hidden_size, cfg.hidden_layers, cfg.latent_dim
        self.policy = TanhGaussianPolicy(obs_dim, z, action_dim, h, n, gen)
        self.qf = EnsembleMLP(2, obs_dim + action_dim + z, 1, h, n, gen)
        self.vf = MLP(obs_dim + z, 1, h, n, gen)
        self.target_vf = MLP(obs_dim + z, 1, h, n, gen)
        if cfg.reference_init:
            reference_fan_in_(self)
            self.policy.scale_head_init_(REFERENCE_POLICY_HEAD_INIT / OUTPUT_INIT)
        self.target_vf.load_state_dict(self.vf.state_dict())
        self.target_vf.requires_grad_(False)


class PearlLearner:
    """Owns the networks, optimisers and target network; stateless apart from them."""

    def __init__(
        self, cfg: PearlConfig, obs_dim: int, action_dim: int, init_gen: torch.Generator,
        train_gen: torch.Generator,
    ) -> None:  # fmt: skip
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.nets = PearlNetworks(cfg, obs_dim, action_dim, init_gen).to(self.device)
        self._options_of: PearlConfig | None = None
        self._apply_speed_options()
        self.gen = train_gen
        n = self.nets
        # fused Adam: the same update rule in one kernel per optimiser (the per-tensor loop dominated small nets)
        adam = lambda params, lr: torch.optim.Adam(params, lr=lr, fused=True)
        self.optimizers = {
            "policy": adam(n.policy.parameters(), cfg.policy_lr),
            "qf": adam(n.qf.parameters(), cfg.qf_lr),
            "vf": adam(n.vf.parameters(), cfg.vf_lr),
            "context": adam(n.encoder.parameters(), cfg.context_lr),
        }

    def _apply_speed_options(self) -> None:
        """(Re)apply the config's speed options to the networks; cheap, and a no-op unless ``cfg`` changed
        (``PearlTrainer.set_run_options`` replaces it when a run resumes with other options)."""
        if self._options_of is self.cfg:
            return
        set_fast_paths(
            self.nets,
            inplace_relu=self.cfg.inplace_relu,
            ensemble_matmul=self.cfg.q_ensemble,
            fused_linear_relu=self.cfg.fused_linear_relu,
        )
        #: the matmul precision in use ("fp32" or "bf16"; ``precision="auto"`` resolved for this device)
        self.precision = resolve_precision(self.cfg.precision, self.device)
        self._options_of = self.cfg

    # ------------------------------------------------------------------ inference
    def infer_posterior(self, context: torch.Tensor) -> Posterior:
        """q(z | c) for context ``[T, N, C]`` (N may be 0: the prior)."""
        return self.nets.encoder(context.to(self.device))

    def sample_z(self, posterior: Posterior, gen: torch.Generator | None = None) -> torch.Tensor:
        """One z per task from a belief (the mean for the deterministic ablation)."""
        if not self.cfg.use_information_bottleneck:
            return posterior.mean
        return posterior.sample(gen if gen is not None else self.gen)

    @torch.no_grad()
    def act(
        self, obs: np.ndarray, z: torch.Tensor, deterministic: bool = False, gen: torch.Generator | None = None
    ) -> np.ndarray:
        """Actions in [-1, 1] for observations ``[N, O]`` and latents ``[N, L]``."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        squeeze = obs_t.dim() == 1
        if squeeze:
            obs_t, z = obs_t[None], z.reshape(1, -1)
        out = self.nets.policy(obs_t, z.to(self.device), gen if gen is not None else self.gen, deterministic)
        action = out.action.cpu().numpy()
        return action[0] if squeeze else action

    # ------------------------------------------------------------------ training
    def update(self, batch: TransitionBatch, context: torch.Tensor) -> dict[str, torch.Tensor]:
        """One PEARL gradient step on ``T`` tasks; returns detached metric tensors."""
        self._apply_speed_options()
        cfg, n = self.cfg, self.nets
        t, b = batch.obs.shape[:2]
        flat = lambda x: x.reshape(t * b, -1)
        obs, actions, next_obs = flat(batch.obs), flat(batch.actions), flat(batch.next_obs)
        rewards, terminated = flat(batch.rewards), flat(batch.terminated)

        amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with amp:  # networks may run in bf16; every output is cast back to fp32 before any loss maths
            posterior = n.encoder(context)
        z_task = self.sample_z(posterior)
        z = z_task.repeat_interleave(b, dim=0)  # [T*B, L], task-major like the batch
        zd = z.detach()

        # critic + encoder: L_Q + L_KL
        with torch.no_grad(), amp:
            next_v = n.target_vf(torch.cat([next_obs, z], -1)).float()
        target = losses.q_target(rewards, terminated, next_v, cfg.reward_scale, cfg.discount)
        with amp:
            q_pred = n.qf(torch.cat([obs, actions, z], -1)).float()
        loss_q, metrics = losses.q_loss(q_pred, target)
        loss = loss_q
        if cfg.use_information_bottleneck:
            loss_kl, kl_metrics = losses.kl_loss(posterior, cfg.kl_lambda, cfg.kl_reduction)
            loss = loss + loss_kl
            metrics.update(kl_metrics)
        self.optimizers["qf"].zero_grad(set_to_none=True)
        self.optimizers["context"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["qf"].step()
        self.optimizers["context"].step()

        # value function and policy, against the updated critics (SAC-v1 order of the reference).
        # L_V and L_pi share no parameters (L_V's target is detached, and L_pi's gradient reaching the
        # critics is discarded: by default not even computed, the critics' weights being detached there),
        # so one backward pass of their sum yields exactly each loss's own gradients.
        with amp:
            sample = n.policy(obs, zd, self.gen)
            q_new = n.qf(torch.cat([obs, sample.action, zd], -1), detach_params=cfg.detach_critic_in_policy_loss)
            min_q = q_new.min(0).values.float()
            v_pred = n.vf(torch.cat([obs, zd], -1)).float()
        loss_v, v_metrics = losses.v_loss(v_pred, min_q, sample.log_prob)
        loss_pi, pi_metrics = losses.policy_loss(
            sample, min_q, cfg.policy_mean_reg, cfg.policy_std_reg, cfg.policy_pre_activation_reg
        )
        if cfg.fused_v_policy_backward:
            self.optimizers["vf"].zero_grad(set_to_none=True)
            self.optimizers["policy"].zero_grad(set_to_none=True)
            (loss_v + loss_pi).backward()
            self.optimizers["vf"].step()
            self.soft_update_target()
            self.optimizers["policy"].step()
        else:  # the reference's sequence: V step, target update, policy step
            self.optimizers["vf"].zero_grad(set_to_none=True)
            loss_v.backward()
            self.optimizers["vf"].step()
            self.soft_update_target()
            self.optimizers["policy"].zero_grad(set_to_none=True)
            loss_pi.backward()
            self.optimizers["policy"].step()
        if not cfg.detach_critic_in_policy_loss:
            # the reference's discarded critic gradients from L_pi: dropped so they can never be applied
            self.optimizers["qf"].zero_grad(set_to_none=True)

        metrics.update(v_metrics)
        metrics.update(pi_metrics)
        metrics["stats/z_mean_abs"] = posterior.mean.detach().abs().mean()
        metrics["stats/z_std"] = posterior.var.detach().sqrt().mean()
        return metrics

    @torch.no_grad()
    def soft_update_target(self) -> None:
        """Vbar <- (1 - tau) Vbar + tau V."""
        target, online = list(self.nets.target_vf.parameters()), list(self.nets.vf.parameters())
        torch._foreach_lerp_(target, online, self.cfg.soft_target_tau)  # one call for all tensors

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": self.nets.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["networks"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
