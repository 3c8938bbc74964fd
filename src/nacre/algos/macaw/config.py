"""MACAW configuration: one frozen, validated dataclass and its presets.

Defaults are the MACAW reference settings; ``tiny`` is for smoke tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nacre.config import ConfigError, OfflineRunConfig, offline_preset

AdvantageReturns = Literal["bootstrap", "mc"]
InnerRoute = Literal["structured", "plain"]

__all__ = ["ConfigError", "MacawConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MacawConfig(OfflineRunConfig):
    """Every setting of a MACAW run: the algorithm (the MACAW reference settings) plus the shared offline-run fields."""

    label: ClassVar[str] = "MACAW"
    run_only_fields: ClassVar[frozenset[str]] = OfflineRunConfig.run_only_fields | {"test_time_guard"}
    type_aliases: ClassVar[dict[str, type]] = {"AdvantageReturns": str, "InnerRoute": str, "DataWindow": str}

    # networks (the MACAW reference settings)
    #: width of the policy's hidden layers
    policy_hidden_size: int = 100
    #: hidden layers of the policy
    policy_hidden_layers: int = 3
    #: width of the value network's hidden layers
    value_hidden_size: int = 100
    #: hidden layers of the value network
    value_hidden_layers: int = 3
    #: the policy's inner-loop loss adds advantage regression through a head on its features (weight lambda, learned)
    advantage_head: bool = True
    #: hidden width of the advantage head
    advantage_head_size: int = 32
    #: each layer's weights and bias are a learned linear map of a learned latent (the paper's weight transform)
    weight_transform: bool = True
    #: size of the latent the weight transform maps to each layer's weights
    weight_transform_latent: int = 100
    #: fixed std of the Gaussian policy
    action_std: float = 0.2
    # inner loop
    #: inner-loop (adaptation) gradient steps per task
    inner_steps: int = 1
    #: initial inner learning rate; one learned rate per parameter tensor, lr = softplus(raw)
    inner_lr_init: float = 1e-3
    #: Adam learning rate of the learned inner learning rates and of the advantage-loss coefficient
    lr_lr: float = 1e-3
    #: initial advantage-loss coefficient lambda (learned, lambda = softplus(raw))
    advantage_coef_init: float = 0.01
    #: meta-gradients through the inner steps' gradients; off: first order (FOMAML)
    second_order: bool = True
    #: "structured" applies adapted weight-transform layers without per-task copies of the generating map;
    #: "plain" differentiates through per-task copies of every meta-parameter (the reference computation)
    inner_route: InnerRoute = "structured"
    #: meta-test steps beyond ``inner_steps`` are backtracked (a step that raises the inner loss is retried at
    #: half the rate); off repeats the learned step unguarded, which can diverge (``inner.test_time_adapt``)
    test_time_guard: bool = True
    # losses
    #: temperature T of the advantage weights exp(A / T)
    awr_temperature: float = 1.0
    #: cap on the advantage weights exp(A / T)
    max_weight: float = 20.0
    #: discount factor gamma of the returns and value targets
    discount: float = 0.99
    #: return the advantage A = R_hat - V'(s) uses: "bootstrap" R_hat = MC + gamma^k V'(last) (1 - terminal)
    #: (the reference's, with the done mask), "mc" the plain return-to-go
    advantage_returns: AdvantageReturns = "bootstrap"
    # outer loop
    #: Adam learning rate of the outer policy step
    policy_lr: float = 1e-4
    #: Adam learning rate of the outer value step
    value_lr: float = 1e-5
    #: target value net: Vtarget <- (1 - rate) Vtarget + rate V after every outer step (0.9/0.1)
    target_update_rate: float = 0.1
    #: train tasks per outer step
    tasks_per_step: int = 5
    #: rows of D_tr per task for the inner steps (split evenly among them)
    inner_batch_size: int = 256
    #: rows of D_ts per task for the outer step
    outer_batch_size: int = 256
    #: outer batches D_ts are drawn from every k-th row of a task's data (rows 0, k, 2k, ...); the reference's
    #: ``buffer_skip`` (7 in its runs, the ``paper`` preset); 1 uses every row
    buffer_skip: int = 1
    #: inner batches D_tr are ``inner_batch_size`` consecutive rows of the every-k-th-row buffer, so with the
    #: reference's ``inner_buffer_skip`` of 7 (``paper``) a 256-row D_tr spans about 9 episodes of 200 steps
    #: instead of 1.3 episodes of strongly correlated consecutive rows
    inner_buffer_skip: int = 1

    def __post_init__(self) -> None:
        positive = [
            "policy_hidden_size", "policy_hidden_layers", "value_hidden_size", "value_hidden_layers",
            "advantage_head_size", "weight_transform_latent", "action_std", "inner_steps", "inner_lr_init",
            "advantage_coef_init", "awr_temperature", "policy_lr", "value_lr", "tasks_per_step",
            "inner_batch_size", "outer_batch_size", "buffer_skip", "inner_buffer_skip",
        ]  # fmt: skip
        self.check_run_fields()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("lr_lr",):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name in ("discount", "target_update_rate"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.max_weight <= 1.0:
            raise ConfigError(f"max_weight must be greater than 1 (it caps exp(A/T)), got {self.max_weight}")
        if self.inner_batch_size % self.inner_steps:
            raise ConfigError(
                f"inner_batch_size ({self.inner_batch_size}) must be divisible by inner_steps ({self.inner_steps}):"
                " inner step j uses the j-th contiguous chunk of the inner batch"
            )
        if self.advantage_returns not in ("bootstrap", "mc"):
            raise ConfigError(f"advantage_returns must be 'bootstrap' or 'mc', got {self.advantage_returns!r}")
        if self.inner_route not in ("structured", "plain"):
            raise ConfigError(f"inner_route must be 'structured' or 'plain', got {self.inner_route!r}")


# ---------------------------------------------------------------- presets

_TINY: dict[str, Any] = dict(
    policy_hidden_size=16, policy_hidden_layers=2, value_hidden_size=16, value_hidden_layers=2,
    advantage_head_size=8, weight_transform_latent=8, tasks_per_step=3, inner_batch_size=32,
    outer_batch_size=32, num_iterations=2, steps_per_iteration=3, eval_every=1, eval_transitions=16,
)  # fmt: skip

PRESETS = ("paper", "fast", "tiny")
#: what ``paper`` sets beyond the shared budget: the reference's sub-sampled buffers
_PAPER: dict[str, Any] = dict(buffer_skip=7, inner_buffer_skip=7)


def preset(name: str, env: str | None = None, **overrides: Any) -> MacawConfig:
    """``paper`` (the MACAW reference: 1000 x 1000 outer steps), ``fast`` (the same networks and losses, 50 x 500
    outer steps, a CPU budget) or ``tiny`` (smoke tests). ``paper`` also keeps every 7th row of each task's data
    as the reference's buffers do (``buffer_skip`` / ``inner_buffer_skip``)."""
    if name == "paper":
        overrides = {**_PAPER, **overrides}
    return offline_preset(MacawConfig, _TINY, name, env, overrides)
