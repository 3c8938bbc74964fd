"""MACAW (Mitchell et al., 2021): offline meta-RL with advantage weighting (algorithm core)."""

from nacre.algos.macaw.batch import EpisodeTargets, MacawBatch, episode_fields, mc_returns_and_bootstrap
from nacre.algos.macaw.config import ConfigError, MacawConfig, preset
from nacre.algos.macaw.inner import Adapted, MetaParams
from nacre.algos.macaw.learner import MacawLearner

__all__ = [
    "Adapted", "ConfigError", "EpisodeTargets", "MacawBatch", "MacawConfig", "MacawLearner", "MetaParams",
    "episode_fields", "mc_returns_and_bootstrap", "preset",
]  # fmt: skip
