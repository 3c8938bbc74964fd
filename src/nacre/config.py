"""What every algorithm config shares: the error type, type checks, and copy / dict round trips."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

C = TypeVar("C", bound="ConfigBase")
_BASIC = {"int": int, "float": float, "bool": bool, "str": str, "dict[str, Any]": dict}


class ConfigError(ValueError):
    """A config value is invalid; the message names the field."""


class ConfigBase:
    """Mixin for frozen config dataclasses.

    Subclasses set ``label`` (used in messages) and ``type_aliases`` (names of ``Literal`` aliases used as
    field annotations -> the Python type of their values), and call :meth:`check_types` first in
    ``__post_init__``.
    """

    label: ClassVar[str] = "config"
    type_aliases: ClassVar[dict[str, type]] = {}
    #: fields that may differ between a checkpoint and the run that loads it (device, budgets, logging)
    run_only_fields: ClassVar[frozenset[str]] = frozenset()

    def check_types(self) -> None:
        """Raise :class:`ConfigError` for a value of the wrong type or a non-finite float (NaN, inf); ints given
        for floats become floats."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            expected = _BASIC.get(text) or self.type_aliases.get(text)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                continue
            if expected is not None and (
                not isinstance(value, expected) or (expected is int and isinstance(value, bool))
            ):
                raise ConfigError(f"{f.name} must be of type {expected.__name__}, got {type(value).__name__} {value!r}")
            if expected is float and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value!r}")

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied and validated; unknown names raise :class:`ConfigError`."""
        self._reject_unknown(changes)
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def with_run_options(self: C, **changes: Any) -> C:
        """:meth:`replace` restricted to :attr:`run_only_fields` (what a resumed run may change)."""
        bad = sorted(set(changes) - self.run_only_fields)
        if bad:
            raise ConfigError(f"{', '.join(bad)} cannot change in a running experiment")
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        cls._reject_unknown(data)
        return cls(**data)

    @classmethod
    def _reject_unknown(cls, names: dict[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(names) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.label} config field(s): {', '.join(unknown)}")


DataWindow = Literal["all", "first", "middle", "last"]

#: run budgets shared by the offline methods' presets (the method's own settings are its defaults)
OFFLINE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(num_iterations=1000, steps_per_iteration=1000, eval_every=10),  # the reference's 1e6 steps
    "fast": dict(num_iterations=50, steps_per_iteration=500, eval_every=5),  # 25k steps: a CPU budget
}


@dataclass(frozen=True)
class OfflineRunConfig(ConfigBase):
    """The fields every offline method's config shares: task distribution, data, meta-test and run.

    A subclass (MACAW, MT+FT) adds its own settings and calls :meth:`check_run_fields` in ``__post_init__``.
    """

    type_aliases: ClassVar[dict[str, type]] = {"DataWindow": str}
    run_only_fields: ClassVar[frozenset[str]] = frozenset({
        "device", "num_iterations", "eval_every", "checkpoint_every", "keep_checkpoints", "num_evals",
        "eval_transitions", "eval_steps",
    })  # fmt: skip

    # task distribution and offline data
    env: str = "macaw-cheetah-vel"
    #: dataset root made by ``nacre dataset generate`` (its manifest fixes the train/test tasks)
    dataset: str = ""
    #: part of each task's buffer to train on: all, or the first / middle / last ``window_transitions``
    data_window: DataWindow = "all"
    #: size of the first / middle / last window of data_window
    window_transitions: int = 0
    # meta-test (the MACAW reference settings: 256 transitions of the test task, one adaptation step, one episode)
    #: offline transitions of each test task the meta-test adapts on (k)
    eval_transitions: int = 256
    #: test-time adaptation steps of the evaluations during training (the log also has the un-adapted return)
    eval_steps: int = 1
    #: independent meta-test runs per test task
    num_evals: int = 1
    #: evaluate on the test tasks every N iterations (and after the last)
    eval_every: int = 10
    # run
    #: training iterations
    num_iterations: int = 100
    #: gradient (outer) steps per iteration (one log row, evaluation and checkpoint at most per iteration)
    steps_per_iteration: int = 1000
    #: root seed of the run: networks, batches, evaluation
    seed: int = 0
    #: torch device: cpu, cuda[:N] or mps
    device: str = "cpu"
    #: write a checkpoint every N iterations (and where the run stops)
    checkpoint_every: int = 1
    #: newest checkpoints kept; older ones are deleted
    keep_checkpoints: int = 2

    @property
    def grad_steps_per_iteration(self) -> int:
        return self.steps_per_iteration

    def check_run_fields(self) -> None:
        """Validate the shared fields (types first); raise :class:`ConfigError` naming the field."""
        self.check_types()
        for name in ("eval_transitions", "num_evals", "eval_every", "num_iterations", "steps_per_iteration",
                     "checkpoint_every", "keep_checkpoints"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("seed", "window_transitions", "eval_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.data_window not in ("all", "first", "middle", "last"):
            raise ConfigError(f"data_window must be all, first, middle or last, got {self.data_window!r}")
        if self.data_window != "all" and self.window_transitions <= 0:
            raise ConfigError(f"data_window {self.data_window!r} needs window_transitions > 0")
        if not self.device.startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device must be cpu, cuda[:N] or mps, got {self.device!r}")


def offline_preset(config_cls: type[C], tiny: Mapping[str, Any], name: str, env: str | None,
                   overrides: Mapping[str, Any]) -> C:  # fmt: skip
    """``paper`` / ``fast`` (:data:`OFFLINE_PRESETS` budgets) or ``tiny`` (the method's smoke-test values)."""
    tables = {**OFFLINE_PRESETS, "tiny": tiny}
    if name not in tables:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(tables)}")
    values: dict[str, Any] = dict(tables[name])
    if env is not None:
        values["env"] = env
    values.update(overrides)
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
