"""PEARL's losses against hand computation, and gradient routing inside one learner update."""

import copy

import pytest
import torch

from nacre.algos.pearl import losses
from nacre.algos.pearl.config import preset
from nacre.algos.pearl.learner import PearlLearner
from nacre.nn.distributions import Posterior, TanhGaussianSample
from nacre.types import TransitionBatch


def test_q_target_by_hand():
    r = torch.tensor([[1.0], [2.0]])
    term = torch.tensor([[0.0], [1.0]])
    next_v = torch.tensor([[10.0], [10.0]])
    y = losses.q_target(r, term, next_v, reward_scale=5.0, discount=0.9)
    assert y.tolist() == [[5.0 + 9.0], [10.0]]


def test_q_loss_sums_the_two_critics_means():
    q = torch.tensor([[[1.0], [2.0]], [[0.0], [4.0]]])
    y = torch.tensor([[1.0], [1.0]])
    loss, _ = losses.q_loss(q, y)
    assert loss.item() == pytest.approx((0 + 1) / 2 + (1 + 9) / 2)


@pytest.mark.parametrize("reduction,expected", [("sum", 0.1 * (0.5 + 1.5)), ("mean", 0.1 * 1.0)])
def test_kl_loss_reduction_over_tasks(reduction, expected):
    post = Posterior(torch.tensor([[1.0], [torch.sqrt(torch.tensor(3.0))]]), torch.ones(2, 1))
    loss, _ = losses.kl_loss(post, 0.1, reduction)  # KLs 0.5 and 1.5
    assert loss.item() == pytest.approx(expected)


def test_v_and_policy_losses_by_hand():
    v = torch.tensor([[1.0], [0.0]])
    min_q = torch.tensor([[2.0], [1.0]])
    logp = torch.tensor([[0.5], [-0.5]])
    loss, _ = losses.v_loss(v, min_q, logp)
    assert loss.item() == pytest.approx(((1.0 - 1.5) ** 2 + (0.0 - 1.5) ** 2) / 2)
    sample = TanhGaussianSample(torch.zeros(2, 1), torch.tensor([[1.0], [3.0]]), torch.tensor([[2.0], [0.0]]),
                                logp, torch.zeros(2, 1))  # fmt: skip
    loss, _ = losses.policy_loss(sample, min_q, mean_reg=1e-3, std_reg=1e-2)
    expected = ((0.5 - 2.0) + (-0.5 - 1.0)) / 2 + 1e-3 * (1 + 9) / 2 + 1e-2 * (4 + 0) / 2
    assert loss.item() == pytest.approx(expected)


