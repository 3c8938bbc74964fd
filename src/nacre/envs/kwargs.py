"""Check a task distribution's keyword arguments (``--env-kwargs``, a sweep's ``env_kwargs``) before use.

Values come from JSON, so a wrong type (``goal_radius=abc``) would otherwise fail deep inside the environment
with an unrelated message; :func:`check_env_kwargs` compares each value with the constructor's annotation.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Any

from nacre.envs.registry import TaskDistributionError, make_distribution

_NAMES = {float: "a number", int: "an integer", bool: "true or false", str: "a string", type(None): "null"}


def _type_matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a constructor annotation (unknown hints fit)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str):
        return isinstance(value, hint)
    if origin in (tuple, list) or hint in (tuple, list):
        return isinstance(value, list)
    return True


def _hint_name(hint: Any) -> str:
    args = typing.get_args(hint) if typing.get_origin(hint) is not None else ()
    if args and all(a in _NAMES for a in args):
        return " or ".join(_NAMES[a] for a in args)
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def check_env_kwargs(spec: str, kwargs: dict[str, Any]) -> None:
    """Raise :class:`TaskDistributionError` (``env_kwargs key=value: <id> expects a number``) when a value does not
    fit the annotation of the distribution's constructor parameter of that name. Unknown keys and unannotated
    parameters are left to the constructor, which reports them itself."""
    if not kwargs:
        return
    try:
        cls = type(make_distribution(spec))
        hints = typing.get_type_hints(cls.__init__)
        params = inspect.signature(cls).parameters
    except (TaskDistributionError, TypeError, ValueError, NameError):
        return  # the construction with the kwargs reports what is wrong
    for key, value in kwargs.items():
        if key in params and key in hints and not _type_matches(value, hints[key]):
            expected = _hint_name(hints[key])
            raise TaskDistributionError(f"env_kwargs {key}={json.dumps(value)}: {spec} expects {expected}")
