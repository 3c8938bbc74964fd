"""Batched collection: lockstep rollouts equal single ones; the PEARL schedule per task."""

import numpy as np
import torch

from nacre.algos.pearl import PearlTrainer, preset
from nacre.algos.pearl.collect import _waves
from nacre.envs import make_distribution
from nacre.rollout import rollout
from nacre.vector_rollout import rollout_batch


def test_lockstep_rollout_of_one_env_equals_the_single_rollout():
    dist = make_distribution("point-robot")
    task = dist.split(0, 1, 1).train[0]
    policy = lambda obs: np.tanh(obs[..., ::-1] * 3)
    a = rollout(dist.make_env(task), policy, np.random.default_rng(5), 20)
    (b,) = rollout_batch([dist.make_env(task)], lambda obs, idx: policy(obs), np.random.default_rng(5), 20)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_batched_envs_finish_independently():
    dist = make_distribution("point-robot")
    envs = [dist.make_env(t) for t in dist.split(0, 3, 1).train]
    seen_batch_sizes = []

    def policy(obs, idx):
        seen_batch_sizes.append(len(idx))
        return np.zeros((len(idx), 2))

    trajs = rollout_batch(envs, policy, np.random.default_rng(0), max_steps=7)
    assert [len(t) for t in trajs] == [7, 7, 7] and seen_batch_sizes == [3] * 7
    assert all(t.truncated[-1] and not t.terminated.any() for t in trajs)


def test_waves_split_repeated_tasks():
    assert _waves([3, 1, 3, 3, 2]) == [[3, 1, 2], [3], [3]]


def test_iteration_schedule_per_task():
    cfg = preset("tiny", "point-robot", n_train_tasks=4, meta_batch=2, num_tasks_sample=3, num_steps_prior=40,
                 num_steps_posterior=20, num_extra_rl_steps_posterior=60)  # fmt: skip
    tr = PearlTrainer(cfg)
    tr.train_iteration()
    before = {t: len(tr.rl_buffer.task(t)) for t in range(4)}
    out = tr.collector.iteration([1, 1, 2], tr.seeds.collect, tr.seeds.buffer)
    after = {t: len(tr.rl_buffer.task(t)) for t in range(4)}
    per_task = 40 + 20 + 60  # 20-step episodes divide every phase exactly
    assert after[1] - before[1] == 2 * per_task and after[2] - before[2] == per_task
    assert after[0] == before[0] and after[3] == before[3]
    # the encoder buffer holds the last visit's prior + posterior data only (cleared per visit)
    assert len(tr.enc_buffer.task(1)) == 40 + 20 and len(tr.enc_buffer.task(2)) == 40 + 20
    assert len(out["prior"]) == 3 * 2 and len(out["posterior"]) == 3 and len(out["extra"]) == 3 * 3
    assert torch.isfinite(torch.tensor([t.rewards.sum() for t in out["extra"]])).all()
