"""MT + fine-tune learner: plain-MLP policy and value nets on [obs, one-hot task id], AWR training, fine-tuning.

One gradient step (training and test-time fine-tuning alike) on rows ``(s, a)`` with inputs ``x = [s, id]``:

* value: ``L_V = mean (V(x) - R_mc)^2``, the Monte-Carlo return to the end of the stored trajectory, as the
  MACAW reference's multi-task configuration (``no_bootstrap``); with ``value_bootstrap`` MACAW's outer-loop
  target ``R_mc + gamma^k Vtarget(x_last) (1 - last_terminated)`` instead (``x_last``: the stored trajectory's
  last state with the same id); then ``Vtarget <- (1 - rate) Vtarget + rate V``;
* policy: ``L_AWR = -mean w log pi(a | x)``, ``w = exp(min(A_std / T, log max_weight))`` with
  ``A = R_mc + gamma^k V(x_last) (1 - last_terminated) - V(x)`` from the value net *before* the step (the
  reference bootstraps the advantage in either case), standardised per task over its rows, as the reference
  computes each task's loss on its own batch (:mod:`nacre.algos.macaw.losses`).

The policy is a Gaussian with mean ``tanh(MLP(x))`` and fixed std ``action_std``. Training samples pooled batches
of the train tasks with their one-hot ids; at meta-test the id is all zeros and :meth:`MtftLearner.finetune`
takes Adam steps (fresh optimisers at the fine-tuning rates) on a *copy* of the three networks.
Initialisation draws only from the given generator (``nn.Linear``'s law); no global RNG is read.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nacre.algos.macaw import losses
from nacre.algos.macaw.batch import MacawBatch
from nacre.algos.mtft.config import MtftConfig


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int, gen: torch.Generator) -> nn.Sequential:
    """``in -> [hidden] * layers (ReLU) -> out``; weights and biases ``U(+-1/sqrt(in))`` drawn from ``gen``."""
    dims = [in_dim] + [hidden] * layers + [out_dim]
    modules: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layer = torch.nn.utils.skip_init(nn.Linear, a, b)  # no draw from the global RNG
        bound = 1.0 / math.sqrt(a)
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
        modules.append(layer)
        if i < len(dims) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class TanhMean(nn.Module):
    """The policy network: action mean ``tanh(MLP(x))`` in [-1, 1]."""

    def __init__(self, net: nn.Sequential) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(x))


Nets = tuple[nn.Module, nn.Module, nn.Module]  # policy, value, target value


class MtftLearner:
    """Policy, value and target value nets with their training optimisers."""

    def __init__(self, cfg: MtftConfig, obs_dim: int, action_dim: int, num_tasks: int,
                 init_gen: torch.Generator) -> None:  # fmt: skip
        self.cfg = cfg
        self.device = torch.device(cfg.device)
        self.obs_dim, self.action_dim, self.num_tasks = obs_dim, action_dim, num_tasks
        in_dim = obs_dim + num_tasks
        self.policy = TanhMean(mlp(in_dim, cfg.policy_hidden_size, cfg.policy_hidden_layers, action_dim, init_gen))
        self.value = mlp(in_dim, cfg.value_hidden_size, cfg.value_hidden_layers, 1, init_gen)
        self.policy.to(self.device)
        self.value.to(self.device)
        self.target_value = copy.deepcopy(self.value).requires_grad_(False)
        self.optimizers = {
            "policy": torch.optim.Adam(self.policy.parameters(), lr=cfg.policy_lr),
            "value": torch.optim.Adam(self.value.parameters(), lr=cfg.value_lr),
        }

    # ------------------------------------------------------------------ inputs
    def inputs(self, obs: torch.Tensor, task_ids: torch.Tensor | None) -> torch.Tensor:
        """``[..., O + N]``: ``obs [T, B, O]`` with the one-hot id of ``task_ids [T]`` (train-task positions)
        appended to each row, or zeros (``task_ids=None``: the meta-test input)."""
        shape = (*obs.shape[:-1], self.num_tasks)
        if task_ids is None:
            ids = obs.new_zeros(shape)
        else:
            one_hot = F.one_hot(task_ids.to(obs.device, torch.long), self.num_tasks).to(obs.dtype)
            ids = one_hot.reshape(one_hot.shape[0], *([1] * (obs.dim() - 2)), self.num_tasks).expand(shape)
        return torch.cat([obs, ids], dim=-1)

    # ------------------------------------------------------------------ one step
    def step(self, nets: Nets, optimizers: Sequence[torch.optim.Optimizer], batch: MacawBatch,
             task_ids: torch.Tensor | None) -> dict[str, torch.Tensor]:  # fmt: skip
        """One Adam step on V and one on the policy (module docstring) on the rows of ``batch [T, B, ...]``."""
        policy, value, target = nets
        cfg = self.cfg
        x = self.inputs(batch.obs, task_ids).flatten(0, 1)
        x_last = self.inputs(batch.last_obs, task_ids).flatten(0, 1)
        mc, disc, term = (t.flatten(0, 1)[:, 0] for t in (batch.mc_returns, batch.discount_to_last,
                                                           batch.last_terminated))  # fmt: skip
        actions = batch.actions.flatten(0, 1)
        v = value(x)[:, 0]
        with torch.no_grad():
            v_target = losses.bootstrapped_returns(mc, disc, target(x_last)[:, 0], term) if cfg.value_bootstrap else mc
            advantages = losses.bootstrapped_returns(mc, disc, value(x_last)[:, 0], term) - v.detach()
        loss_v, metrics = losses.value_loss(v, v_target)
        # standardised per task: [T, B] rows, one task per row (fine-tuning: one task)
        weights = losses.awr_weights(advantages.view(batch.obs.shape[0], -1), cfg.awr_temperature,
                                     cfg.max_weight).flatten()  # fmt: skip
        log_prob = losses.gaussian_log_prob(policy(x), actions, cfg.action_std)
        loss_pi, pi_metrics = losses.awr_loss(log_prob, weights)
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        (loss_v + loss_pi).backward()  # the two share no parameter
        for opt in optimizers:
            opt.step()
        with torch.no_grad():
            for t, p in zip(target.parameters(), value.parameters(), strict=True):
                t.lerp_(p, cfg.target_update_rate)
        metrics.update(pi_metrics)
        metrics["value_target_mean"] = v_target.mean()
        metrics["advantage_mean"] = advantages.mean()
        return metrics

    def update(self, batch: MacawBatch, task_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training step on a pooled batch (``[T, B, ...]``, task ``t`` of id ``task_ids[t]``)."""
        opts = (self.optimizers["value"], self.optimizers["policy"])
        return self.step((self.policy, self.value, self.target_value), opts, batch.to(self.device), task_ids)

    # ------------------------------------------------------------------ meta-test
    def finetune(self, batch: MacawBatch, counts: Sequence[int]) -> dict[int, dict[str, torch.Tensor]]:
        """Policy weights after each of ``counts`` (sorted) fine-tuning steps on ``batch`` (``[1, k, ...]``, the
        test transitions), the id zeroed; copies are tuned, the trained networks and optimisers stay untouched."""
        cfg = self.cfg
        nets: Nets = (copy.deepcopy(self.policy), copy.deepcopy(self.value), copy.deepcopy(self.target_value))
        opts = (torch.optim.Adam(nets[1].parameters(), lr=cfg.finetune_value_lr),
                torch.optim.Adam(nets[0].parameters(), lr=cfg.finetune_policy_lr))  # fmt: skip
        batch = batch.to(self.device)
        out: dict[int, dict[str, torch.Tensor]] = {}
        done = 0
        for n in sorted(set(int(c) for c in counts)):
            while done < n:
                self.step(nets, opts, batch, None)
                done += 1
            out[n] = {k: v.detach().clone() for k, v in nets[0].named_parameters()}
        return out

    @torch.no_grad()
    def act(self, obs: np.ndarray | torch.Tensor, task_ids: torch.Tensor | None = None,
            params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """Deterministic actions (the tanh mean) for ``obs [N, O]``: with the one-hot id of ``task_ids [N]``
        (training tasks) or the zero id; ``params`` are fine-tuned policy weights (default: the trained ones)."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        ids = None if task_ids is None else torch.as_tensor(task_ids, device=self.device)
        x = self.inputs(obs_t[:, None], ids)[:, 0]
        if params is None:
            return self.policy(x)
        return torch.func.functional_call(self.policy, params, (x,))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(), "value": self.value.state_dict(),
            "target_value": self.target_value.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.target_value.load_state_dict(state["target_value"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])

    def named_parameters(self) -> list[tuple[str, torch.Tensor]]:
        """Every trained tensor (policy, value, target), for finiteness checks and tests."""
        return [(f"{prefix}.{k}", v) for prefix, net in
                (("policy", self.policy), ("value", self.value), ("target_value", self.target_value))
                for k, v in net.named_parameters()]  # fmt: skip
