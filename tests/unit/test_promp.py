"""ProMP: the LVC inner objective, the clipped outer objective with its inner-KL penalty, the adaptive penalty,
the update and the presets."""

import pytest
import torch

from nacre.algos.onpolicy.meta import (
    OnPolicyBatch,
    adaptation_path,
    clipped_surrogate,
    lvc_objective,
    vpg_objective,
)
from nacre.algos.onpolicy.policies import expand_params, forward, init_params, log_prob
from nacre.algos.promp import ConfigError, PrompConfig, PrompTrainer, adapt_penalty, preset, promp_loss
from nacre.algos.promp.learner import PrompLearner


def _problem(seed=0, m=3, n=8):
    gen = torch.Generator().manual_seed(seed)
    theta = {k: v.to(torch.float64).requires_grad_(True)
             for k, v in init_params(2, 2, 4, 1, init_std=0.8, generator=gen).items()}  # fmt: skip
    obs = torch.randn(m, n, 2, generator=gen, dtype=torch.float64)
    actions = torch.randn(m, n, 2, generator=gen, dtype=torch.float64)
    mask = torch.ones(m, n, dtype=torch.float64)
    if m > 1:
        mask[1, 5:] = 0
    with torch.no_grad():
        mean, log_std = forward({k: v.detach() for k, v in theta.items()}, obs)
    batch = OnPolicyBatch(obs, actions, torch.randn(m, n, generator=gen, dtype=torch.float64), mask,
                          log_prob(mean, log_std, actions), mean, log_std)  # fmt: skip
    return theta, batch


def test_lvc_gradient_equals_the_vanilla_policy_gradient_at_the_sampling_policy():
    theta, batch = _problem()
    for task in range(3):
        lvc = torch.autograd.grad(lvc_objective(theta, batch)[task], list(theta.values()))
        vpg = torch.autograd.grad(vpg_objective(theta, batch)[task], list(theta.values()))
        for a, b in zip(lvc, vpg, strict=True):
            torch.testing.assert_close(a, b)
    # ... so the adapted parameters agree too, but the curvature (what ProMP changes) does not
    lvc_step = adaptation_path(theta, [batch], lvc_objective, 0.1, create_graph=True)[-1]
    vpg_step = adaptation_path(theta, [batch], vpg_objective, 0.1, create_graph=True)[-1]
    for k in theta:
        torch.testing.assert_close(lvc_step[k], vpg_step[k])
    h_lvc = torch.autograd.grad(lvc_step["b1"].sum(), theta["b1"])[0]
    h_vpg = torch.autograd.grad(vpg_step["b1"].sum(), theta["b1"])[0]
    assert not torch.allclose(h_lvc, h_vpg)


def test_lvc_gradient_away_from_the_sampling_policy_is_importance_weighted():
    theta, batch = _problem(seed=1)
    with torch.no_grad():
        theta["b1"] += 0.3
    mean, log_std = forward(theta, batch.obs)
    logp = log_prob(mean, log_std, batch.actions)
    weights = torch.exp(logp - batch.old_log_prob).detach()
    manual = ((weights * logp * batch.advantages * batch.mask).sum(-1) / batch.mask.sum(-1)).sum()
    got = torch.autograd.grad(lvc_objective(theta, batch).sum(), theta["w0"])[0]
    torch.testing.assert_close(got, torch.autograd.grad(manual, theta["w0"])[0])


def test_clipped_objective_matches_hand_computed_values():
    # one task, shared parameters that give log pi(a|s) = logp_new; old log-probs chosen for given ratios
    ratios = torch.tensor([[0.5, 0.9, 1.2, 1.6, 1.6, 0.5]], dtype=torch.float64)
    adv = torch.tensor([[1.0, -2.0, 3.0, 1.0, -1.0, -1.0]], dtype=torch.float64)
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]], dtype=torch.float64)  # the last step did not happen
    theta, base = _problem(m=1, n=6)
    with torch.no_grad():
        mean, log_std = forward({k: v.detach() for k, v in theta.items()}, base.obs)
        logp = log_prob(mean, log_std, base.actions)
    batch = base._replace(advantages=adv, mask=mask, old_log_prob=logp - torch.log(ratios))
    # min(r A, clip(r, 0.7, 1.3) A): 0.5 -> min(0.5, 0.7) = 0.5; 0.9 -> -1.8; 1.2 -> 3.6; 1.6 -> min(1.6, 1.3) = 1.3;
    # 1.6 with A = -1 -> min(-1.6, -1.3) = -1.6; the masked step is left out
    expected = (0.5 - 1.8 + 3.6 + 1.3 - 1.6) / 5
    with torch.no_grad():
        assert float(clipped_surrogate(theta, batch, clip=0.3)) == pytest.approx(expected)
        assert float(clipped_surrogate(expand_params(theta, 1), batch, clip=0.3)) == pytest.approx(expected)
    # clip 1e-9: everything clipped, min(r A, A) per step
    hard = (min(0.5, 1.0) + min(-1.8, -2.0) + min(3.6, 3.0) + min(1.6, 1.0) + min(-1.6, -1.0)) / 5
    with torch.no_grad():
        assert float(clipped_surrogate(theta, batch, clip=1e-9)) == pytest.approx(hard)


