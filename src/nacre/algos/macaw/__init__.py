"""MACAW (Mitchell et al., 2021): offline meta-RL with advantage weighting (algorithm core)."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.macaw.config import ConfigError, MacawConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.macaw.batch import EpisodeTargets, MacawBatch, episode_fields, mc_returns_and_bootstrap
    from nacre.algos.macaw.inner import Adapted, MetaParams
    from nacre.algos.macaw.learner import MacawLearner

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "EpisodeTargets": "nacre.algos.macaw.batch",
        "MacawBatch": "nacre.algos.macaw.batch",
        "episode_fields": "nacre.algos.macaw.batch",
        "mc_returns_and_bootstrap": "nacre.algos.macaw.batch",
        "Adapted": "nacre.algos.macaw.inner",
        "MetaParams": "nacre.algos.macaw.inner",
        "MacawLearner": "nacre.algos.macaw.learner",
    },
)

__all__ = [
    "Adapted", "ConfigError", "EpisodeTargets", "MacawBatch", "MacawConfig", "MacawLearner", "MetaParams",
    "episode_fields", "mc_returns_and_bootstrap", "preset",
]  # fmt: skip