def _learner_and_batch(**overrides):
    cfg = preset("tiny", "point-robot", **overrides)
    learner = PearlLearner(cfg, 2, 2, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    t, b = cfg.meta_batch, cfg.batch_size
    batch = TransitionBatch(torch.randn(t, b, 2, generator=g), torch.rand(t, b, 2, generator=g) * 2 - 1,
                            torch.randn(t, b, 1, generator=g), torch.randn(t, b, 2, generator=g),
                            (torch.rand(t, b, 1, generator=g) < 0.1).float())  # fmt: skip
    context = torch.randn(t, cfg.embedding_batch_size, 5, generator=g)
    return learner, batch, context


def _record_grads_at_steps(learner):
    """Snapshot every network's gradients each time an optimiser steps."""
    seen = {}
    for name, opt in learner.optimizers.items():
        original = opt.step

        def step(*a, _name=name, _orig=original, **k):
            seen[_name] = {
                mod: [None if p.grad is None else p.grad.clone() for p in getattr(learner.nets, mod).parameters()]
                for mod in ("encoder", "qf", "vf", "policy", "target_vf")
            }
            return _orig(*a, **k)

        opt.step = step
    return seen


def test_gradient_routing_of_one_update():
    learner, batch, context = _learner_and_batch()
    before = copy.deepcopy(learner.nets)
    gen_state = learner.gen.get_state()
    seen = _record_grads_at_steps(learner)
    learner.update(batch, context)

    # the encoder's gradient is exactly d(L_Q + L_KL)/d(phi), recomputed independently
    ref = before
    g = torch.Generator()
    g.set_state(gen_state)
    post = ref.encoder(context)
    z = post.sample(g).repeat_interleave(batch.obs.shape[1], 0)
    flat = lambda x: x.reshape(-1, x.shape[-1])
    with torch.no_grad():
        next_v = ref.target_vf(torch.cat([flat(batch.next_obs), z], -1))
    y = losses.q_target(flat(batch.rewards), flat(batch.terminated), next_v, learner.cfg.reward_scale,
                        learner.cfg.discount)  # fmt: skip
    lq, _ = losses.q_loss(ref.qf(torch.cat([flat(batch.obs), flat(batch.actions), z], -1)), y)
    lkl, _ = losses.kl_loss(post, learner.cfg.kl_lambda, learner.cfg.kl_reduction)
    (lq + lkl).backward()
    for got, p in zip(seen["context"]["encoder"], ref.encoder.parameters(), strict=True):
        torch.testing.assert_close(got, p.grad)

    # V's and the policy's gradients are exactly those of L_V and L_pi alone (recomputed independently,
    # with the same policy noise and the critics as updated by their step) ...
    zd = z.detach()
    sample = ref.policy(flat(batch.obs), zd, g)
    min_q = learner.nets.qf(torch.cat([flat(batch.obs), sample.action, zd], -1), detach_params=True).min(0).values
    v_pred = ref.vf(torch.cat([flat(batch.obs), zd], -1))
    lv, _ = losses.v_loss(v_pred, min_q, sample.log_prob)
    lpi, _ = losses.policy_loss(sample, min_q, learner.cfg.policy_mean_reg, learner.cfg.policy_std_reg)
    want_v = torch.autograd.grad(lv, list(ref.vf.parameters()), retain_graph=True)
    want_pi = torch.autograd.grad(lpi, list(ref.policy.parameters()), retain_graph=True)
    for got, want in zip(seen["vf"]["vf"] + seen["policy"]["policy"], want_v + want_pi, strict=True):
        torch.testing.assert_close(got, want)
    # ... and neither loss reaches another network: L_pi does not move Q, V or the encoder; L_V not the policy
    others = [*learner.nets.qf.parameters(), *ref.vf.parameters(), *ref.encoder.parameters()]
    assert all(gr is None for gr in torch.autograd.grad(lpi, others, retain_graph=True, allow_unused=True))
    assert all(gr is None for gr in torch.autograd.grad(lv, list(ref.policy.parameters()), allow_unused=True))
    # nothing after the critic step adds to the encoder's or the critics' gradients
    for later in ("vf", "policy"):
        for a, b in zip(seen["context"]["encoder"], seen[later]["encoder"], strict=True):
            assert torch.equal(a, b)
        for a, b in zip(seen["qf"]["qf"], seen[later]["qf"], strict=True):
            assert torch.equal(a, b)
    # V and the policy have no gradient yet when the critic steps
    assert all(gr is None for gr in seen["qf"]["vf"] + seen["qf"]["policy"])
    # the target V never receives gradients, yet moves by Polyak averaging
    assert all(gr is None for snap in seen.values() for gr in snap["target_vf"])
    tau = learner.cfg.soft_target_tau
    for tp, old_t, new_v in zip(learner.nets.target_vf.parameters(), before.target_vf.parameters(),
                                learner.nets.vf.parameters(), strict=True):  # fmt: skip
        torch.testing.assert_close(tp, (1 - tau) * old_t + tau * new_v)


def test_every_network_moves_and_deterministic_ablation_has_no_kl():
    learner, batch, context = _learner_and_batch()
    before = copy.deepcopy(learner.nets)
    metrics = learner.update(batch, context)
    assert "losses/kl" in metrics
    for mod in ("encoder", "qf", "vf", "policy"):
        old = torch.cat([p.flatten() for p in getattr(before, mod).parameters()])
        new = torch.cat([p.flatten() for p in getattr(learner.nets, mod).parameters()])
        assert not torch.equal(old, new), mod
    learner, batch, context = _learner_and_batch(use_information_bottleneck=False)
    assert "losses/kl" not in learner.update(batch, context)


def test_bf16_keeps_posterior_log_probs_and_losses_in_fp32():
    learner, batch, context = _learner_and_batch(precision="bf16")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        post = learner.nets.encoder(context)
        sample = learner.nets.policy(batch.obs[0], post.mean[:1].expand(batch.obs.shape[1], -1))
    assert post.mean.dtype == post.var.dtype == torch.float32
    assert sample.log_prob.dtype == sample.action.dtype == torch.float32
    metrics = learner.update(batch, context)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in metrics.values())
    fp32, batch, context = _learner_and_batch()
    ref = fp32.update(batch, context)
    # same initial weights and noise: bf16 matmuls change the losses only at bf16 resolution
    assert abs(metrics["losses/qf"] - ref["losses/qf"]) < 0.05 * abs(ref["losses/qf"])
