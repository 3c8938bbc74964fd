"""Point-robot families: rewards by hand, time limit, sparse reward, seeded splits."""

import math

import numpy as np
import pytest

from nacre.envs import check_task_env, make_distribution, registered_ids
from nacre.envs.registry import UnknownTaskDistribution


def test_dense_reward_and_clipped_dynamics():
    env = make_distribution("point-robot").make_env({"goal": [0.5, -0.5]})
    obs, _ = env.reset(seed=0)
    obs2, r, term, trunc, _ = env.step(np.array([0.5, 0.05]))  # x is clipped to 0.1
    np.testing.assert_allclose(obs2, obs + np.array([0.1, 0.05]), rtol=1e-6)
    assert r == pytest.approx(-math.dist(obs2, (0.5, -0.5)), rel=1e-6)
    assert not term and not trunc


def test_sparse_reward_success_and_time_limit():
    dist = make_distribution("sparse-point-robot", goal_radius=0.2)
    env = dist.make_env({"goal": [0.0, 1.0]})
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0.0, 0.0]
    infos = []
    for _ in range(20):
        obs, r, term, trunc, info = env.step(np.array([0.0, 0.1]))
        infos.append((r, info, trunc))
    r, info, _ = infos[8]  # at y = 0.9: inside the radius
    assert info["success"] and info["sparse_reward"] == pytest.approx(1 - 0.1, abs=1e-6) and r == pytest.approx(-0.1)
    r, info, _ = infos[6]  # y = 0.7: outside
    assert not info["success"] and info["sparse_reward"] == 0.0
    assert [trunc for *_, trunc in infos] == [False] * 19 + [True]


def test_splits_are_seeded_pure_and_disjoint():
    before = np.random.get_state()[1].copy()
    dist = make_distribution("point-robot")
    a, b, c = dist.split(0, 8, 4), dist.split(0, 8, 4), dist.split(1, 8, 4)
    assert a == b and a != c
    goals = [tuple(t["goal"]) for t in a.train + a.test]
    assert len(set(goals)) == 12
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global RNG untouched


def test_sparse_goals_are_evenly_spaced_on_the_semicircle():
    split = make_distribution("sparse-point-robot").split(0, 80, 20)
    angles = sorted(t["angle"] for t in split.train + split.test)
    np.testing.assert_allclose(np.diff(angles), math.pi / 99, rtol=1e-9)
    assert not {t["angle"] for t in split.train} & {t["angle"] for t in split.test}
    test_angles = sorted(t["angle"] for t in split.test)
    assert test_angles[0] < 1.0 and test_angles[-1] > 2.0  # test goals interleave, not one end of the arc


def test_env_contract_and_registry():
    for dist_id in ("point-robot-v1", "sparse-point-robot-v1"):
        dist = make_distribution(dist_id)
        check_task_env(dist.make_env(dist.split(0, 2, 1).train[0]))
        assert dist_id in registered_ids()
    with pytest.raises(UnknownTaskDistribution, match="unknown task distribution 'nope'"):
        make_distribution("nope")
    with pytest.raises(ValueError, match="bad arguments.*goal_radius must be positive"):
        make_distribution("sparse-point-robot", goal_radius=-1)
