"""ProMP configuration (Rothfuss et al. 2019, docs/baselines.md, 5.1 and 5.2): the shared on-policy fields plus the
outer PPO-style optimisation with the inner-KL penalty. Presets: :func:`preset`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from nacre.algos.onpolicy.config import PRESETS, OnPolicyConfig, onpolicy_preset
from nacre.config import ConfigError

__all__ = ["ConfigError", "PRESETS", "PrompConfig", "preset"]


@dataclass(frozen=True)
class PrompConfig(OnPolicyConfig):
    """Every setting of a ProMP run. Defaults are the reference's (docs/baselines.md, 5.1, 5.2)."""

    label: ClassVar[str] = "ProMP"

    # outer optimisation (docs/baselines.md, 5.2)
    #: Adam learning rate of the outer steps
    learning_rate: float = 1e-3
    #: Adam steps on the same full batch per iteration (3 on the rand-params families)
    ppo_steps: int = 5
    #: the likelihood ratio of the outer objective is clipped to [1 - clip_eps, 1 + clip_eps]
    clip_eps: float = 0.3
    #: eta: weight of the inner-KL penalty mean_i KL(pi_theta_old || pi_theta) on pre-update data (one per inner
    #: step), 5e-4 (1e-3 on the rand-params families)
    inner_kl_penalty: float = 5e-4
    #: adapt eta after each iteration: halve it when the inner KL < target / 1.5, double it when > 1.5 target
    #: (on the rand-params families only, in the reference)
    adaptive_inner_kl_penalty: bool = False
    #: the inner KL the adaptive penalty steers towards
    target_inner_kl: float = 0.01

    def __post_init__(self) -> None:
        self.check_onpolicy_fields()
        for name in ("learning_rate", "ppo_steps", "clip_eps", "target_inner_kl"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.inner_kl_penalty < 0:
            raise ConfigError(f"inner_kl_penalty must be non-negative, got {self.inner_kl_penalty}")
        if self.clip_eps >= 1:
            raise ConfigError(f"clip_eps must be below 1, got {self.clip_eps}")

    @property
    def grad_steps_per_iteration(self) -> int:
        return self.ppo_steps


#: ProMP's own settings per preset (``<preset>-rand-params`` on walker-params / hopper-params, docs/baselines.md, 5.2)
_METHOD: dict[str, dict[str, Any]] = {
    "paper-rand-params": dict(ppo_steps=3, inner_kl_penalty=1e-3, adaptive_inner_kl_penalty=True),
    "fast-rand-params": dict(ppo_steps=3, inner_kl_penalty=1e-3, adaptive_inner_kl_penalty=True),
    "tiny": dict(ppo_steps=2),
}


def preset(name: str, env: str = "point-robot", **overrides: Any) -> PrompConfig:
    """``paper`` (the reference's settings, docs/baselines.md, 5.1/5.2), ``fast`` (a CPU budget: 20 tasks x 10 rollouts,
    100 iterations) or ``tiny`` (seconds, smoke tests), for any registered task distribution."""
    return onpolicy_preset(PrompConfig, "promp", name, env, overrides, _METHOD)
