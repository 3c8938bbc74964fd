"""MAESN configuration (Gupta et al. 2018, from its authors' code, docs/baselines.md, 5.5): the shared on-policy fields
(sampling, returns, the per-task linear baseline) plus the latent space, the learnable inner step sizes and the
outer TRPO step. Presets: :func:`preset`.

Field meanings that differ from MAML-TRPO / ProMP: ``inner_lr`` is the INITIAL value of the learnable
per-dimension step sizes of the latent mean and log-std (0.5); the policy is a ReLU MLP (100, 100) on
``[obs, z]``; ``sparse_rewards`` (sparse-point-robot) means MAESN's own protocol: meta-training (inner and outer
steps) on the dense reward, meta-test adaptation and reported returns on the sparse one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from nacre.algos.onpolicy.config import PRESETS, OnPolicyConfig, onpolicy_preset
from nacre.config import ConfigError

__all__ = ["ConfigError", "MaesnConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MaesnConfig(OnPolicyConfig):
    """Every setting of a MAESN run. Defaults are the reference's (docs/baselines.md, 5.5)."""

    label: ClassVar[str] = "MAESN"

    # policy and latent space (docs/baselines.md, 5.5)
    #: units per ReLU hidden layer of the policy on [obs, z]
    hidden_size: int = 100
    #: dimension of the latent z (one Gaussian per training task, z drawn once per episode)
    latent_dim: int = 2
    #: weight w of mean_i KL(N(mu_i, sigma_i) || N(0, I)) subtracted from the outer objective (0.1 or 0.5)
    prior_kl_weight: float = 0.1
    #: the policy's actions in [-action_scale, action_scale] map linearly onto the env's bounds (then clipped); 1 as
    #: in the reference, whose environments take actions in [-1, 1]
    action_scale: float = 1.0
    # sampling (docs/baselines.md, 5.5: 20 tasks x 20 trajectories, 500 iterations)
    #: tasks per iteration (drawn from the train tasks, without replacement when there are enough)
    meta_batch: int = 20
    #: rollouts per task and adaptation step, each with its own z (all of a task's rollouts run at once)
    rollouts_per_task: int = 20
    #: initial value of the learnable per-dimension inner step sizes of the latent mean and log-std
    inner_lr: float = 0.5
    #: meta-training iterations (each: sample, adapt the latents, sample, one TRPO step)
    num_iterations: int = 500
    # outer step: TRPO (docs/baselines.md, 5.5)
    #: trust region: mean over tasks of the post-update KL of the actions (the latent reparameterised)
    max_kl: float = 0.01
    #: conjugate-gradient iterations of the search direction
    cg_iterations: int = 10
    #: added to the KL Hessian in the conjugate-gradient solves (the reference's reg 1e-5)
    cg_damping: float = 1e-5
    #: the line search multiplies the step by this after each rejected try
    backtrack_ratio: float = 0.8
    #: step sizes tried: 1, ratio, ..., ratio^(max_backtracks - 1); none accepted -> no change
    max_backtracks: int = 15

    def __post_init__(self) -> None:
        self.check_onpolicy_fields()
        for name in ("latent_dim", "max_kl", "cg_iterations", "max_backtracks"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("prior_kl_weight", "cg_damping"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.envs_per_task not in (0, self.rollouts_per_task):
            raise ConfigError(
                f"envs_per_task must be 0 or rollouts_per_task ({self.rollouts_per_task}) for MAESN "
                f"(every rollout of a task runs at once with its own z), got {self.envs_per_task}"
            )
        if not 0 < self.backtrack_ratio < 1:
            raise ConfigError(f"backtrack_ratio must be in (0, 1), got {self.backtrack_ratio}")


#: MAESN's own settings per preset (docs/baselines.md, 5.5)
_METHOD: dict[str, dict[str, Any]] = {
    "paper": dict(
        hidden_size=100,
        hidden_layers=2,
        inner_lr=0.5,
        meta_batch=20,
        rollouts_per_task=20,
        num_iterations=500,
        envs_per_task=0,
        inner_steps=1,
        eval_steps=1,
    ),
    "fast": dict(
        hidden_size=100,
        hidden_layers=2,
        inner_lr=0.5,
        meta_batch=20,
        rollouts_per_task=10,
        num_iterations=100,
        inner_steps=1,
        eval_steps=1,
    ),
    "tiny": dict(inner_lr=0.5, hidden_layers=2),
}


def preset(name: str, env: str = "point-robot", **overrides: Any) -> MaesnConfig:
    """``paper`` (docs/baselines.md, 5.5: 20 tasks x 20 rollouts, 500 iterations), ``fast`` (20 x 10, 100 iterations) or
    ``tiny`` (seconds, smoke tests), for any registered task distribution."""
    return onpolicy_preset(MaesnConfig, "maesn", name, env, overrides, _METHOD)
