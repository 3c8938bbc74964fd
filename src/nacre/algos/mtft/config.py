"""MT + fine-tune configuration (a baseline of the MACAW paper): one frozen, validated dataclass and presets.

Run, data and meta-test fields have MacawConfig's names and meanings, so both methods run on the same data with
the same evaluator. The fine-tuning settings are the MACAW paper's: 20 Adam steps (``eval_steps``),
policy lr 1e-3, value lr 1e-4. The training learning rates are not given for this baseline; they default to
MACAW's outer-loop rates (the MACAW reference settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from nacre.config import ConfigError, OfflineRunConfig, offline_preset

__all__ = ["ConfigError", "MtftConfig", "PRESETS", "preset"]


@dataclass(frozen=True)
class MtftConfig(OfflineRunConfig):
    """Every setting of an MT + fine-tune run: networks, AWR training, test-time fine-tuning, plus the shared
    offline-run fields (as MACAW's)."""

    label: ClassVar[str] = "MT+FT"

    # networks: plain MLPs on [obs, one-hot train-task id] (the MACAW reference sizes, no weight transform)
    #: width of the policy's hidden layers
    policy_hidden_size: int = 100
    #: hidden layers of the policy
    policy_hidden_layers: int = 3
    #: width of the value network's hidden layers
    value_hidden_size: int = 100
    #: hidden layers of the value network
    value_hidden_layers: int = 3
    #: fixed std of the Gaussian policy (its mean is tanh of the network output)
    action_std: float = 0.2
    # losses
    #: temperature T of the advantage weights exp(A / T)
    awr_temperature: float = 1.0
    #: cap on the advantage weights exp(A / T)
    max_weight: float = 20.0
    #: discount factor gamma of the returns and value targets
    discount: float = 0.99
    #: the value target: false = the plain Monte-Carlo return to the end of the stored trajectory, as the MACAW
    #: reference's multi-task configuration (its ``no_bootstrap``); true = MACAW's outer-loop target, that return
    #: plus gamma^k Vtarget(last state)
    value_bootstrap: bool = False
    #: target value net of the bootstrapped value target: Vtarget <- (1 - rate) Vtarget + rate V every step
    target_update_rate: float = 0.1
    # training (AWR on the pooled data of the train tasks)
    #: Adam learning rate of the policy
    policy_lr: float = 1e-4
    #: Adam learning rate of the value network
    value_lr: float = 1e-5
    #: train tasks per gradient step (drawn without replacement when there are enough)
    tasks_per_step: int = 5
    #: rows per task and step, drawn uniformly from that task's data
    batch_size: int = 256
    #: batches are drawn from every k-th row of a task's data (rows 0, k, 2k, ...): the MACAW reference's
    #: multi-task runs keep every 7th (``paper``); 1 uses every row
    buffer_skip: int = 1
    # test-time fine-tuning (MACAW paper): ``n`` Adam steps on the k test transitions, the task id zeroed
    #: Adam learning rate of the policy's test-time fine-tuning steps
    finetune_policy_lr: float = 1e-3
    #: Adam learning rate of the value network's test-time fine-tuning steps
    finetune_value_lr: float = 1e-4
    #: fine-tuning steps of the evaluations during training (the log also has the un-tuned return)
    eval_steps: int = 20

    def __post_init__(self) -> None:
        positive = [
            "policy_hidden_size", "policy_hidden_layers", "value_hidden_size", "value_hidden_layers", "action_std",
            "awr_temperature", "policy_lr", "value_lr", "tasks_per_step", "batch_size", "finetune_policy_lr",
            "finetune_value_lr", "buffer_skip",
        ]  # fmt: skip
        self.check_run_fields()
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("discount", "target_update_rate"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.max_weight <= 1.0:
            raise ConfigError(f"max_weight must be greater than 1 (it caps exp(A/T)), got {self.max_weight}")


# ---------------------------------------------------------------- presets

_TINY: dict[str, Any] = dict(
    policy_hidden_size=16, policy_hidden_layers=2, value_hidden_size=16, value_hidden_layers=2, tasks_per_step=3,
    batch_size=32, num_iterations=2, steps_per_iteration=3, eval_every=1, eval_transitions=16,
)  # fmt: skip

PRESETS = ("paper", "fast", "tiny")


def preset(name: str, env: str | None = None, **overrides: Any) -> MtftConfig:
    """``paper`` (MACAW's budget), ``fast`` (CPU budget) or ``tiny`` (smoke tests), as MACAW's presets; ``paper``
    also keeps every 7th row of each task's data, as the reference's multi-task runs (``buffer_skip``)."""
    if name == "paper":
        overrides = {"buffer_skip": 7, **overrides}
    return offline_preset(MtftConfig, _TINY, name, env, overrides)
