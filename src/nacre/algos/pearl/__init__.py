"""PEARL (Rakelly et al., 2019): off-policy meta-RL with probabilistic context variables."""

from nacre.algos.pearl.config import ConfigError, PearlConfig, preset
from nacre.algos.pearl.learner import PearlLearner
from nacre.algos.pearl.trainer import PearlTrainer
from nacre.training.errors import TrainingDiverged

__all__ = ["ConfigError", "PearlConfig", "PearlLearner", "PearlTrainer", "TrainingDiverged", "preset"]
