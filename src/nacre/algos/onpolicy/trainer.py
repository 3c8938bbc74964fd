"""What every on-policy meta-RL run shares (MAML-TRPO, ProMP; RL2-PPO and MAESN replace the iteration's sampling
and update, and the meta-test): tasks, environment pools, seeding, the iteration's bookkeeping, the meta-test,
checkpointed state.

One iteration (docs/baselines.md 5.1): ``meta_batch`` train tasks; sample ``rollouts_per_task`` rollouts of each with
the meta-policy; for each inner step, adapt per task on the latest rollouts and sample again with the adapted
policies; then the learner takes its outer step on (pre-update batches, post-update batch). The environments live
in one :class:`EnvPool` built at the first iteration and given the new tasks in place afterwards.

A subclass sets ``algorithm`` and builds its learner in :meth:`build_learner`; the learner provides ``policy``
(:class:`GaussianMLPPolicy`), ``inner_objective``, ``update(pre, post) -> metrics``, ``state_dict`` and
``load_state_dict(state, weights_only)``. A method with another iteration overrides :meth:`sample_and_update`
(and :meth:`checked_parameters`); one with another meta-test adapter overrides :meth:`adapter` (and
:meth:`eval_envs_per_task`) or :meth:`evaluate`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from nacre.algos.onpolicy.config import OnPolicyConfig
from nacre.algos.onpolicy.meta import OnPolicyBatch, act_fn, adaptation_path, make_batch
from nacre.algos.onpolicy.meta_test import (
    Adapter,
    InnerStepAdapter,
    OnPolicyAdaptationResult,
    onpolicy_adaptation_curves,
)
from nacre.algos.onpolicy.sampler import EnvPool, Rollouts, distribution_switch, sample_rollouts
from nacre.config import ConfigError
from nacre.envs.base import TaskSplit
from nacre.envs.registry import make_distribution
from nacre.evaluation.offline_adaptation import offline_eval_metrics
from nacre.evaluation.success import tasks_report_success, with_success_labels
from nacre.seeding import SeedTree
from nacre.training.checkpoint import run_header
from nacre.training.errors import check_finite
from nacre.types import Progress


class IterationStats(NamedTuple):
    """What the method's part of an iteration (:meth:`OnPolicyTrainer.sample_and_update`) reports."""

    #: the learner's metrics, then the method's ``returns/*`` and ``policy/*`` entries (the log's column order)
    metrics: dict[str, float]
    #: environment steps sampled
    env_steps: int
    sampling_seconds: float
    optimization_seconds: float


