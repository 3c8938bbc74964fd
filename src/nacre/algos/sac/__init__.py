"""Soft actor-critic, used to generate the behaviour data of offline meta-RL (``nacre dataset generate``)."""

from nacre.algos.sac.buffer import SACReplayBuffer
from nacre.algos.sac.learner import SACConfig, SACLearner, alpha_loss, policy_loss, q_target

__all__ = ["SACConfig", "SACLearner", "SACReplayBuffer", "alpha_loss", "policy_loss", "q_target"]
