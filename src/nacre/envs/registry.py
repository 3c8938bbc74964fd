"""Name -> task-distribution factory, so the CLI and configs can refer to families by id.

Ids carry a version (``point-robot-v1``); the bare name (``point-robot``) means the newest version.
A user's own family is reachable without registering it as ``"package.module:ClassName"``, or, with no
PYTHONPATH and no code, by its package declaring an entry point in the ``nacre.distributions`` group::

    [project.entry-points."nacre.distributions"]
    my-tasks = "my_package.tasks:MyTasks"

The entry point's name is the id (``my-tasks`` or ``my-tasks-v2``; a class's own ``name`` and ``version``
win when set). Entry points are loaded when the registry is first used; one that fails to load is reported
when its id is asked for, never for other ids.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import re
from collections.abc import Callable
from typing import Any

from nacre.envs.base import TaskDistribution

Factory = Callable[..., TaskDistribution]

_REGISTRY: dict[str, dict[int, Factory]] = {}
_ID = re.compile(r"^(?P<name>.+?)-v(?P<version>\d+)$")
#: the entry-point group through which installed packages provide task distributions
ENTRY_POINT_GROUP = "nacre.distributions"
#: id or name -> why the entry point or built-in family that would provide it failed to load
_LOAD_ERRORS: dict[str, str] = {}


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


def _suggestion(spec: str, name: str, versions: dict[int, Any] | None) -> str:
    """What to say after an unknown id: the versions a known family has, else the closest ids, and the list."""
    ids = registered_ids()
    if versions:
        return f": {name} has {', '.join(f'{name}-v{v}' for v in sorted(versions))}"
    close = difflib.get_close_matches(spec, ids + sorted(_REGISTRY), n=3, cutoff=0.75)
    hint = f" (did you mean {' or '.join(map(repr, dict.fromkeys(close)))}?)" if close else ""
    if len(ids) > 20:
        return f"{hint}; `nacre list` shows all {len(ids)} ids"
    return f"{hint}; known: {', '.join(ids)}"


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
        reason = _LOAD_ERRORS.get(spec) or _LOAD_ERRORS.get(name)
        if reason:
            raise TaskDistributionError(reason)
        if "*" in _LOAD_ERRORS:  # e.g. a broken MuJoCo: the id may be one of the families that failed to load
            raise TaskDistributionError(
                f"unknown task distribution {spec!r}, and the MuJoCo families could not be loaded: {_LOAD_ERRORS['*']}"
            )
        raise UnknownTaskDistribution(f"unknown task distribution {spec!r}{_suggestion(spec, name, versions)}")
    factory = versions[version if version is not None else max(versions)]
    return _construct(spec, factory, kwargs)


def _construct(spec: str, factory: Factory, kwargs: dict[str, Any]) -> TaskDistribution:
    if isinstance(factory, type) and not issubclass(factory, TaskDistribution):
        raise UnknownTaskDistribution(
            f"{spec!r} is the class {factory.__name__}, not a TaskDistribution (for an "
            "environment, write the task family around it: docs/environments.md)"
        )
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
    importlib.import_module("nacre.envs.metaworld")  # registers the ids; metaworld itself is imported on use
    from nacre.envs.mujoco_install import MujocoInstallError

    try:
        importlib.import_module("nacre.envs.mujoco")
    except ModuleNotFoundError:  # MuJoCo families are optional at import time
        pass
    except MujocoInstallError as exc:  # any id not found otherwise gets the repair command
        _LOAD_ERRORS["*"] = str(exc)
    load_entry_points()


def load_entry_points() -> list[str]:
    """Register the task distributions that installed packages declare in :data:`ENTRY_POINT_GROUP`; returns
    the ids registered. Ids already taken (by nacre or another entry point) are left alone and reported."""
    added: list[str] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        match = _ID.match(ep.name)
        label = f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r}"
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plug-in must not break nacre: report it when its id is used
            _LOAD_ERRORS[ep.name] = f"{label} failed to load: {type(exc).__name__}: {exc}"
            if match:
                _LOAD_ERRORS[match["name"]] = _LOAD_ERRORS[ep.name]
            continue
        name, version = (match["name"], int(match["version"])) if match else (ep.name, 1)
        if isinstance(factory, type) and issubclass(factory, TaskDistribution) and factory.name:
            name, version = factory.name, int(factory.version)
        if version in _REGISTRY.get(name, {}):
            _LOAD_ERRORS.setdefault(f"{name}-v{version}", f"{label}: id {name}-v{version} is already taken")
            continue
        register(name, factory, version)
        added.append(f"{name}-v{version}")
    return added
