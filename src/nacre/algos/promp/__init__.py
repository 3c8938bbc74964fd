"""ProMP (Rothfuss, Lee, Clavera, Asfour, Abbeel 2019), as its authors' run scripts set it (docs/baselines.md, 5.2)."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.promp.config import PRESETS, ConfigError, PrompConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.promp.learner import PrompLearner, adapt_penalty, promp_loss
    from nacre.algos.promp.trainer import PrompTrainer

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PrompLearner": "nacre.algos.promp.learner",
        "adapt_penalty": "nacre.algos.promp.learner",
        "promp_loss": "nacre.algos.promp.learner",
        "PrompTrainer": "nacre.algos.promp.trainer",
    },
)

__all__ = [
    "PRESETS",
    "ConfigError",
    "PrompConfig",
    "PrompLearner",
    "PrompTrainer",
    "adapt_penalty",
    "preset",
    "promp_loss",
]
