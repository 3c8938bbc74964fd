"""MAML-TRPO: the second-order meta-gradient and KL Hessian against finite differences, the TRPO update on real
batches, the config and its presets for every task distribution."""

import dataclasses

import numpy as np
import pytest
import torch

from nacre.algos.maml_trpo import ConfigError, MamlTrpoConfig, MamlTrpoTrainer, meta_surrogate_and_kl, preset
from nacre.algos.onpolicy.meta import OnPolicyBatch, adaptation_path, mean_kl, surrogate, vpg_objective
from nacre.algos.onpolicy.policies import forward, init_params, log_prob
from nacre.algos.onpolicy.trpo import flat_grad, hessian_vector_product
from nacre.envs.registry import make_distribution, registered_ids

LR = 0.5


def _batch(gen, m, n, params=None, adv_scale=1.0):
    obs = torch.randn(m, n, 2, generator=gen, dtype=torch.float64)
    actions = torch.randn(m, n, 1, generator=gen, dtype=torch.float64)
    mask = torch.ones(m, n, dtype=torch.float64)
    mask[0, -2:] = 0.0
    advantages = adv_scale * torch.randn(m, n, generator=gen, dtype=torch.float64)
    zeros = torch.zeros(m, n, 1, dtype=torch.float64)
    old = OnPolicyBatch(obs, actions, advantages, mask, torch.zeros(m, n, dtype=torch.float64), zeros, zeros)
    if params is None:
        return old
    with torch.no_grad():
        mean, log_std = forward({k: v.detach() for k, v in params.items()}, obs)
    return old._replace(old_log_prob=log_prob(mean, log_std, actions), old_mean=mean, old_log_std=log_std)


def _tiny_problem(inner_steps=1, seed=0):
    """theta of a 2 -> 3 -> 1 policy (float64), ``inner_steps`` pre-update batches of 2 tasks, and a post-update
    batch whose sampling distribution is the adapted policy at theta (so the ratio is 1 there)."""
    gen = torch.Generator().manual_seed(seed)
    theta = {k: v.to(torch.float64).requires_grad_(True)
             for k, v in init_params(2, 1, 3, 1, init_std=0.7, generator=gen).items()}  # fmt: skip
    pre = []
    for _ in range(inner_steps):
        path = adaptation_path(theta, pre, vpg_objective, LR, create_graph=False) if pre else None
        pre.append(_batch(gen, 2, 6, theta if path is None else path[-1]))
    adapted = adaptation_path(theta, pre, vpg_objective, LR, create_graph=False)[-1]
    post = _batch(gen, 2, 5, adapted)
    return theta, pre, post


def _finite_difference(fn, theta, eps=1e-6):
    out = []
    for p in theta.values():
        g = torch.zeros_like(p)
        for i in range(p.numel()):
            with torch.no_grad():
                p.view(-1)[i] += eps
                plus = float(fn())
                p.view(-1)[i] -= 2 * eps
                minus = float(fn())
                p.view(-1)[i] += eps
            g.view(-1)[i] = (plus - minus) / (2 * eps)
        out.append(g)
    return torch.cat([g.reshape(-1) for g in out])


@pytest.mark.parametrize("inner_steps", [1, 2])
def test_meta_gradient_matches_finite_differences(inner_steps):
    theta, pre, post = _tiny_problem(inner_steps)
    objective, _ = meta_surrogate_and_kl(theta, pre, post, LR, create_graph=True)
    grad = flat_grad(objective, list(theta.values()))
    numeric = _finite_difference(lambda: meta_surrogate_and_kl(theta, pre, post, LR, create_graph=False)[0], theta)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)
    # the first-order approximation (d theta' / d theta = I) is measurably different: the test sees second order
    adapted = adaptation_path(theta, pre, vpg_objective, LR, create_graph=False)[-1]
    adapted = {k: v.clone().requires_grad_(True) for k, v in adapted.items()}
    per_task = torch.autograd.grad(surrogate(adapted, post), list(adapted.values()))
    first_order = torch.cat([g.sum(0).reshape(-1) for g in per_task])
    assert (grad - first_order).norm() > 1e-3 * grad.norm()


