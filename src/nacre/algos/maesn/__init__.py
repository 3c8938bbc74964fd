"""MAESN (Gupta et al. 2018): meta-learned latent exploration spaces; a policy on [obs, z] whose per-task latent
Gaussians are adapted by a learned policy-gradient step (REFERENCE 5.5)."""

from nacre.algos.maesn.config import PRESETS, ConfigError, MaesnConfig, preset
from nacre.algos.maesn.learner import MaesnLearner, inner_objective, inner_step, outer_objective_and_kl
from nacre.algos.maesn.trainer import MaesnTrainer

__all__ = ["PRESETS", "ConfigError", "MaesnConfig", "MaesnLearner", "MaesnTrainer", "inner_objective",
           "inner_step", "outer_objective_and_kl", "preset"]