class OnPolicyTrainer:
    """Base of the on-policy trainers; the attributes and methods are the interface the loop and CLI use."""

    algorithm = ""

    def __init__(self, cfg: OnPolicyConfig, tasks: TaskSplit | None = None) -> None:
        """``tasks``: the run's stored train/test tasks (``tasks.json``), used instead of drawing them again."""
        self.cfg = cfg
        self.distribution = make_distribution(cfg.env, **cfg.env_kwargs)
        self.split: TaskSplit = (
            tasks if tasks is not None else self.distribution.split(cfg.seed, cfg.n_train_tasks, cfg.n_test_tasks)
        )
        if (len(self.split.train), len(self.split.test)) != (cfg.n_train_tasks, cfg.n_test_tasks):
            raise ConfigError(f"the tasks hold {len(self.split.train)} train / {len(self.split.test)} test tasks, but "
                              f"the config asks for n_train_tasks={cfg.n_train_tasks}, "
                              f"n_test_tasks={cfg.n_test_tasks}")  # fmt: skip
        self.episode_length = int(self.distribution.episode_length)
        self.horizon = cfg.horizon or self.episode_length
        if self.horizon > self.episode_length:
            raise ConfigError(f"horizon ({cfg.horizon}) cannot exceed {self.distribution.id}'s episode length "
                              f"({self.episode_length})")  # fmt: skip
        if cfg.sparse_rewards and not self.distribution.has_sparse_reward:
            raise ConfigError(f"sparse_rewards: {self.distribution.id} has no sparse reward")
        probe = EnvPool(self.distribution.make_env, [self.split.train[0]], 1)
        self.obs_dim, self.action_dim = probe.obs_dim, probe.action_dim
        #: whether the tasks report success (sparse goal or info["success"]): evaluations then log success rates
        self.reports_success = tasks_report_success(self.distribution, probe.envs[0][0])
        probe.close()
        self._switch = distribution_switch(self.distribution)
        self.seeds = SeedTree.from_seed(cfg.seed, cfg.device)
        self.learner = self.build_learner()
        self._pool: EnvPool | None = None
        self._eval_pool: tuple[tuple[str, int, int], EnvPool] | None = None
        self.iteration = 0
        self.env_steps = 0
        self.grad_steps = 0
        self.train_seconds = 0.0

    def build_learner(self) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ one iteration
    def _train_pool(self, tasks: Sequence[Any]) -> EnvPool:
        if self._pool is None:
            self._pool = EnvPool(self.distribution.make_env, tasks, self.cfg.rollout_envs, self._switch)
        else:
            self._pool.set_tasks(tasks)
        return self._pool

    def _sample(self, pool: EnvPool, params: Any) -> Rollouts:
        cfg = self.cfg
        return sample_rollouts(pool, act_fn(params, cfg.min_std), cfg.rollouts_per_task, self.horizon,
                               self.seeds.collect, cfg.action_scale)  # fmt: skip

    def _batch(self, rollouts: Rollouts, params: Any, inner: bool) -> OnPolicyBatch:
        cfg = self.cfg
        rewards = rollouts.sparse_rewards if inner and cfg.sparse_rewards else rollouts.rewards
        return make_batch(rollouts, rewards, params, cfg.discount, cfg.gae_lambda, cfg.normalize_advantages,
                          cfg.baseline_reg, cfg.min_std, self.learner.device)  # fmt: skip

    def train_iteration(self, progress: Progress | None = None) -> dict[str, float]:
        """Draw ``meta_batch`` train tasks, run the method's sampling and update on them
        (:meth:`sample_and_update`), count and time the iteration; return its metrics."""
        cfg = self.cfg
        start = time.perf_counter()
        n_train = len(self.split.train)
        chosen = self.seeds.collect.choice(n_train, size=cfg.meta_batch, replace=cfg.meta_batch > n_train)
        pool = self._train_pool([self.split.train[int(i)] for i in chosen])
        metrics, steps, sampling_seconds, optimization_seconds = self.sample_and_update(pool, chosen)
        self.grad_steps += cfg.grad_steps_per_iteration
        if progress is not None:
            progress("grad_steps", cfg.grad_steps_per_iteration)
        check_finite(metrics, self.checked_parameters(), self.iteration + 1)
        self.iteration += 1
        self.env_steps += steps
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        metrics.update({
            "time/env_steps": self.env_steps, "time/grad_steps": self.grad_steps, "time/wall_clock": self.train_seconds,
            "time/env_steps_per_second": steps / max(sampling_seconds, 1e-9),
            "time/sampling_seconds": sampling_seconds, "time/optimization_seconds": optimization_seconds,
            "time/grad_steps_per_second": cfg.grad_steps_per_iteration / max(optimization_seconds, 1e-9),
        })  # fmt: skip
        return metrics

    def sample_and_update(self, pool: EnvPool, chosen: np.ndarray) -> IterationStats:
        """The method's part of an iteration on the tasks ``chosen`` (indices into the train tasks, in ``pool``):
        sample pre- and post-update rollouts, take the outer step."""
        cfg = self.cfg
        theta = self.learner.policy.params()
        objective = self.learner.inner_objective
        sampling_seconds, steps = 0.0, 0
        pre: list[OnPolicyBatch] = []
        step_returns: list[float] = []
        params: Any = theta
        for k in range(cfg.inner_steps + 1):
            t0 = time.perf_counter()
            rollouts = self._sample(pool, params)
            sampling_seconds += time.perf_counter() - t0
            steps += rollouts.num_steps
            step_returns.append(float(rollouts.returns(cfg.sparse_rewards).mean()))
            if k < cfg.inner_steps:
                pre.append(self._batch(rollouts, params, inner=True))
                params = adaptation_path(theta, pre, objective, cfg.inner_lr, create_graph=False)[-1]
            else:
                post = self._batch(rollouts, params, inner=False)
                post_dense = float(rollouts.returns(False).mean())
            del rollouts
        t0 = time.perf_counter()
        metrics = self.learner.update(pre, post)
        optimization_seconds = time.perf_counter() - t0
        del pre, post, params
        for k, value in enumerate(step_returns):
            metrics[f"returns/train_steps_{k}"] = value
        metrics["returns/train_pre"], metrics["returns/train_post"] = step_returns[0], step_returns[-1]
        metrics["returns/train_post_dense"] = post_dense
        metrics["policy/std"] = float(self.learner.policy.params()["log_std"].detach().exp().mean())
        return IterationStats(metrics, steps, sampling_seconds, optimization_seconds)

    def checked_parameters(self) -> Iterable[tuple[str, Any]]:
        """The named parameters that must stay finite (:func:`~nacre.training.errors.check_finite`)."""
        return self.learner.policy.named_parameters()

    # ------------------------------------------------------------------ meta-test
    def adapter(self) -> Adapter[Any]:
        """The meta-test adapter: the method's inner step on a copy of the current meta-parameters."""
        cfg = self.cfg
        theta = {k: v.detach().clone() for k, v in self.learner.policy.params().items()}
        return InnerStepAdapter(theta, self.learner.inner_objective, cfg.inner_lr, cfg.discount,
                                cfg.gae_lambda, cfg.normalize_advantages, cfg.baseline_reg, cfg.min_std,
                                cfg.sparse_rewards)  # fmt: skip

    def evaluate(
        self, tasks: str = "test", num_runs: int | None = None, num_transitions: int | None = None,
        steps: Sequence[int] | None = None, rng: np.random.Generator | None = None,
        progress: Progress | None = None, num_rollouts: int | None = None,
    ) -> OnPolicyAdaptationResult:  # fmt: skip
        """Return after 0, 1, ..., ``eval_steps`` (or each of ``steps``) adaptation steps on every ``test`` (or
        ``train``) task. Each step samples ``num_rollouts`` rollouts (default ``eval_rollouts``); ``num_transitions``
        (``nacre eval --transitions``) asks for ``ceil(num_transitions / horizon)`` rollouts instead."""
        cfg = self.cfg
        task_list = self.split.test if tasks == "test" else self.split.train
        if num_rollouts is None:
            num_rollouts = math.ceil(num_transitions / self.horizon) if num_transitions else cfg.eval_rollouts
        steps = list(steps) if steps is not None else list(range(cfg.eval_steps + 1))
        runs = num_runs or cfg.num_evals
        result = onpolicy_adaptation_curves(
            self.adapter(), task_list, self.distribution.make_env, runs, num_rollouts, steps, self.horizon,
            rng if rng is not None else self.seeds.eval, sparse=cfg.sparse_rewards, action_scale=cfg.action_scale,
            pool=self._evaluation_pool(tasks, runs, self.eval_envs_per_task(num_rollouts)),
            progress=progress,
        )  # fmt: skip
        return self.with_success(result, task_list)

    def with_success(self, result: OnPolicyAdaptationResult, task_list: Sequence[Any]) -> OnPolicyAdaptationResult:
        """``result`` marked with whether the tasks report success, and each task's group (ML10 / ML45 class)."""
        return with_success_labels(result, self.reports_success, self.distribution, task_list)

    def eval_envs_per_task(self, rollouts: int) -> int:
        """Environments per task slot of the meta-test pool when each adaptation step samples ``rollouts``."""
        return min(self.cfg.envs_per_task or rollouts, rollouts)

    def _evaluation_pool(self, tasks: str, runs: int, width: int) -> EnvPool:
        """One pool of ``width`` environments per (run, task) slot kept for the evaluations (the same tasks every
        time during training)."""
        key = (tasks, runs, width)
        if self._eval_pool is None or self._eval_pool[0] != key:
            if self._eval_pool is not None:
                self._eval_pool[1].close()
            task_list = self.split.test if tasks == "test" else self.split.train
            slots = [t for _ in range(runs) for t in task_list]
            self._eval_pool = (key, EnvPool(self.distribution.make_env, slots, width, self._switch))
        return self._eval_pool[1]

    def eval_metrics(self, result: OnPolicyAdaptationResult) -> dict[str, float]:
        return offline_eval_metrics(result)

    def set_run_options(self, **changes: Any) -> None:
        """Change run-only settings (``cfg.run_only_fields``: device, budgets, logging) of a resumed run."""
        self.cfg = self.cfg.with_run_options(**changes)
        self.learner.cfg = self.cfg

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            **run_header(self),
            "learner": self.learner.state_dict(),
            "rng": self.seeds.get_state(),
            "counters": {"iteration": self.iteration, "env_steps": self.env_steps, "grad_steps": self.grad_steps,
                         "train_seconds": self.train_seconds},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any], weights_only: bool = False) -> None:
        """Restore a run; ``weights_only`` restores just the policy (enough for evaluation)."""
        self.learner.load_state_dict(state["learner"], weights_only=weights_only)
        c = state["counters"]
        self.iteration, self.env_steps = int(c["iteration"]), int(c["env_steps"])
        self.grad_steps, self.train_seconds = int(c["grad_steps"]), float(c["train_seconds"])
        if not weights_only:
            self.seeds.set_state(state["rng"])

    def close(self) -> None:
        """Close the environments (they are rebuilt on demand)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._eval_pool is not None:
            self._eval_pool[1].close()
            self._eval_pool = None
