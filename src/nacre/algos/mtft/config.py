"""MT + fine-tune configuration (MACAW paper baseline, REFERENCE 2.5): one frozen, validated dataclass and presets.

Run, data and meta-test fields have MacawConfig's names and meanings, so both methods run on the same data with
the same evaluator. The fine-tuning settings are the paper's (REFERENCE 2.5): 20 Adam steps (``eval_steps``),
policy lr 1e-3, value lr 1e-4. The training learning rates are not given for this baseline; they default to
MACAW's outer-loop rates (REFERENCE 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nacre.config import ConfigBase, ConfigError

DataWindow = Literal["all", "first", "middle", "last"]

__all__ = ["ConfigError", "MtftConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MtftConfig(ConfigBase):
    """Every setting of an MT + fine-tune run: networks, AWR training, test-time fine-tuning, data, run."""

    label: ClassVar[str] = "MT+FT"
    type_aliases: ClassVar[dict[str, type]] = {"DataWindow": str}

    # task distribution and offline data (as MacawConfig)
    env: str = "macaw-cheetah-vel"
    #: dataset root made by ``nacre dataset generate`` (its manifest fixes the train/test tasks)
    dataset: str = ""
    #: part of each task's buffer to train on: all, or the first / middle / last ``window_transitions``
    data_window: DataWindow = "all"
    window_transitions: int = 0

    # networks: plain MLPs on [obs, one-hot train-task id] (REFERENCE 2.2 sizes, no weight transform)
    policy_hidden_size: int = 100
    policy_hidden_layers: int = 3
    value_hidden_size: int = 100
    value_hidden_layers: int = 3
    #: fixed std of the Gaussian policy (its mean is tanh of the network output)
    action_std: float = 0.2
    # losses
    awr_temperature: float = 1.0
    max_weight: float = 20.0
    discount: float = 0.99
    #: target value net of the bootstrapped value target: Vtarget <- (1 - rate) Vtarget + rate V every step
    target_update_rate: float = 0.1
    # training (AWR on the pooled data of the train tasks)
    policy_lr: float = 1e-4
    value_lr: float = 1e-5
    #: train tasks per gradient step (drawn without replacement when there are enough)
    tasks_per_step: int = 5
    #: rows per task and step, drawn uniformly from that task's data
    batch_size: int = 256
    # test-time fine-tuning (REFERENCE 2.5): ``n`` Adam steps on the k test transitions, the task id zeroed
    finetune_policy_lr: float = 1e-3
    finetune_value_lr: float = 1e-4
    # meta-test (the shared offline evaluator, as MACAW)
    eval_transitions: int = 256
    #: fine-tuning steps of the evaluations during training (the log also has the un-tuned return)
    eval_steps: int = 20
    num_evals: int = 1
    eval_every: int = 10
    # run
    num_iterations: int = 100
    #: gradient steps per iteration (one log row, evaluation and checkpoint at most per iteration)
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
            "policy_hidden_size", "policy_hidden_layers", "value_hidden_size", "value_hidden_layers", "action_std",
            "awr_temperature", "policy_lr", "value_lr", "tasks_per_step", "batch_size", "finetune_policy_lr",
            "finetune_value_lr", "eval_transitions", "num_evals", "eval_every", "num_iterations",
            "steps_per_iteration", "checkpoint_every", "keep_checkpoints",
        ]  # fmt: skip
        self.check_types()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("seed", "window_transitions", "eval_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name in ("discount", "target_update_rate"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.max_weight <= 1.0:
            raise ConfigError(f"max_weight must be greater than 1 (it caps exp(A/T)), got {self.max_weight}")
        if self.data_window not in ("all", "first", "middle", "last"):
            raise ConfigError(f"data_window must be all, first, middle or last, got {self.data_window!r}")
        if self.data_window != "all" and self.window_transitions <= 0:
            raise ConfigError(f"data_window {self.data_window!r} needs window_transitions > 0")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")


# ---------------------------------------------------------------- presets

#: MACAW's paper budget (1e6 gradient steps), for a like-for-like comparison
_PAPER: dict[str, Any] = dict(num_iterations=1000, steps_per_iteration=1000, eval_every=10)

#: paper networks and losses, MACAW's ``fast`` CPU budget: 50 x 500 gradient steps
_FAST: dict[str, Any] = dict(num_iterations=50, steps_per_iteration=500, eval_every=5)

_TINY: dict[str, Any] = dict(
    policy_hidden_size=16, policy_hidden_layers=2, value_hidden_size=16, value_hidden_layers=2, tasks_per_step=3,
    batch_size=32, num_iterations=2, steps_per_iteration=3, eval_every=1, eval_transitions=16,
)  # fmt: skip

PRESETS = ("paper", "fast", "tiny")


def preset(name: str, env: str | None = None, **overrides: Any) -> MtftConfig:
    """``paper`` (MACAW's budget), ``fast`` (CPU budget) or ``tiny`` (smoke tests), as MACAW's presets."""
    tables = {"paper": _PAPER, "fast": _FAST, "tiny": _TINY}
    if name not in tables:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values: dict[str, Any] = dict(tables[name])
    if env is not None:
        values["env"] = env
    values.update(overrides)
    try:
        return MtftConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
