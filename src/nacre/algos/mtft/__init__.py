"""Multi-task training + fine-tuning (MT+FT), the offline baseline of the MACAW paper (REFERENCE 2.5)."""

from nacre.algos.mtft.config import ConfigError, MtftConfig, preset
from nacre.algos.mtft.learner import MtftLearner

__all__ = ["ConfigError", "MtftConfig", "MtftLearner", "preset"]
