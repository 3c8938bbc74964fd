"""What every algorithm config shares: the error type, type checks, and copy / dict round trips."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

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
        """Raise :class:`ConfigError` for a value of the wrong type; ints given for floats become floats."""
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
                raise ConfigError(
                    f"{f.name} must be of type {expected.__name__}, got {type(value).__name__} {value!r}"
                )

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
