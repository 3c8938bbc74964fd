"""The shared meta-test protocol with the PEARL adapter (the PEARL paper's meta-test protocol)."""

import numpy as np
import torch

from nacre.algos.pearl import PearlTrainer, preset
from nacre.algos.pearl.adapter import PearlAdapter
from nacre.vector_rollout import rollout_batch


def _trainer(**kw):
    tr = PearlTrainer(preset("tiny", "point-robot", **kw))
    tr.train_iteration()
    return tr


def test_belief_stays_prior_until_the_exploration_trajectories_are_done():
    tr = _trainer(num_exp_traj_eval=2, num_eval_trajectories=3)
    adapter = PearlAdapter(tr.learner)
    make = tr.distribution.make_env
    state = adapter.begin(3)
    z0 = state.z.clone()
    assert len({tuple(z.tolist()) for z in z0}) == 3  # each run draws its own z from the prior
    rng = np.random.default_rng(0)
    envs = [make(tr.split.test[0]), make(tr.split.test[0]), make(tr.split.test[1])]
    trajs = rollout_batch(envs, adapter.policy(state), rng, 20)
    state = adapter.observe(state, trajs, 1)
    assert torch.equal(state.belief.var, torch.ones_like(state.belief.var))  # still the prior
    assert not torch.equal(state.z, z0)  # but z was redrawn
    trajs = rollout_batch(envs, adapter.policy(state), rng, 20)
    state = adapter.observe(state, trajs, 2)
    assert (state.belief.var < 1).all() and [len(c) for c in state.contexts] == [2, 2, 2]
    # the posterior of a run is the encoder's belief given exactly that run's two trajectories
    single = adapter.infer([state.contexts[1]])
    torch.testing.assert_close(state.belief.mean[1:2], single.mean)


def test_evaluator_shapes_and_determinism():
    tr = _trainer()
    a = tr.evaluate(num_runs=2, num_trajectories=3, rng=np.random.default_rng(7))
    b = tr.evaluate(num_runs=2, num_trajectories=3, rng=np.random.default_rng(7))
    assert a.returns.shape == (2, tr.cfg.n_test_tasks, 3) and (a.lengths == 20).all()
    # the learner's torch generator moved on, so z draws differ; the env resets do not
    assert a.lengths.tolist() == b.lengths.tolist()
    tr2 = _trainer()
    c = tr2.evaluate(num_runs=2, num_trajectories=3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.returns, c.returns)  # same seed, same state -> identical curves


def test_found_is_the_running_or_of_success_per_run_and_task():
    from nacre.evaluation.adaptation import AdaptationResult

    success = np.array([[[False, True, False, False], [False, False, False, True]]])
    zeros = np.zeros(success.shape)
    found = AdaptationResult(zeros, zeros, success, zeros.astype(int)).found
    np.testing.assert_array_equal(found, [[[False, True, True, True], [False, False, False, True]]])
