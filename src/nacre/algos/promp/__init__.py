"""ProMP (Rothfuss, Lee, Clavera, Asfour, Abbeel 2019), as its authors' run scripts set it (REFERENCE 5.2)."""

from nacre._lazy import lazy_exports
from nacre.algos.promp.config import PRESETS, ConfigError, PrompConfig, preset

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(__name__, {
    "PrompLearner": "nacre.algos.promp.learner",
    "adapt_penalty": "nacre.algos.promp.learner",
    "promp_loss": "nacre.algos.promp.learner",
    "PrompTrainer": "nacre.algos.promp.trainer",
})

__all__ = ["PRESETS", "ConfigError", "PrompConfig", "PrompLearner", "PrompTrainer", "adapt_penalty", "preset",
           "promp_loss"]
