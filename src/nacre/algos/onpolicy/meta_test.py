"""The meta-test protocol of the gradient-based on-policy meta-learners (MAML-TRPO, ProMP, MAESN).

For every run and held-out task: sample ``K`` rollouts with the meta-policy (adaptation step 0), take one inner
step on them (the method's own inner objective and learning rate, a per-task linear baseline as in training),
sample ``K`` rollouts with the adapted policy (step 1), adapt again from those, and so on; the :class:`Adapter`
holds what is adapted (the policy weights in :class:`InnerStepAdapter`, MAESN's latent Gaussians). The return after
``n`` steps is the mean return of the ``K`` stochastic rollouts sampled after ``n`` inner steps: what the inner loop is
meta-trained for and what the ProMP authors' logs report (``Step_n-AverageReturn``).

All (run, task) pairs are stepped together as the task slots of one :class:`EnvPool`. The result has the layout
of :class:`nacre.evaluation.offline_adaptation.OfflineAdaptationResult` (arrays ``[runs, tasks, len(steps)]``,
``steps`` the adaptation-step count of each column), so ``nacre eval``, ``nacre plot`` and ``nacre report`` read it
like the offline methods' results; ``num_transitions`` is the data budget of one adaptation step (``K x horizon``
env steps) and ``rollouts`` is ``K``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import torch

from nacre.algos.onpolicy.meta import Objective, act_fn, inner_step, make_batch
from nacre.algos.onpolicy.policies import Params, expand_params
from nacre.algos.onpolicy.sampler import ActFn, EnvPool, Rollouts, sample_rollouts
from nacre.evaluation.offline_adaptation import OfflineAdaptationResult
from nacre.types import Progress


@dataclass
class OnPolicyAdaptationResult(OfflineAdaptationResult):
    """Per adaptation-step results ``[runs, tasks, len(steps)]``: ``returns`` / ``dense_returns`` are the mean
    return of the step's ``rollouts`` rollouts, ``success`` the fraction of them that reached the goal (float),
    ``lengths`` their mean length, ``diverged`` whether the policy gave a non-finite action (return NaN)."""

    rollouts: int = 0

    def to_dict(self) -> dict[str, np.ndarray]:
        return {**super().to_dict(), "rollouts": np.asarray(self.rollouts)}


S = TypeVar("S")


class Adapter(Protocol[S]):
    """What :func:`onpolicy_adaptation_curves` adapts: a state per (run, task) slot, e.g. policy parameters."""

    def initial(self, n: int) -> S:
        """The state of ``n`` slots before any adaptation."""
        ...

    def sample(self, pool: EnvPool, state: S, rollouts: int, horizon: int, rng: np.random.Generator,
               action_scale: float) -> tuple[Rollouts, S]:  # fmt: skip
        """``rollouts`` rollouts per slot of ``pool`` with ``state``; the state as the rollouts left it (what
        :meth:`adapt` needs of the sampling, e.g. MAESN's latents)."""
        ...

    def adapt(self, state: S, rollouts: Rollouts, step: int) -> S:
        """The state after adaptation step ``step + 1`` (0-based ``step``) on ``rollouts``."""
        ...


@dataclass
class InnerStepAdapter:
    """Adapts per-task copies of the meta-parameters ``theta`` with the method's inner step (see
    :func:`nacre.algos.onpolicy.meta.inner_step`); ``theta`` itself never changes."""

    theta: Params
    objective: Objective
    inner_lr: float
    discount: float
    gae_lambda: float
    normalize_advantages: bool = True
    baseline_reg: float = 1e-5
    min_std: float = 1e-6
    #: adapt on the sparse reward (sparse-reward families)
    sparse_rewards: bool = False

    def initial(self, n: int) -> Params:
        return {k: v.detach().clone() for k, v in expand_params(self.theta, n).items()}

    def act(self, params: Params) -> ActFn:
        return act_fn(params, self.min_std)

    def sample(self, pool: EnvPool, params: Params, rollouts: int, horizon: int, rng: np.random.Generator,
               action_scale: float) -> tuple[Rollouts, Params]:  # fmt: skip
        return sample_rollouts(pool, self.act(params), rollouts, horizon, rng, action_scale), params

    def adapt(self, params: Params, rollouts: Rollouts, step: int = 0) -> Params:
        rewards = rollouts.sparse_rewards if self.sparse_rewards else rollouts.rewards
        batch = make_batch(rollouts, rewards, params, self.discount, self.gae_lambda, self.normalize_advantages,
                           self.baseline_reg, self.min_std, params["log_std"].device)  # fmt: skip
        with torch.enable_grad():
            leaf = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
            new = inner_step(leaf, batch, self.objective, self.inner_lr, create_graph=False)
        return {k: v.detach() for k, v in new.items()}


def onpolicy_adaptation_curves(
    adapter: Adapter[Any], tasks: Sequence[Any], make_env: Callable[[Any], Any], num_runs: int, rollouts: int,
    steps: Sequence[int], horizon: int, rng: np.random.Generator, sparse: bool = False, action_scale: float = 10.0,
    envs_per_task: int | None = None, pool: EnvPool | None = None, progress: Progress | None = None,
) -> OnPolicyAdaptationResult:  # fmt: skip
    """Run the protocol of the module docstring. ``pool`` (optional) must have ``num_runs * len(tasks)`` slots and
    is given the tasks; without it one is built and closed. ``progress`` gets ``("eval_total", num_runs *
    len(steps))``, then ``("eval_trajectories", num_runs)`` after each column."""
    steps = [int(s) for s in steps]
    if not steps or min(steps) < 0:
        raise ValueError(f"steps must be a non-empty list of non-negative counts, got {steps}")
    if num_runs <= 0 or rollouts <= 0:
        raise ValueError("num_runs and rollouts must be positive")
    slots = [tasks[ti] for _ in range(num_runs) for ti in range(len(tasks))]
    if progress is not None:
        progress("eval_total", num_runs * len(steps))
    own_pool = pool is None
    if pool is None:
        pool = EnvPool(make_env, slots, min(envs_per_task or rollouts, rollouts))
    else:
        pool.set_tasks(slots)
    shape = (num_runs, len(tasks), len(steps))
    returns, dense, lengths = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    success, diverged = np.zeros(shape), np.zeros(shape, dtype=bool)
    params = adapter.initial(len(slots))
    try:
        for n in range(max(steps) + 1):
            batch, params = adapter.sample(pool, params, rollouts, horizon, rng, action_scale)
            columns = [j for j, s in enumerate(steps) if s == n]
            if columns:
                bad = batch.diverged.any(axis=1).reshape(num_runs, len(tasks))
                per_slot = lambda x: x.mean(axis=1).reshape(num_runs, len(tasks))
                returns[:, :, columns] = np.where(bad, np.nan, per_slot(batch.returns(sparse)))[..., None]
                dense[:, :, columns] = np.where(bad, np.nan, per_slot(batch.returns(False)))[..., None]
                success[:, :, columns] = np.where(bad, 0.0, per_slot(batch.success))[..., None]
                lengths[:, :, columns] = per_slot(batch.lengths)[..., None]
                diverged[:, :, columns] = bad[..., None]
                if progress is not None:
                    progress("eval_trajectories", num_runs)
            if n < max(steps):
                params = adapter.adapt(params, batch, n)
    finally:
        if own_pool:
            pool.close()
    return OnPolicyAdaptationResult(returns, dense, success, lengths, np.asarray(steps), rollouts * horizon, diverged,
                                    rollouts=rollouts)  # fmt: skip
