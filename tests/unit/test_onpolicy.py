"""The on-policy foundation: conjugate gradient, TRPO step, GAE and returns, the linear feature baseline, the
functional Gaussian policy, per-task inner steps and the lockstep sampler."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from nacre.algos.onpolicy import advantages as adv
from nacre.algos.onpolicy.meta import inner_step, vpg_objective
from nacre.algos.onpolicy.policies import (
    GaussianMLPPolicy,
    expand_params,
    forward,
    init_params,
    kl_divergence,
    log_prob,
)
from nacre.algos.onpolicy.sampler import EnvPool, env_action, sample_rollouts
from nacre.algos.onpolicy.trpo import conjugate_gradient, hessian_vector_product, trpo_step

# ---------------------------------------------------------------- conjugate gradient, HVP, TRPO


def test_conjugate_gradient_solves_a_known_spd_system():
    gen = torch.Generator().manual_seed(0)
    b_mat = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    a = b_mat @ b_mat.T + 0.5 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=6, residual_tol=0.0)
    torch.testing.assert_close(x, torch.linalg.solve(a, b), rtol=1e-8, atol=1e-8)
    # fewer iterations: not yet the solution, but the residual shrinks
    x3 = conjugate_gradient(lambda v: a @ v, b, iterations=3, residual_tol=0.0)
    assert (a @ x3 - b).norm() < b.norm()
    # the residual tolerance stops the iteration early (an exact solution in one step for b an eigenvector)
    calls = []
    eigvals, eigvecs = torch.linalg.eigh(a)
    x1 = conjugate_gradient(lambda v: calls.append(1) or a @ v, eigvecs[:, 0], iterations=10, residual_tol=1e-20)
    torch.testing.assert_close(x1, eigvecs[:, 0] / eigvals[0])
    assert len(calls) == 1


def test_hessian_vector_product_matches_the_explicit_hessian():
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(4, dtype=torch.float64, generator=gen, requires_grad=True)
    f = lambda x: (torch.sin(x) * x.roll(1)).sum() + (x**4).sum()
    hvp = hessian_vector_product(f(w), [w], damping=0.1)
    v = torch.randn(4, dtype=torch.float64, generator=gen)
    h = torch.autograd.functional.hessian(f, w.detach())
    torch.testing.assert_close(hvp(v), h @ v + 0.1 * v)


def _toy_policy_problem(advantage_scale=1.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in init_params(3, 2, 8, 1, generator=gen).items()}
    obs = torch.randn(1, 64, 3, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        mean0, log_std0 = forward(params, obs)
        actions = mean0 + torch.exp(log_std0) * torch.randn(mean0.shape, dtype=torch.float64, generator=gen)
        old_logp = log_prob(mean0, log_std0, actions)
    a = advantage_scale * torch.randn(1, 64, dtype=torch.float64, generator=gen)

    def surrogate_and_kl(create_graph=True):
        mean, log_std = forward(params, obs)
        surr = (torch.exp(log_prob(mean, log_std, actions) - old_logp) * a).mean()
        kl = kl_divergence(mean0, log_std0, mean, log_std).mean()
        return surr, kl

    return params, surrogate_and_kl


def test_trpo_step_stays_in_the_trust_region_and_improves_the_surrogate():
    params, fn = _toy_policy_problem()
    before = [p.detach().clone() for p in params.values()]
    with torch.no_grad():
        surr0, _ = fn(False)
    info = trpo_step(list(params.values()), fn, max_kl=0.01)
    with torch.no_grad():
        surr1, kl1 = fn(False)
    assert info.accepted and float(surr1) > float(surr0) and float(kl1) <= 0.01
    assert info.surrogate_after == pytest.approx(float(surr1)) and info.kl_after == pytest.approx(float(kl1))
    # the full step is scaled to the trust region's edge under the quadratic KL model: accepted near it
    assert float(kl1) > 0.3 * 0.01
    assert any(not torch.equal(b, p) for b, p in zip(before, params.values(), strict=True))


def test_trpo_step_is_rejected_when_nothing_improves():
    params, fn = _toy_policy_problem(advantage_scale=0.0)  # zero advantages: the surrogate cannot improve
    before = [p.detach().clone() for p in params.values()]
    info = trpo_step(list(params.values()), fn, max_kl=0.01)
    assert not info.accepted and info.backtracks == 15 and info.step_size == 0.0
    assert all(torch.equal(b, p) for b, p in zip(before, params.values(), strict=True))


@pytest.mark.parametrize("curvature", [-1.0, 0.0])
def test_trpo_step_without_positive_curvature_is_rejected_not_raised(curvature):
    # a KL whose Hessian is negative (or zero) along the step: sqrt(2 delta / x^T H x) has no value, so the step
    # is rejected and the parameters are left as they were (the reference's step becomes NaN and is rejected)
    w = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    fn = lambda create_graph: ((w * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum(), curvature * (w**2).sum())
    info = trpo_step([w], fn, max_kl=0.01)
    assert not info.accepted and info.step_size == 0.0
    assert w.detach().tolist() == [0.3, -0.2]


def test_trpo_step_backtracks_when_the_full_step_violates_the_kl():
    params, fn = _toy_policy_problem(seed=3)
    info = trpo_step(list(params.values()), fn, max_kl=0.5)  # a large region: the quadratic model is poor there
    with torch.no_grad():
        _, kl = fn(False)
    assert float(kl) <= 0.5
    assert info.step_size == pytest.approx(0.8**info.backtracks)


# ---------------------------------------------------------------- returns, GAE, baseline


def test_gae_and_returns_against_a_hand_computed_trajectory():
    rewards = np.array([1.0, 2.0, 3.0, 99.0])  # the 4th step never happened
    values = np.array([0.5, 1.0, 1.5, 77.0])
    mask = np.array([1.0, 1.0, 1.0, 0.0])
    # V after the last step is 0: deltas 1 + .9 - .5 = 1.4, 2 + .9 * 1.5 - 1 = 2.35, 3 - 1.5 = 1.5
    a2 = 1.5
    a1 = 2.35 + 0.72 * a2
    a0 = 1.4 + 0.72 * a1
    np.testing.assert_allclose(adv.gae(rewards, values, mask, 0.9, 0.8), [a0, a1, a2, 0.0])
    np.testing.assert_allclose(adv.discounted_returns(rewards, mask, 0.9), [1 + 0.9 * 4.7, 4.7, 3.0, 0.0])
    # lambda = 1: returns minus the baseline
    np.testing.assert_allclose(
        adv.gae(rewards, values, mask, 0.9, 1.0), adv.discounted_returns(rewards, mask, 0.9) - values * mask
    )
    # lambda = 0: one-step TD errors
    np.testing.assert_allclose(adv.gae(rewards, values, mask, 0.9, 0.0), [1.4, 2.35, 1.5, 0.0])
    # batched: leading dimensions are independent
    stacked = adv.gae(np.stack([rewards, 2 * rewards]), np.stack([values, values]), np.stack([mask, mask]), 0.9, 0.8)
    np.testing.assert_allclose(stacked[0], [a0, a1, a2, 0.0])


def test_baseline_features_are_the_reference_ones():
    obs = np.array([[[20.0, -0.5], [1.0, 2.0], [0.0, -30.0]]])  # [K=1, H=3, O=2]
    f = adv.baseline_features(obs)
    assert f.shape == (1, 3, 2 * 2 + 4)
    np.testing.assert_allclose(f[0, 0], [10.0, -0.5, 100.0, 0.25, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(f[0, 2], [0.0, -10.0, 0.0, 100.0, 0.02, 0.02**2, 0.02**3, 1.0])


def test_linear_baseline_equals_a_direct_least_squares_solve():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 7, 3)) * 4
    returns = rng.normal(size=(5, 7)) + obs[..., 0]
    mask = np.ones((5, 7))
    mask[2, 4:] = 0.0  # a rollout that ended early: its padding is neither fitted nor predicted
    reg = 1e-5
    feats = adv.baseline_features(obs)
    valid = mask > 0
    # ridge as an ordinary least-squares problem on [F; sqrt(reg) I]
    f, y = feats[valid], returns[valid]
    augmented = np.vstack([f, math.sqrt(reg) * np.eye(f.shape[1])])
    coef = np.linalg.lstsq(augmented, np.concatenate([y, np.zeros(f.shape[1])]), rcond=None)[0]
    got = adv.linear_baseline_values(obs, returns, mask, reg)
    np.testing.assert_allclose(got[valid], f @ coef, rtol=1e-6, atol=1e-8)
    assert (got[~valid] == 0).all()


def test_linear_baseline_retries_with_ten_times_the_ridge_after_a_nan_fit(monkeypatch):
    seen = []
    real = np.linalg.lstsq

    def flaky(a, b, rcond=None):
        seen.append(a[-1, -1])  # gram + reg I: its last diagonal entry
        out = real(a, b, rcond=rcond)
        return (np.full_like(out[0], np.nan), *out[1:]) if len(seen) < 3 else out

    monkeypatch.setattr(np.linalg, "lstsq", flaky)
    f = np.random.default_rng(1).normal(size=(20, 3))
    gram_last = (f.T @ f)[-1, -1]
    coef = adv.fit_linear_baseline(f, f[:, 0], reg=1e-5)
    assert np.isfinite(coef).all() and len(seen) == 3
    np.testing.assert_allclose(np.array(seen) - gram_last, [1e-5, 1e-4, 1e-3], rtol=1e-6)


def test_advantages_are_normalised_per_task():
    rng = np.random.default_rng(2)
    obs = rng.normal(size=(2, 3, 5, 2))
    rewards = rng.normal(size=(2, 3, 5))
    mask = np.ones((2, 3, 5))
    mask[0, 1, 3:] = 0
    out = adv.task_advantages(rewards, obs, mask, 0.99, 1.0)
    for m in range(2):
        valid = mask[m] > 0
        assert out.advantages[m][valid].mean() == pytest.approx(0.0, abs=1e-9)
        assert out.advantages[m][valid].std() == pytest.approx(1.0, abs=1e-6)
        assert (out.advantages[m][~valid] == 0).all()
    scaled = rewards.copy()
    scaled[1] *= 100.0  # another task's scale does not leak into task 0
    np.testing.assert_allclose(adv.task_advantages(scaled, obs, mask, 0.99, 1.0).advantages[0], out.advantages[0])
    raw = adv.task_advantages(rewards, obs, mask, 0.99, 1.0, normalize_per_task=False)
    np.testing.assert_allclose(raw.advantages, raw.returns - raw.baselines, atol=1e-9)


# ---------------------------------------------------------------- policy


def test_policy_initialisation_and_distribution_functions():
    gen = torch.Generator().manual_seed(0)
    pol = GaussianMLPPolicy(5, 3, hidden_size=64, hidden_layers=2, generator=gen)
    p = pol.params()
    assert list(p) == ["w0", "b0", "w1", "b1", "w2", "b2", "log_std"]
    assert [tuple(p[f"w{i}"].shape) for i in range(3)] == [(64, 5), (64, 64), (3, 64)]
    for i, (fi, fo) in enumerate([(5, 64), (64, 64), (64, 3)]):
        assert p[f"w{i}"].abs().max() <= math.sqrt(6 / (fi + fo)) and p[f"w{i}"].std() > 0.3 * math.sqrt(2 / (fi + fo))
        assert (p[f"b{i}"] == 0).all()
    assert (p["log_std"] == 0).all()  # std 1.0
    obs = torch.randn(4, 5, generator=gen)
    mean, log_std = pol(obs)
    expected = torch.tanh(torch.tanh(obs @ p["w0"].T) @ p["w1"].T) @ p["w2"].T  # biases are zero
    torch.testing.assert_close(mean, expected)
    actions = torch.randn(4, 3, generator=gen)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(log_prob(mean, log_std, actions), normal.log_prob(actions).sum(-1))
    other = torch.distributions.Normal(mean + 0.3, (log_std - 0.2).exp())
    torch.testing.assert_close(
        kl_divergence(mean, log_std, mean + 0.3, log_std - 0.2),
        torch.distributions.kl_divergence(normal, other).sum(-1),
    )
    with torch.no_grad():
        p["log_std"].fill_(-50.0)
    assert torch.allclose(pol(obs)[1], torch.full((4, 3), math.log(1e-6)))  # the std floor


def test_per_task_parameters_match_the_shared_forward():
    gen = torch.Generator().manual_seed(0)
    params = init_params(3, 2, 8, 2, generator=gen)
    obs = torch.randn(4, 6, 3, generator=gen)
    shared = forward(params, obs)
    batched = forward(expand_params(params, 4), obs)
    for a, b in zip(shared, batched, strict=True):
        torch.testing.assert_close(a, b)
    per_task = {k: v.unsqueeze(0).repeat(4, *[1] * v.dim()) for k, v in params.items()}
    per_task["w0"][2] += 1.0
    mean, _ = forward(per_task, obs)
    torch.testing.assert_close(mean[:2], shared[0][:2])
    assert not torch.allclose(mean[2], shared[0][2])


def test_one_inner_step_gives_each_task_its_own_gradient():
    from nacre.algos.onpolicy.meta import OnPolicyBatch

    gen = torch.Generator().manual_seed(0)
    theta = {k: v.requires_grad_(True) for k, v in init_params(3, 2, 8, 1, generator=gen).items()}
    m, n = 3, 10
    obs, actions = torch.randn(m, n, 3, generator=gen), torch.randn(m, n, 2, generator=gen)
    mask = torch.ones(m, n)
    mask[1, 6:] = 0
    zeros = torch.zeros(m, n, 2)
    batch = OnPolicyBatch(obs, actions, torch.randn(m, n, generator=gen), mask, torch.zeros(m, n), zeros, zeros)
    adapted = inner_step(expand_params(theta, m), batch, vpg_objective, 0.1, create_graph=False)
    for i in range(m):
        one = OnPolicyBatch(*(x[i : i + 1] for x in batch))
        grads = torch.autograd.grad(vpg_objective(theta, one).sum(), list(theta.values()))
        for (name, p), g in zip(theta.items(), grads, strict=True):
            torch.testing.assert_close(adapted[name][i], p + 0.1 * g)


# ---------------------------------------------------------------- sampler


class _LineEnv(gym.Env):
    """1-D walk: obs = position; reward = the applied action; terminates when the position leaves [-1, 1]
    (if ``terminate``), truncates after ``limit`` steps. Records the actions it receives."""

    def __init__(self, goal=0.0, terminate=True, limit=6):
        self.goal, self.terminate, self.limit = goal, terminate, limit
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-0.5, 0.5, shape=(1,), dtype=np.float32)
        self.received = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-0.1, 0.1)), 0
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.received.append(np.asarray(action).copy())
        self.x += float(action[0])
        self.t += 1
        term = self.terminate and abs(self.x) > 1.0
        info = {"sparse_reward": 1.0 if self.x > self.goal else 0.0, "success": self.x > 0.9}
        return np.array([self.x], dtype=np.float32), float(action[0]), term, self.t >= self.limit, info


class _SettableLineEnv(_LineEnv):
    def set_task(self, task):
        self.goal = task


def _policy(drift):
    """Mean ``drift`` for every task slot (or ``drift[m]`` for slot ``m``), std 2."""
    calls = []

    def act(obs):
        calls.append(obs.shape)
        mean = np.zeros(obs.shape, dtype=np.float32) + np.reshape(drift, (-1, 1, 1)).astype(np.float32)
        return mean, np.full((1, 1, 1), 2.0, dtype=np.float32)

    return act, calls


def test_env_action_rescales_the_policy_range_onto_the_bounds_and_clips():
    low, high = np.array([-0.5, 0.0]), np.array([0.5, 2.0])
    np.testing.assert_allclose(env_action(np.array([0.0, 0.0]), low, high, 10.0), [0.0, 1.0])
    np.testing.assert_allclose(env_action(np.array([10.0, -10.0]), low, high, 10.0), [0.5, 0.0])
    np.testing.assert_allclose(env_action(np.array([5.0, 2.0]), low, high, 10.0), [0.25, 1.2])
    np.testing.assert_allclose(env_action(np.array([50.0, -50.0]), low, high, 10.0), [0.5, 0.0])


def test_sampler_shapes_masks_and_one_policy_call_per_step():
    pool = EnvPool(lambda goal: _LineEnv(goal), [0.0, 0.5, -0.5], envs_per_task=2)
    act, calls = _policy(drift=[6.0, 0.0, 0.0])  # 0.3 per step in task 0: its rollouts fall off the line
    out = sample_rollouts(pool, act, rollouts_per_task=4, horizon=6, rng=np.random.default_rng(0))
    assert out.obs.shape == (3, 4, 6, 1) and out.actions.shape == (3, 4, 6, 1) and out.mask.shape == (3, 4, 6)
    assert calls and all(s == (3, 2, 1) for s in calls) and len(calls) <= 2 * 6  # 2 waves, one call per step
    # the mask marks exactly the steps taken; lengths agree; terminated rollouts end before the horizon
    np.testing.assert_array_equal(out.mask.sum(-1), out.lengths)
    assert (out.mask[..., :-1] >= out.mask[..., 1:]).all()
    assert (out.lengths[out.terminated] < 6).all() and (out.lengths[~out.terminated] == 6).all()
    assert out.terminated[0].all() and not out.terminated[1:].any()
    assert (out.rewards[out.mask == 0] == 0).all() and (out.obs[out.mask == 0] == 0).all()
    assert out.num_steps == int(out.mask.sum())
    np.testing.assert_allclose(out.returns(), (out.rewards * out.mask).sum(-1), rtol=1e-6)
    # what the env received is the stored Gaussian sample rescaled (scale 10 onto [-0.5, 0.5]) and clipped
    env, n = pool.envs[0][0], out.lengths[0, 2]  # env 0 of task 0 ran rollouts 0 and 2 (two waves)
    assert len(env.received) == out.lengths[0, 0] + n
    sent = np.clip(out.actions[0, 2, :n, 0] / 20.0, -0.5, 0.5)
    np.testing.assert_allclose(np.concatenate(env.received[-n:]), sent, rtol=1e-6)


def test_sampler_is_a_function_of_the_generator():
    make = lambda goal: _LineEnv(goal, terminate=False)
    runs = []
    for seed in (0, 0, 1):
        pool = EnvPool(make, [0.0, 0.3], envs_per_task=3)
        runs.append(sample_rollouts(pool, _policy(0.0)[0], 3, 5, np.random.default_rng(seed)))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(runs[0].actions, runs[2].actions)
    det = sample_rollouts(EnvPool(make, [0.0], 1), _policy(1.0)[0], 2, 5, np.random.default_rng(0), deterministic=True)
    assert (det.actions == 1.0).all()


def test_pool_sets_tasks_in_place_or_rebuilds_and_does_not_grow():
    settable = EnvPool(lambda goal: _SettableLineEnv(goal), [0.0, 0.1], envs_per_task=2)
    envs = [e for row in settable.envs for e in row]
    settable.set_tasks([0.4, 0.5])
    assert [e for row in settable.envs for e in row] == envs and settable.rebuilt == 0
    assert [row[0].goal for row in settable.envs] == [0.4, 0.5]
    plain = EnvPool(lambda goal: _LineEnv(goal), [0.0, 0.1], envs_per_task=2)
    for it in range(3):
        plain.set_tasks([0.2 * it, 0.3])
        assert sum(len(row) for row in plain.envs) == 4 and plain.envs[0][1].goal == 0.2 * it
    assert plain.rebuilt == 12
    with pytest.raises(ValueError, match="task slots"):
        plain.set_tasks([0.0])


def test_sampler_flags_non_finite_actions_and_plays_zeros():
    pool = EnvPool(lambda goal: _LineEnv(goal, terminate=False), [0.0, 0.0], envs_per_task=1)

    def act(obs):
        mean = np.zeros(obs.shape, dtype=np.float32)
        mean[1] = np.nan
        return mean, np.ones_like(mean)

    out = sample_rollouts(pool, act, 1, 3, np.random.default_rng(0))
    assert out.diverged.tolist() == [[False], [True]]
    assert all(float(a[0]) == 0.0 for a in pool.envs[1][0].received)


def test_keyed_families_switch_in_place_only_within_a_key():
    from nacre.algos.onpolicy.sampler import distribution_switch

    class Keyed:
        switched = []

        def env_key(self, task):
            return task // 10  # tasks 0-9 share one kind of environment, 10-19 another

        def set_env_task(self, env, task):
            self.switched.append(task)
            env.goal = task

    pool = EnvPool(lambda goal: _LineEnv(goal), [1, 2], envs_per_task=1, switch=distribution_switch(Keyed()))
    first = pool.envs[0][0]
    pool.set_tasks([3, 12])
    assert pool.envs[0][0] is first and pool.envs[0][0].goal == 3 and Keyed.switched == [3] and pool.rebuilt == 1
    assert pool.envs[1][0].goal == 12
