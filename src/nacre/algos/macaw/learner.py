"""The MACAW learner: meta-parameters, Adam optimisers and the target value net; ``update`` is one outer step.

Outer step (MACAW Algorithm 1, reference settings) on ``T`` tasks with batches D_tr (inner) and D_ts (outer):

1. adapt V then the policy on each task's D_tr (:func:`nacre.algos.macaw.inner.adapt`);
2. L_V^outer = mean_tasks mean_rows (V'(s) - R_boot)^2 on D_ts, R_boot = MC + gamma^k Vtarget(last) (1 - term);
   L_pi^outer = mean_tasks plain L_AWR of the adapted policy on D_ts with advantages from the adapted V';
3. one backward pass of L_V^outer + L_pi^outer (they share no parameters: the advantages are detached) gives
   the meta-gradients of the policy, value, learned inner rates and lambda; each group has its Adam;
4. Vtarget <- (1 - rate) Vtarget + rate V in parameter space (0.9/0.1). The target never gets gradients.

The reference divides the summed task losses by the number of *training tasks*; here they are averaged over
the tasks of the step (a constant factor, which Adam removes up to its epsilon).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nacre.algos.macaw import inner
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.macaw.config import MacawConfig
from nacre.algos.macaw.inner import Adapted, MetaParams, Specs
from nacre.algos.macaw.networks import init_params, materialise, policy_forward, policy_spec, value_spec
from nacre.seeding import SeedTree


def softplus_inverse(y: float) -> float:
    """x with softplus(x) = y (y > 0)."""
    return y + math.log(-math.expm1(-y))


class MacawParameters(nn.Module):
    """All learned tensors plus the target value net (a frozen copy of the value meta-parameters)."""

    def __init__(self, cfg: MacawConfig, specs: Specs, gen: torch.Generator) -> None:
        super().__init__()
        self.policy = nn.ParameterDict({k: nn.Parameter(v) for k, v in init_params(specs.policy, gen).items()})
        self.value = nn.ParameterDict({k: nn.Parameter(v) for k, v in init_params(specs.value, gen).items()})
        self.target_value = nn.ParameterDict(
            {k: nn.Parameter(v.detach().clone(), requires_grad=False) for k, v in self.value.items()}
        )
        lr0 = softplus_inverse(cfg.inner_lr_init)
        scalar = lambda x: nn.Parameter(torch.tensor(x))
        self.policy_lr_raw = nn.ParameterDict({k: scalar(lr0) for k in self.policy})
        self.value_lr_raw = nn.ParameterDict({k: scalar(lr0) for k in self.value})
        self.adv_coef_raw = scalar(softplus_inverse(cfg.advantage_coef_init)) if cfg.advantage_head else None

    def meta(self) -> MetaParams:
        return MetaParams(
            dict(self.policy), dict(self.value), dict(self.policy_lr_raw), dict(self.value_lr_raw), self.adv_coef_raw
        )


class MacawLearner:
    """Owns the meta-parameters, their optimisers and the target value net."""

    def __init__(
        self, cfg: MacawConfig, obs_dim: int, action_dim: int, init_gen: torch.Generator | None = None,
        train_gen: torch.Generator | None = None,
    ) -> None:  # fmt: skip
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        if init_gen is None or train_gen is None:
            seeds = SeedTree.from_seed(cfg.seed, cfg.device)
            init_gen = seeds.torch_init if init_gen is None else init_gen
            train_gen = seeds.torch_train if train_gen is None else train_gen
        self.gen = train_gen  # the only randomness after construction: exploration noise in ``act``
        self.specs = Specs(policy_spec(cfg, obs_dim, action_dim), value_spec(cfg, obs_dim))
        self.params = MacawParameters(cfg, self.specs, init_gen).to(self.device)
        p = self.params
        adam = lambda params, lr: torch.optim.Adam(params, lr=lr, fused=True)
        self.optimizers = {
            "policy": adam(p.policy.values(), cfg.policy_lr),
            "value": adam(p.value.values(), cfg.value_lr),
            "inner_lrs": adam([*p.policy_lr_raw.values(), *p.value_lr_raw.values()], cfg.lr_lr),
        }
        if p.adv_coef_raw is not None:
            self.optimizers["adv_coef"] = adam([p.adv_coef_raw], cfg.lr_lr)

    # ------------------------------------------------------------------ adaptation and acting
    def meta_params(self) -> MetaParams:
        """The live meta-parameters (a view: no copy)."""
        return self.params.meta()

    def adapt(self, params: MetaParams | None, batch_tr: MacawBatch, differentiable: bool = False) -> Adapted:
        """Per-task adapted weights from each task's D_tr (``[T, B, ...]``); meta-parameters are not modified.

        ``params=None`` uses the current meta-parameters; ``differentiable=False`` (meta-test) returns
        detached weights.
        """
        meta = self.meta_params() if params is None else params
        adapted, _ = inner.adapt(self.cfg, self.specs, meta, batch_tr.to(self.device), differentiable)
        return adapted

    @torch.no_grad()
    def act(
        self, obs: np.ndarray | torch.Tensor, params: Adapted | None = None, deterministic: bool = True
    ) -> np.ndarray:
        """Actions in [-1, 1]: the tanh mean, or mean + N(0, std^2) noise clipped to [-1, 1].

        ``params``: adapted weights (``Adapted.task(i)``, or per-task weights with ``obs`` of shape
        ``[T, N, O]``; a single-task ``Adapted`` also accepts ``[N, O]`` / ``[O]``); None: un-adapted policy.
        """
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if params is None:
            eff = materialise(self.specs.policy, self.meta_params().policy)
        else:
            eff = params.policy
            per_task = next(iter(eff.values())).dim() == 2
            if per_task and obs_t.dim() < 3:
                if next(iter(eff.values())).shape[0] != 1:
                    raise ValueError("per-task weights of several tasks need observations of shape [T, N, O]")
                eff = {k: v[0] for k, v in eff.items()}
        squeeze = obs_t.dim() == 1
        mean, _ = policy_forward(self.specs.policy, eff, obs_t[None] if squeeze else obs_t)
        action = mean
        if not deterministic:
            noise = torch.randn(mean.shape, generator=self.gen, device=mean.device, dtype=mean.dtype)
            action = (mean + self.cfg.action_std * noise).clamp(-1.0, 1.0)
        out = action.cpu().numpy()
        return out[0] if squeeze else out

    # ------------------------------------------------------------------ training
    def target_weights(self) -> dict[str, torch.Tensor]:
        """Effective weights of the target value net (no gradient)."""
        with torch.no_grad():
            return materialise(self.specs.value, dict(self.params.target_value))

    def meta_loss(
        self, batch_tr: MacawBatch, batch_ts: MacawBatch, params: MetaParams | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The differentiable outer loss L_V^outer + L_pi^outer (task means) and detached metrics."""
        meta = self.meta_params() if params is None else params
        batch_tr, batch_ts = batch_tr.to(self.device), batch_ts.to(self.device)
        adapted, inner_metrics = inner.adapt(self.cfg, self.specs, meta, batch_tr, differentiable=True)
        loss_v, loss_pi, outer_metrics = inner.outer_losses(
            self.cfg, self.specs, adapted, self.target_weights(), batch_ts
        )
        loss = loss_v.mean() + loss_pi.mean()
        metrics = {f"inner/{k}": v.detach() for k, v in inner_metrics.items()}
        metrics.update({f"outer/{k}": v.detach() for k, v in outer_metrics.items()})
        with torch.no_grad():
            metrics["stats/policy_inner_lr_mean"] = torch.stack(
                [F.softplus(x) for x in meta.policy_lr_raw.values()]
            ).mean()
            metrics["stats/value_inner_lr_mean"] = torch.stack(
                [F.softplus(x) for x in meta.value_lr_raw.values()]
            ).mean()
            coef = meta.adv_coef()
            if coef is not None:
                metrics["stats/adv_coef"] = coef.detach()
        return loss, metrics

    def update(self, tasks_batches_tr: MacawBatch, tasks_batches_ts: MacawBatch) -> dict[str, torch.Tensor]:
        """One outer step on the tasks of the batches (``[T, B_in, ...]`` and ``[T, B_out, ...]``)."""
        loss, metrics = self.meta_loss(tasks_batches_tr, tasks_batches_ts)
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in self.optimizers.values():
            opt.step()
        self.soft_update_target()
        return metrics

    @torch.no_grad()
    def soft_update_target(self) -> None:
        """Vtarget <- (1 - rate) Vtarget + rate V, tensor by tensor."""
        for k, target in self.params.target_value.items():
            target.lerp_(self.params.value[k], self.cfg.target_update_rate)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Meta-parameters, learned rates and lambda, target value net, optimisers and the action-noise RNG."""
        return {
            "params": self.params.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "train_gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.params.load_state_dict(state["params"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.gen.set_state(state["train_gen"])
