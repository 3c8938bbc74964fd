"""MACAW configuration: one frozen, validated dataclass and its presets.

Defaults are the reference settings (REFERENCE 2.2); ``tiny`` is for smoke tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nacre.config import ConfigBase, ConfigError

AdvantageReturns = Literal["bootstrap", "mc"]
InnerRoute = Literal["structured", "plain"]
DataWindow = Literal["all", "first", "middle", "last"]

__all__ = ["ConfigError", "MacawConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MacawConfig(ConfigBase):
    """Every setting of a MACAW run: algorithm core (REFERENCE 2.2), data, meta-test and run bookkeeping."""

    label: ClassVar[str] = "MACAW"
    type_aliases: ClassVar[dict[str, type]] = {"AdvantageReturns": str, "InnerRoute": str, "DataWindow": str}

    # task distribution and offline data
    env: str = "macaw-cheetah-vel"
    #: dataset root made by ``nacre dataset generate`` (its manifest fixes the train/test tasks)
    dataset: str = ""
    #: part of each task's buffer to train on: all, or the first / middle / last ``window_transitions``
    data_window: DataWindow = "all"
    window_transitions: int = 0

    # networks (REFERENCE 2.2)
    policy_hidden_size: int = 100
    policy_hidden_layers: int = 3
    value_hidden_size: int = 100
    value_hidden_layers: int = 3
    advantage_head: bool = True
    advantage_head_size: int = 32
    #: each layer's weights and bias are a learned linear map of a learned latent (the paper's weight transform)
    weight_transform: bool = True
    weight_transform_latent: int = 100
    action_std: float = 0.2
    # inner loop
    inner_steps: int = 1
    #: initial inner learning rate; one learned rate per parameter tensor, lr = softplus(raw)
    inner_lr_init: float = 1e-3
    #: Adam learning rate of the learned inner learning rates and of the advantage-loss coefficient
    lr_lr: float = 1e-3
    #: initial advantage-loss coefficient lambda (learned, lambda = softplus(raw))
    advantage_coef_init: float = 0.01
    second_order: bool = True
    #: "structured" applies adapted weight-transform layers without per-task copies of the generating map;
    #: "plain" differentiates through per-task copies of every meta-parameter (the reference computation)
    inner_route: InnerRoute = "structured"
    # losses
    awr_temperature: float = 1.0
    max_weight: float = 20.0
    discount: float = 0.99
    #: return the advantage A = R_hat - V'(s) uses: "bootstrap" R_hat = MC + gamma^k V'(last) (1 - terminal)
    #: (the reference's, with the done mask), "mc" the plain return-to-go
    advantage_returns: AdvantageReturns = "bootstrap"
    # outer loop
    policy_lr: float = 1e-4
    value_lr: float = 1e-5
    #: target value net: Vtarget <- (1 - rate) Vtarget + rate V after every outer step (0.9/0.1)
    target_update_rate: float = 0.1
    tasks_per_step: int = 5
    inner_batch_size: int = 256
    outer_batch_size: int = 256
    # meta-test (REFERENCE 2.2: 256 transitions of the test task, one adaptation step, one episode)
    eval_transitions: int = 256
    #: test-time adaptation steps of the evaluations during training (the log also has the un-adapted return)
    eval_steps: int = 1
    num_evals: int = 1
    eval_every: int = 10
    # run
    num_iterations: int = 100
    #: outer steps per iteration (one log row, evaluation and checkpoint at most per iteration)
    steps_per_iteration: int = 1000
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 1
    keep_checkpoints: int = 2

    #: fields that may differ between a checkpoint and the run that loads it
    run_only_fields: ClassVar[frozenset[str]] = frozenset({
        "device", "num_iterations", "eval_every", "checkpoint_every", "keep_checkpoints", "num_evals",
        "eval_transitions", "eval_steps",
    })  # fmt: skip

    @property
    def grad_steps_per_iteration(self) -> int:
        return self.steps_per_iteration

    def __post_init__(self) -> None:
        positive = [
            "policy_hidden_size", "policy_hidden_layers", "value_hidden_size", "value_hidden_layers",
            "advantage_head_size", "weight_transform_latent", "action_std", "inner_steps", "inner_lr_init",
            "advantage_coef_init", "awr_temperature", "policy_lr", "value_lr", "tasks_per_step",
            "inner_batch_size", "outer_batch_size", "eval_transitions", "num_evals", "eval_every",
            "num_iterations", "steps_per_iteration", "checkpoint_every", "keep_checkpoints",
        ]  # fmt: skip
        self.check_types()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("lr_lr", "seed", "window_transitions", "eval_steps"):
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
        if self.data_window not in ("all", "first", "middle", "last"):
            raise ConfigError(f"data_window must be all, first, middle or last, got {self.data_window!r}")
        if self.data_window != "all" and self.window_transitions <= 0:
            raise ConfigError(f"data_window {self.data_window!r} needs window_transitions > 0")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")


# ---------------------------------------------------------------- presets

#: the reference's budget: 1e6 outer steps
_PAPER: dict[str, Any] = dict(num_iterations=1000, steps_per_iteration=1000, eval_every=10)

#: paper networks and losses, a CPU budget: 50 x 500 outer steps (about 30-60 minutes on 2 cores)
_FAST: dict[str, Any] = dict(num_iterations=50, steps_per_iteration=500, eval_every=5)

_TINY: dict[str, Any] = dict(
    policy_hidden_size=16, policy_hidden_layers=2, value_hidden_size=16, value_hidden_layers=2,
    advantage_head_size=8, weight_transform_latent=8, tasks_per_step=3, inner_batch_size=32,
    outer_batch_size=32, num_iterations=2, steps_per_iteration=3, eval_every=1, eval_transitions=16,
)  # fmt: skip

PRESETS = ("paper", "fast", "tiny")


def preset(name: str, env: str | None = None, **overrides: Any) -> MacawConfig:
    """``paper`` (REFERENCE 2.2, the same for every benchmark), ``fast`` (CPU budget) or ``tiny`` (smoke tests)."""
    tables = {"paper": _PAPER, "fast": _FAST, "tiny": _TINY}
    if name not in tables:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values: dict[str, Any] = dict(tables[name])
    if env is not None:
        values["env"] = env
    values.update(overrides)
    try:
        return MacawConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
