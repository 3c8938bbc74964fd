"""PEARL (Rakelly et al., 2019): off-policy meta-RL with probabilistic context variables."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.pearl.config import ConfigError, PearlConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.pearl.learner import PearlLearner
    from nacre.algos.pearl.trainer import PearlTrainer
    from nacre.training.errors import TrainingDiverged

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PearlLearner": "nacre.algos.pearl.learner",
        "PearlTrainer": "nacre.algos.pearl.trainer",
        "TrainingDiverged": "nacre.training.errors",
    },
)

__all__ = ["ConfigError", "PearlConfig", "PearlLearner", "PearlTrainer", "TrainingDiverged", "preset"]
