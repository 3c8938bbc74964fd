"""Name -> task-distribution factory, so the CLI and configs can refer to families by id.

Ids carry a version (``point-robot-v1``); the bare name (``point-robot``) means the newest version.
A user's own family is reachable without registering it as ``"package.module:ClassName"``.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable
from typing import Any

from nacre.envs.base import TaskDistribution

Factory = Callable[..., TaskDistribution]

_REGISTRY: dict[str, dict[int, Factory]] = {}
_ID = re.compile(r"^(?P<name>.+?)-v(?P<version>\d+)$")


class TaskDistributionError(ValueError):
    """A task distribution cannot be built as asked."""


class UnknownTaskDistribution(TaskDistributionError):
    """Raised for an id that names no registered family."""


def register(name: str, factory: Factory, version: int = 1) -> None:
    """Register ``factory(**kwargs) -> TaskDistribution`` under ``name`` and ``version``."""
    _REGISTRY.setdefault(name, {})[version] = factory


def registered_ids() -> list[str]:
    """All registered versioned ids, sorted."""
    _load_builtins()
    return sorted(f"{name}-v{v}" for name, versions in _REGISTRY.items() for v in versions)


def make_distribution(spec: str, **kwargs: Any) -> TaskDistribution:
    """Build a distribution from an id (``cheetah-vel-v1``, ``cheetah-vel``) or ``module:Class``."""
    _load_builtins()
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownTaskDistribution(f"cannot import task distribution {spec!r}: {exc}") from None
        return _construct(spec, factory, kwargs)
    match = _ID.match(spec)
    name, version = (match["name"], int(match["version"])) if match else (spec, None)
    versions = _REGISTRY.get(name)
    if not versions or (version is not None and version not in versions):
        known = ", ".join(registered_ids())
        raise UnknownTaskDistribution(f"unknown task distribution {spec!r}; known: {known}")
    factory = versions[version if version is not None else max(versions)]
    return _construct(spec, factory, kwargs)


def _construct(spec: str, factory: Factory, kwargs: dict[str, Any]) -> TaskDistribution:
    try:
        dist = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise TaskDistributionError(f"bad arguments for task distribution {spec!r}: {exc}") from None
    if not isinstance(dist, TaskDistribution):
        raise UnknownTaskDistribution(f"{spec!r} did not build a TaskDistribution")
    return dist


_BUILTINS_LOADED = False


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    importlib.import_module("nacre.envs.point_robot")
    with contextlib.suppress(ModuleNotFoundError):  # MuJoCo families are optional at import time
        importlib.import_module("nacre.envs.mujoco")
