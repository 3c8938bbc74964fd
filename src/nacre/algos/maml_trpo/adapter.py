"""MAML-TRPO at meta-test time: the training inner step (vanilla policy gradient, ``inner_lr``, per-task linear
baseline) applied ``n`` times to a copy of the meta-policy, each time on rollouts of the latest policy
(:mod:`nacre.algos.onpolicy.meta_test`)."""

from __future__ import annotations

import functools

import torch

from nacre.algos.maml_trpo.config import MamlTrpoConfig
from nacre.algos.onpolicy.meta import vpg_objective
from nacre.algos.onpolicy.meta_test import InnerStepAdapter


def maml_adapter(theta: dict[str, torch.Tensor], cfg: MamlTrpoConfig) -> InnerStepAdapter:
    """The adapter of meta-parameters ``theta`` (copied)."""
    return InnerStepAdapter({k: v.detach().clone() for k, v in theta.items()},
                            functools.partial(vpg_objective, min_std=cfg.min_std), cfg.inner_lr, cfg.discount,
                            cfg.gae_lambda, cfg.normalize_advantages, cfg.baseline_reg, cfg.min_std,
                            cfg.sparse_rewards)  # fmt: skip
