"""MAML-TRPO configuration (Finn et al. 2017, as the ProMP authors ran it for PEARL's comparison, docs/baselines.md
5.1 and 5.3): the shared on-policy fields plus the outer TRPO step. Presets: :func:`preset`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from nacre.algos.onpolicy.config import PRESETS, OnPolicyConfig, onpolicy_preset
from nacre.config import ConfigError

__all__ = ["ConfigError", "MamlTrpoConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MamlTrpoConfig(OnPolicyConfig):
    """Every setting of a MAML-TRPO run. Defaults are the reference's (docs/baselines.md, 5.1, 5.3)."""

    label: ClassVar[str] = "MAML-TRPO"

    # outer step: TRPO through the inner step (second order), docs/baselines.md, 5.3
    #: trust region: mean over tasks of KL(adapted sampling policy || adapted policy) on post-update data
    max_kl: float = 0.01
    #: conjugate-gradient iterations of the search direction (stops early below a residual of 1e-10)
    cg_iterations: int = 10
    #: added to the KL Hessian in the conjugate-gradient solves (the reference uses none)
    cg_damping: float = 0.0
    #: the line search multiplies the step by this after each rejected try
    backtrack_ratio: float = 0.8
    #: step sizes tried: 1, ratio, ..., ratio^(max_backtracks - 1); none accepted -> no change
    max_backtracks: int = 15

    def __post_init__(self) -> None:
        self.check_onpolicy_fields()
        for name in ("max_kl", "cg_iterations", "max_backtracks"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.cg_damping < 0:
            raise ConfigError(f"cg_damping must be non-negative, got {self.cg_damping}")
        if not 0 < self.backtrack_ratio < 1:
            raise ConfigError(f"backtrack_ratio must be in (0, 1), got {self.backtrack_ratio}")


def preset(name: str, env: str = "point-robot", **overrides: Any) -> MamlTrpoConfig:
    """``paper`` (the reference's settings, docs/baselines.md, 5.1/5.3), ``fast`` (a CPU budget: 20 tasks x 10 rollouts,
    100 iterations) or ``tiny`` (seconds, smoke tests), for any registered task distribution."""
    return onpolicy_preset(MamlTrpoConfig, "maml-trpo", name, env, overrides)
