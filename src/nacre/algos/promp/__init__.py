"""ProMP (Rothfuss, Lee, Clavera, Asfour, Abbeel 2019), as its authors' run scripts set it (REFERENCE 5.2)."""

from nacre.algos.promp.config import PRESETS, ConfigError, PrompConfig, preset
from nacre.algos.promp.learner import PrompLearner, adapt_penalty, promp_loss
from nacre.algos.promp.trainer import PrompTrainer

__all__ = ["PRESETS", "ConfigError", "PrompConfig", "PrompLearner", "PrompTrainer", "adapt_penalty", "preset",
           "promp_loss"]
