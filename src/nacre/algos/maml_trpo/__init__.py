"""MAML-TRPO (Finn, Abbeel, Levine 2017), as the ProMP authors ran it for PEARL's comparison (REFERENCE 5.3)."""

from nacre.algos.maml_trpo.config import PRESETS, ConfigError, MamlTrpoConfig, preset
from nacre.algos.maml_trpo.learner import MamlTrpoLearner, meta_surrogate_and_kl
from nacre.algos.maml_trpo.trainer import MamlTrpoTrainer

__all__ = ["PRESETS", "ConfigError", "MamlTrpoConfig", "MamlTrpoLearner", "MamlTrpoTrainer", "meta_surrogate_and_kl",
           "preset"]
