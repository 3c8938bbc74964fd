"""RL2-PPO (Duan et al. 2016): a recurrent policy whose hidden state, carried across the episodes of a trial, is
the learner; meta-trained with PPO as PEARL's authors ran it (REFERENCE 5.4)."""

from nacre.algos.rl2.config import PRESETS, ConfigError, Rl2Config, preset
from nacre.algos.rl2.learner import Rl2Learner, clipped_objective, ppo_loss, trial_advantages
from nacre.algos.rl2.trainer import Rl2Trainer

__all__ = ["PRESETS", "ConfigError", "Rl2Config", "Rl2Learner", "Rl2Trainer", "clipped_objective", "ppo_loss",
           "preset", "trial_advantages"]
