"""RL2-PPO (Duan et al. 2016): a recurrent policy whose hidden state, carried across the episodes of a trial, is
the learner; meta-trained with PPO as PEARL's authors ran it (docs/baselines.md, 5.4)."""

from typing import TYPE_CHECKING

from nacre._lazy import lazy_exports
from nacre.algos.rl2.config import PRESETS, ConfigError, Rl2Config, preset

if TYPE_CHECKING:  # what static analysers and IDEs see
    from nacre.algos.rl2.learner import Rl2Learner, clipped_objective, ppo_loss, trial_advantages
    from nacre.algos.rl2.trainer import Rl2Trainer

# the torch-backed parts load on first use, so that the config alone stays light
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Rl2Learner": "nacre.algos.rl2.learner",
        "clipped_objective": "nacre.algos.rl2.learner",
        "ppo_loss": "nacre.algos.rl2.learner",
        "trial_advantages": "nacre.algos.rl2.learner",
        "Rl2Trainer": "nacre.algos.rl2.trainer",
    },
)

__all__ = [
    "PRESETS",
    "ConfigError",
    "Rl2Config",
    "Rl2Learner",
    "Rl2Trainer",
    "clipped_objective",
    "ppo_loss",
    "preset",
    "trial_advantages",
]
