"""MAESN (Gupta et al. 2018): meta-learned latent exploration spaces; a policy on [obs, z] whose per-task latent
Gaussians are adapted by a learned policy-gradient step (docs/baselines.md, 5.5)."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.maesn.config import PRESETS, ConfigError, MaesnConfig, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.maesn.learner import MaesnLearner, inner_objective, inner_step, outer_objective_and_kl
    from nacre.algos.maesn.trainer import MaesnTrainer

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "MaesnLearner": "nacre.algos.maesn.learner",
        "inner_objective": "nacre.algos.maesn.learner",
        "inner_step": "nacre.algos.maesn.learner",
        "outer_objective_and_kl": "nacre.algos.maesn.learner",
        "MaesnTrainer": "nacre.algos.maesn.trainer",
    },
)

__all__ = [
    "PRESETS",
    "ConfigError",
    "MaesnConfig",
    "MaesnLearner",
    "MaesnTrainer",
    "inner_objective",
    "inner_step",
    "outer_objective_and_kl",
    "preset",
]