def test_loss_penalises_the_inner_kl_and_needs_second_order_gradients():
    theta, pre = _problem(seed=2)
    adapted = adaptation_path(theta, [pre], lvc_objective, 0.1, create_graph=False)[-1]
    _, post = _problem(seed=3)
    with torch.no_grad():
        mean, log_std = forward(adapted, post.obs)
    post = post._replace(old_log_prob=log_prob(mean, log_std, post.actions), old_mean=mean, old_log_std=log_std)
    loss, surr, kls = (x.detach() if torch.is_tensor(x) else [k.detach() for k in x]
                       for x in promp_loss(theta, [pre], post, 0.1, 0.3, [1.0]))  # fmt: skip
    assert float(kls[0]) == pytest.approx(0.0, abs=1e-12) and float(loss) == pytest.approx(-float(surr))
    with torch.no_grad():
        theta["log_std"] += 0.2
    loss, surr, kls = promp_loss(theta, [pre], post, 0.1, 0.3, [3.0])
    assert float(kls[0].detach()) > 0
    assert float(loss.detach()) == pytest.approx(-float(surr.detach()) + 3.0 * float(kls[0].detach()))
    grads = torch.autograd.grad(loss, list(theta.values()))
    assert all(torch.isfinite(g).all() for g in grads) and all(g.abs().sum() > 0 for g in grads)
    # two inner steps: the penalty is the mean over the steps of eta_k KL_k (the ProMP reference), not their sum
    _, pre2 = _problem(seed=4)
    loss2, surr2, kls2 = promp_loss(theta, [pre, pre2], post, 0.1, 0.3, [3.0, 5.0])
    assert all(float(k.detach()) > 0 for k in kls2)
    expected = -float(surr2.detach()) + (3.0 * float(kls2[0].detach()) + 5.0 * float(kls2[1].detach())) / 2
    assert float(loss2.detach()) == pytest.approx(expected)


def test_adaptive_penalty_rule():
    assert adapt_penalty(1e-3, 0.001, 0.01) == 5e-4  # KL < target / 1.5: halve
    assert adapt_penalty(1e-3, 0.02, 0.01) == 2e-3  # KL > 1.5 target: double
    assert adapt_penalty(1e-3, 0.01, 0.01) == 1e-3 and adapt_penalty(1e-3, 0.0149, 0.01) == 1e-3


def test_defaults_and_presets_are_the_reference_settings():
    cfg = PrompConfig()
    assert (cfg.learning_rate, cfg.ppo_steps, cfg.clip_eps, cfg.inner_kl_penalty) == (1e-3, 5, 0.3, 5e-4)
    assert not cfg.adaptive_inner_kl_penalty and cfg.target_inner_kl == 0.01 and cfg.grad_steps_per_iteration == 5
    for env in ("walker-params", "hopper-params"):
        rp = preset("paper", env)
        assert (rp.ppo_steps, rp.inner_kl_penalty, rp.adaptive_inner_kl_penalty, rp.inner_lr) == (3, 1e-3, True, 0.05)
    ch = preset("paper", "cheetah-dir")
    assert (ch.ppo_steps, ch.inner_kl_penalty, ch.adaptive_inner_kl_penalty, ch.inner_lr) == (5, 5e-4, False, 0.1)
    assert preset("paper", "cheetah-vel", ppo_steps=4).ppo_steps == 4
    for field, value in [("clip_eps", 1.0), ("ppo_steps", 0), ("learning_rate", 0.0), ("inner_kl_penalty", -1.0)]:
        with pytest.raises(ConfigError, match=field):
            PrompConfig(**{field: value})


def test_update_takes_ppo_steps_adam_steps_and_adapts_the_penalty():
    tr = PrompTrainer(preset("tiny", "point-robot", ppo_steps=3, adaptive_inner_kl_penalty=True,
                             target_inner_kl=1e6))  # fmt: skip
    steps = []
    step = tr.learner.optimizer.step
    tr.learner.optimizer.step = lambda *a, **k: steps.append(1) or step(*a, **k)
    metrics = tr.train_iteration()
    assert len(steps) == 3 and tr.grad_steps == 3 and metrics["time/grad_steps"] == 3
    assert metrics["promp/kl_penalty_0"] == tr.cfg.inner_kl_penalty
    assert tr.learner.kl_penalties == [tr.cfg.inner_kl_penalty / 2]  # far below the target: halved
    assert metrics["promp/surrogate_last"] >= metrics["promp/surrogate_first"] - 1e-6
    fixed = PrompTrainer(preset("tiny", "point-robot"))
    fixed.train_iteration()
    assert fixed.learner.kl_penalties == [fixed.cfg.inner_kl_penalty]


def test_learner_state_round_trip_includes_adam_and_penalties():
    cfg = preset("tiny", "point-robot", inner_steps=2, adaptive_inner_kl_penalty=True)
    tr = PrompTrainer(cfg)
    tr.train_iteration()
    state = tr.learner.state_dict()
    other = PrompLearner(cfg, tr.obs_dim, tr.action_dim, torch.Generator().manual_seed(9))
    other.load_state_dict(state)
    assert other.kl_penalties == tr.learner.kl_penalties and len(other.kl_penalties) == 2
    a = tr.learner.optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(other.optimizer.state_dict()["state"][0]["exp_avg"], a)
    with pytest.raises(ValueError, match="KL penalties"):
        PrompLearner(cfg.replace(inner_steps=1), tr.obs_dim, tr.action_dim, torch.Generator()).load_state_dict(state)