def test_meta_kl_hessian_vector_product_matches_finite_differences_of_its_gradient():
    theta, pre, post = _tiny_problem()
    _, kl = meta_surrogate_and_kl(theta, pre, post, LR, create_graph=True)
    assert float(kl.detach()) == pytest.approx(0.0, abs=1e-12)  # the sampling policy is the adapted one at theta
    hvp = hessian_vector_product(kl, list(theta.values()))
    v = torch.randn(
        sum(p.numel() for p in theta.values()), generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    analytic = hvp(v)  # before the parameters move (the graph holds their values)

    def kl_grad():
        _, k = meta_surrogate_and_kl(theta, pre, post, LR, create_graph=True)
        return flat_grad(k, list(theta.values()))

    eps = 1e-5
    params = list(theta.values())
    sizes = [p.numel() for p in params]
    with torch.no_grad():
        for p, dv in zip(params, torch.split(v, sizes), strict=True):
            p += eps * dv.view_as(p)
    plus = kl_grad()
    with torch.no_grad():
        for p, dv in zip(params, torch.split(v, sizes), strict=True):
            p -= 2 * eps * dv.view_as(p)
    minus = kl_grad()
    with torch.no_grad():
        for p, dv in zip(params, torch.split(v, sizes), strict=True):
            p += eps * dv.view_as(p)
    torch.testing.assert_close(analytic, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-9)
    assert float(v @ analytic) > 0  # a KL Hessian at its minimum is positive semi-definite


def test_update_keeps_the_post_update_kl_in_the_trust_region():
    tr = MamlTrpoTrainer(preset("tiny", "point-robot", meta_batch=3, rollouts_per_task=4))
    captured = {}
    update = tr.learner.update
    tr.learner.update = lambda pre, post: captured.update(pre=pre, post=post) or update(pre, post)
    before = {k: v.detach().clone() for k, v in tr.learner.policy.params().items()}
    metrics = tr.train_iteration()
    theta = tr.learner.policy.params()
    with torch.no_grad():
        surr_after, kl_after = meta_surrogate_and_kl(theta, captured["pre"], captured["post"], tr.cfg.inner_lr, False)
    assert metrics["trpo/accepted"] == 1.0
    assert float(kl_after) <= tr.cfg.max_kl and float(surr_after) > metrics["trpo/surrogate_before"]
    assert metrics["trpo/kl"] == pytest.approx(float(kl_after), rel=1e-4)
    assert any(not torch.equal(before[k], v) for k, v in theta.items())
    # the inner step the update differentiates through is the one that chose the post-update sampling policy
    adapted = adaptation_path(theta, captured["pre"], tr.learner.inner_objective, tr.cfg.inner_lr, False)[-1]
    assert float(mean_kl(adapted, captured["post"])) == pytest.approx(float(kl_after))


# ---------------------------------------------------------------- config and presets


def test_defaults_are_the_reference_settings():
    cfg = MamlTrpoConfig()
    assert (cfg.meta_batch, cfg.rollouts_per_task, cfg.discount, cfg.gae_lambda) == (40, 20, 0.99, 1.0)
    assert (cfg.hidden_size, cfg.hidden_layers, cfg.init_std, cfg.min_std, cfg.action_scale) == (64, 2, 1.0, 1e-6, 10.0)
    assert (cfg.inner_lr, cfg.inner_steps, cfg.max_kl, cfg.cg_iterations) == (0.1, 1, 0.01, 10)
    assert (cfg.backtrack_ratio, cfg.max_backtracks, cfg.cg_damping, cfg.baseline_reg) == (0.8, 15, 0.0, 1e-5)
    assert cfg.normalize_advantages and cfg.num_iterations == 1001 and cfg.grad_steps_per_iteration == 1


@pytest.mark.parametrize("name", ["paper", "fast", "tiny"])
def test_presets_exist_for_every_registered_distribution(name):
    for dist_id in registered_ids():
        cfg = preset(name, dist_id)
        length = make_distribution(dist_id).episode_length
        assert cfg.env == dist_id
        assert cfg.horizon == (length if name != "tiny" else min(length, 10))
        family = dist_id.rsplit("-v", 1)[0]
        if name == "paper":
            assert (cfg.meta_batch, cfg.rollouts_per_task, cfg.num_iterations) == (40, 20, 1001)
            rand_params = family in ("walker-params", "hopper-params", "macaw-walker-params")
            assert cfg.inner_lr == (0.05 if rand_params else 0.1)
            assert cfg.inner_steps == (2 if family == "ant-goal" else 1)
            assert cfg.hidden_size == (128 if family == "humanoid-dir" else 64)
            assert cfg.sparse_rewards == (family == "sparse-point-robot")
            assert cfg.action_scale == (1.0 if family in ("point-robot", "sparse-point-robot") else 10.0)
        dist = make_distribution(dist_id, **cfg.env_kwargs)
        if type(dist).__module__ != "nacre.envs.metaworld":  # its split needs the optional Meta-World package
            dist.split(cfg.seed, cfg.n_train_tasks, cfg.n_test_tasks)  # the sizes fit the family (fixed task sets)


def test_presets_take_overrides_and_reject_bad_values():
    cfg = preset("fast", "cheetah-vel", meta_batch=7, env_kwargs={"foo": 1})
    assert cfg.meta_batch == 7 and cfg.env_kwargs == {"foo": 1}
    assert preset("paper", "walker-params", env_kwargs={"frame_skip": 2}).env_kwargs == {
        "timestep": 0.004,
        "frame_skip": 2,
    }
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge", "point-robot")
    bad = [
        ("max_kl", 0.0),
        ("backtrack_ratio", 1.0),
        ("inner_lr", -0.1),
        ("gae_lambda", 1.5),
        ("rollouts_per_task", 0),
        ("horizon", -1),
        ("cg_damping", -1.0),
        ("min_std", 2.0),
    ]
    for field, value in bad:
        with pytest.raises(ConfigError, match=field):
            MamlTrpoConfig(**{field: value})
    with pytest.raises(ConfigError, match="max_kl must be a finite number"):
        MamlTrpoConfig(max_kl=float("nan"))


def test_trainer_rejects_settings_the_distribution_cannot_take():
    with pytest.raises(ConfigError, match="horizon"):
        MamlTrpoTrainer(preset("tiny", "point-robot", horizon=21))
    with pytest.raises(ConfigError, match="sparse"):
        MamlTrpoTrainer(preset("tiny", "point-robot", sparse_rewards=True))


def test_config_fields_shared_with_other_algorithms_have_the_same_types():
    from nacre.training.loop import ALGORITHMS, algorithm_classes

    mine = {f.name: f.type for f in dataclasses.fields(MamlTrpoConfig)}
    for name in ALGORITHMS:
        other = algorithm_classes(name)[0]
        for f in dataclasses.fields(other):
            if f.name in mine:
                theirs = "str" if f.type in other.type_aliases else f.type
                assert mine[f.name] == theirs, (name, f.name, mine[f.name], theirs)


def test_an_iteration_samples_pre_and_post_update_data_of_distinct_train_tasks():
    tr = MamlTrpoTrainer(preset("tiny", "point-robot", meta_batch=3))
    seen = []
    set_tasks = None
    metrics = tr.train_iteration()
    set_tasks = tr._pool.set_tasks
    tr._pool.set_tasks = lambda tasks: seen.append(list(tasks)) or set_tasks(tasks)
    tr.train_iteration()
    cfg = tr.cfg
    per_sample = cfg.meta_batch * cfg.rollouts_per_task * tr.horizon  # the point robot never terminates
    assert tr.env_steps == 2 * (cfg.inner_steps + 1) * per_sample
    assert metrics["time/env_steps"] == (cfg.inner_steps + 1) * per_sample
    assert metrics["time/env_steps_per_second"] > 0 and metrics["time/grad_steps"] == 1
    train = [dict(t) for t in tr.split.train]
    assert len(seen) == 1 and len({str(t) for t in seen[0]}) == 3 and all(dict(t) in train for t in seen[0])
    assert {"returns/train_pre", "returns/train_post", "trpo/kl", "policy/std"} <= set(metrics)
    assert np.isfinite(list(metrics.values())).all()


@pytest.mark.mujoco
def test_mujoco_environments_are_built_once_and_given_new_tasks():
    tr = MamlTrpoTrainer(preset("tiny", "cheetah-vel", horizon=3))
    tr.train_iteration()
    envs = [id(e) for row in tr._pool.envs for e in row]
    tr.train_iteration()
    assert [id(e) for row in tr._pool.envs for e in row] == envs and tr._pool.rebuilt == 0
    tr.close()
