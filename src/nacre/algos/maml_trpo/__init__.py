"""MAML-TRPO (Finn et al. 2017), as the ProMP authors ran it for PEARL's comparison (docs/baselines.md, 5.3)."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.maml_trpo.config import PRESETS, ConfigError, MamlTrpoConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.maml_trpo.learner import MamlTrpoLearner, meta_surrogate_and_kl
    from nacre.algos.maml_trpo.trainer import MamlTrpoTrainer

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MamlTrpoLearner": "nacre.algos.maml_trpo.learner",
        "meta_surrogate_and_kl": "nacre.algos.maml_trpo.learner",
        "MamlTrpoTrainer": "nacre.algos.maml_trpo.trainer",
    },
)

__all__ = [
    "PRESETS",
    "ConfigError",
    "MamlTrpoConfig",
    "MamlTrpoLearner",
    "MamlTrpoTrainer",
    "meta_surrogate_and_kl",
    "preset",
]
