"""RL2's meta-test: adaptation is the policy's own memory, so the protocol is one trial per held-out task and run
(``episodes`` episodes, the hidden state carried across them, no gradient step) and the result is the return of
each episode of the trial. It is stored in the layout of the other on-policy methods
(:class:`~nacre.algos.onpolicy.meta_test.OnPolicyAdaptationResult`, arrays ``[runs, tasks, points]``) with
``points`` the episodes of the trial: column ``n`` (``steps[n] == n``) is episode ``n + 1``; ``rollouts`` is 1 and
``num_transitions`` the horizon."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nacre.algos.onpolicy.meta_test import OnPolicyAdaptationResult
from nacre.algos.onpolicy.sampler import EnvPool
from nacre.algos.rl2.networks import Rl2Policy
from nacre.algos.rl2.trials import sample_trials
from nacre.types import Progress


def rl2_meta_test(policy: Rl2Policy, tasks: Sequence[Any], make_env: Callable[[Any], Any], num_runs: int,
                  episodes: int, horizon: int, rng: np.random.Generator, sparse: bool = False,
                  action_scale: float = 10.0, pool: EnvPool | None = None,
                  progress: Progress | None = None,
                  memory: bool = True) -> OnPolicyAdaptationResult:  # fmt: skip
    """One stochastic trial of ``episodes`` episodes per (run, task): the return of each episode. ``pool`` (optional)
    must have ``num_runs * len(tasks)`` slots of one environment each and is given the tasks. ``memory=False``
    zeroes the hidden state before every step: the no-adaptation ablation (:func:`.trials.sample_trials`)."""
    if num_runs <= 0 or episodes <= 0:
        raise ValueError("num_runs and episodes must be positive")
    slots = [tasks[ti] for _ in range(num_runs) for ti in range(len(tasks))]
    own = pool is None
    if pool is None:
        pool = EnvPool(make_env, slots, 1)
    else:
        pool.set_tasks(slots)
    try:
        trials = sample_trials(pool, policy, episodes, horizon, rng, action_scale, sparse_input=sparse, memory=memory)
    finally:
        if own:
            pool.close()
    shape = (num_runs, len(tasks), episodes)
    bad = np.broadcast_to(trials.diverged[:, 0].reshape(num_runs, len(tasks))[..., None], shape)
    per = lambda x: x[:, 0].reshape(shape)
    returns = np.where(bad, np.nan, per(trials.returns(sparse)))
    dense = np.where(bad, np.nan, per(trials.returns(False)))
    success = np.where(bad, 0.0, per(trials.success).astype(np.float64))
    if progress is not None:
        progress("eval_total", num_runs * episodes)
        progress("eval_trajectories", num_runs * episodes)
    return OnPolicyAdaptationResult(returns, dense, success, per(trials.lengths).astype(np.float64),
                                    np.arange(episodes), horizon, bad.copy(), rollouts=1)  # fmt: skip
