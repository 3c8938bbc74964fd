"""A MAML-TRPO run: the shared on-policy iteration (:class:`nacre.algos.onpolicy.trainer.OnPolicyTrainer`) with
the TRPO learner and the vanilla-policy-gradient meta-test adapter."""

from __future__ import annotations

from nacre.algos.maml_trpo.adapter import maml_adapter
from nacre.algos.maml_trpo.config import MamlTrpoConfig
from nacre.algos.maml_trpo.learner import MamlTrpoLearner
from nacre.algos.onpolicy.meta_test import InnerStepAdapter
from nacre.algos.onpolicy.trainer import OnPolicyTrainer


class MamlTrpoTrainer(OnPolicyTrainer):
    """Everything a MAML-TRPO run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "maml-trpo"
    cfg: MamlTrpoConfig

    def build_learner(self) -> MamlTrpoLearner:
        return MamlTrpoLearner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init)

    def adapter(self) -> InnerStepAdapter:
        return maml_adapter(self.learner.policy.params(), self.cfg)
