"""An RL2-PPO run: tasks, trials, the PPO update, the meta-test and checkpointed state.

One iteration: draw ``meta_batch`` train tasks; run ``trials_per_task`` trials of ``episodes_per_trial`` episodes in
each (:func:`~nacre.algos.rl2.trials.sample_trials`, hidden state reset per trial); compute advantages over whole
trials and take the PPO epochs (:mod:`nacre.algos.rl2.learner`). The run's tasks, environments pool, seeding,
counters and checkpoint layout are those of the other on-policy trainers
(:class:`~nacre.algos.onpolicy.trainer.OnPolicyTrainer`); checkpoints hold the policy, Adam's state, every RNG
stream and the counters, so a resumed run equals one that never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from nacre.algos.onpolicy.meta_test import OnPolicyAdaptationResult
from nacre.algos.onpolicy.sampler import EnvPool
from nacre.algos.onpolicy.trainer import IterationStats, OnPolicyTrainer
from nacre.algos.rl2.adapter import rl2_meta_test
from nacre.algos.rl2.config import Rl2Config
from nacre.algos.rl2.learner import Rl2Learner, make_batch
from nacre.algos.rl2.trials import sample_trials
from nacre.types import Progress


class Rl2Trainer(OnPolicyTrainer):
    """Everything an RL2-PPO run needs between two iterations; checkpointable with ``state_dict``."""

    algorithm = "rl2-ppo"
    cfg: Rl2Config  # type: ignore[assignment]

    def build_learner(self) -> Rl2Learner:
        return Rl2Learner(self.cfg, self.obs_dim, self.action_dim, self.seeds.torch_init)

    def sample_and_update(self, pool: EnvPool, chosen: np.ndarray) -> IterationStats:
        """Sample the trials of the chosen tasks (one environment per trial) and take the PPO epochs."""
        cfg = self.cfg
        t0 = time.perf_counter()
        trials = sample_trials(pool, self.learner.policy, cfg.episodes_per_trial, self.horizon, self.seeds.collect,
                               cfg.action_scale, sparse_input=cfg.sparse_rewards)  # fmt: skip
        sampling_seconds = time.perf_counter() - t0
        batch = make_batch(trials, trials.rewards, self.learner.policy, cfg)
        t0 = time.perf_counter()
        metrics = self.learner.update(batch, self.seeds.buffer)
        optimization_seconds = time.perf_counter() - t0
        del batch
        per_episode = trials.returns(cfg.sparse_rewards).mean(axis=(0, 1))
        for e, value in enumerate(per_episode):
            metrics[f"returns/train_episode_{e}"] = float(value)
        metrics["returns/train_pre"], metrics["returns/train_post"] = float(per_episode[0]), float(per_episode[-1])
        metrics["returns/train_post_dense"] = float(trials.returns(False)[..., -1].mean())
        metrics["policy/std"] = float(self.learner.policy.log_std.detach().exp().mean())
        return IterationStats(metrics, trials.num_steps, sampling_seconds, optimization_seconds)

    def adapter(self) -> Any:
        raise NotImplementedError("RL2 adapts through its hidden state: see rl2_meta_test")

    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None, num_rollouts: int | None = None,
    ) -> OnPolicyAdaptationResult:  # fmt: skip
        """Return of each episode of one trial per ``test`` (or ``train``) task and run. The trial has
        ``max(steps) + 1`` episodes when ``steps`` is given (``nacre eval --steps N``: N + 1 episodes), else
        ``eval_episodes``; ``num_transitions`` and ``num_rollouts`` do not apply (one trial is the whole budget)."""
        cfg = self.cfg
        task_list = self.split.test if tasks == "test" else self.split.train
        episodes = max(int(s) for s in steps) + 1 if steps else cfg.test_episodes
        runs = num_runs or cfg.num_evals
        result = rl2_meta_test(
            self.learner.policy, task_list, self.distribution.make_env, runs, episodes, self.horizon,
            rng if rng is not None else self.seeds.eval, sparse=cfg.sparse_rewards, action_scale=cfg.action_scale,
            pool=self._evaluation_pool(tasks, runs, 1),
            progress=progress,
        )  # fmt: skip
        if steps:
            keep = [int(s) for s in steps]
            result = OnPolicyAdaptationResult(*(x[:, :, keep] for x in (result.returns, result.dense_returns,
                                                                        result.success, result.lengths)),
                                              np.asarray(keep), result.num_transitions, result.diverged[:, :, keep],
                                              rollouts=1)  # fmt: skip
        return self.with_success(result, task_list)
