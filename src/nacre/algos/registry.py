"""The registered algorithms: each name's config and trainer classes, as ``module:Class`` strings, so that reading
the list (``nacre train ALGO --help``, spec validation) imports neither the trainers nor torch."""

from __future__ import annotations

from typing import Any

#: algorithm name -> (config class, trainer class), imported on first use
ALGORITHMS: dict[str, tuple[str, str]] = {
    "pearl": ("nacre.algos.pearl.config:PearlConfig", "nacre.algos.pearl.trainer:PearlTrainer"),
    "macaw": ("nacre.algos.macaw.config:MacawConfig", "nacre.algos.macaw.trainer:MacawTrainer"),
    "mt-finetune": ("nacre.algos.mtft.config:MtftConfig", "nacre.algos.mtft.trainer:MtftTrainer"),
    "offline-pearl": ("nacre.algos.pearl.config:PearlConfig", "nacre.algos.pearl.offline:OfflinePearlTrainer"),
    "maml-trpo": ("nacre.algos.maml_trpo.config:MamlTrpoConfig", "nacre.algos.maml_trpo.trainer:MamlTrpoTrainer"),
    "promp": ("nacre.algos.promp.config:PrompConfig", "nacre.algos.promp.trainer:PrompTrainer"),
    "rl2-ppo": ("nacre.algos.rl2.config:Rl2Config", "nacre.algos.rl2.trainer:Rl2Trainer"),
    "maesn": ("nacre.algos.maesn.config:MaesnConfig", "nacre.algos.maesn.trainer:MaesnTrainer"),
}


class UnknownAlgorithmError(KeyError):
    """An algorithm name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def _resolve(target: str) -> type:
    """Import ``module:Class`` and return the class."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _entry(algorithm: str) -> tuple[str, str]:
    if algorithm not in ALGORITHMS:
        raise UnknownAlgorithmError(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algorithm]


def config_class(algorithm: str) -> type:
    """The config class registered for ``algorithm``; its trainer (and torch) is not imported."""
    return _resolve(_entry(algorithm)[0])


def trainer_class(algorithm: str) -> type:
    """The trainer class registered for ``algorithm`` (imports torch)."""
    return _resolve(_entry(algorithm)[1])


def _config_module(algorithm: str) -> Any:
    import importlib

    return importlib.import_module(config_class(algorithm).__module__)


def preset_names(algorithm: str) -> tuple[str, ...]:
    """The preset names ``algorithm`` offers (``paper``, ``fast``, ...), in its config module's order."""
    return tuple(getattr(_config_module(algorithm), "PRESETS", ()))


def preset(algorithm: str, name: str, env: str, **overrides: Any) -> Any:
    """``algorithm``'s config for preset ``name`` on distribution ``env`` with ``overrides`` applied; the config
    module's own ``preset`` raises its one-line ``ConfigError`` for an unknown name or field."""
    return _config_module(algorithm).preset(name, env, **overrides)
