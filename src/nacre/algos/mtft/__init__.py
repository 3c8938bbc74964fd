"""Multi-task training + fine-tuning (MT+FT), the offline baseline of the MACAW paper."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.mtft.config import ConfigError, MtftConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.mtft.learner import MtftLearner

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MtftLearner": "nacre.algos.mtft.learner",
    },
)

__all__ = ["ConfigError", "MtftConfig", "MtftLearner", "preset"]
