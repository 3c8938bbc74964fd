"""A ProMP run: the shared on-policy iteration (:class:`nacre.algos.onpolicy.trainer.OnPolicyTrainer`) with the
ProMP learner and the LVC meta-test adapter."""

from __future__ import annotations

from nacre.algos.onpolicy.meta_test import InnerStepAdapter
from nacre.algos.onpolicy.trainer import OnPolicyTrainer
from nacre.algos.promp.adapter import promp_adapter
from nacre.algos.promp.config import PrompConfig
from nacre.algos.promp.learner import PrompLearner


class PrompTrainer(OnPolicyTrainer):
    """Everything a ProMP run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "promp"
    cfg: PrompConfig

    def build_learner(self) -> PrompLearner:
        return PrompLearner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init)

    def adapter(self) -> InnerStepAdapter:
        return promp_adapter(self.learner.policy.params(), self.cfg)
