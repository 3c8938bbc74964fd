"""MAESN: the latent-only inner step against hand computation, gradient isolation of the inner and outer steps,
the prior KL, the meta-test protocol (prior start, halved step sizes), config and presets."""

import math

import numpy as np
import pytest
import torch

import nacre.algos.maesn.adapter as maesn_adapter
from nacre.algos.maesn import ConfigError, MaesnConfig, MaesnTrainer, inner_step, outer_objective_and_kl, preset
from nacre.algos.maesn.learner import MaesnBatch, MaesnLearner, adapted_latents
from nacre.algos.maesn.networks import latent_log_prob, policy_forward, prior_kl
from nacre.algos.onpolicy.policies import log_prob
from nacre.envs.registry import make_distribution, registered_ids


def _batch(gen, m, k, h, obs_dim=2, act_dim=2, latent_dim=2, mu=None, log_sigma=None):
    z = torch.randn(m, k, latent_dim, generator=gen)
    mean = torch.randn(m, k, h, act_dim, generator=gen)
    log_std = 0.1 * torch.randn(m, k, h, act_dim, generator=gen)
    actions = mean + log_std.exp() * torch.randn(m, k, h, act_dim, generator=gen)
    mask = torch.ones(m, k, h)
    mask[0, 0, -1] = 0.0
    mu = torch.zeros(m, latent_dim) if mu is None else mu
    log_sigma = torch.zeros(m, latent_dim) if log_sigma is None else log_sigma
    old = -0.5 * (((actions - mean) / log_std.exp()) ** 2).sum(-1) - log_std.sum(-1) - act_dim * 0.5 * math.log(
        2 * math.pi)  # fmt: skip
    return MaesnBatch(torch.randn(m, k, h, obs_dim, generator=gen), actions, z, torch.randn(m, k, h, generator=gen),
                      mask, old, mean, log_std, mu, log_sigma, torch.randn(m, k, generator=gen))  # fmt: skip


def test_inner_step_matches_hand_computation():
    z = torch.tensor([[[1.0, 0.0], [-1.0, 2.0]]])
    # per-step advantages that would give another step if the latent used them: only the per-episode ones count
    step_adv = torch.tensor([[[5.0, -7.0, 1.0], [2.0, 3.0, -9.0]]])
    zeros = torch.zeros(1, 2, 3, 2)
    batch = MaesnBatch(zeros, zeros, z, step_adv, torch.ones(1, 2, 3), torch.zeros(1, 2, 3), zeros, zeros,
                       torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, -1.0]]))  # fmt: skip
    mu = torch.zeros(1, 2, requires_grad=True)
    ls = torch.zeros(1, 2, requires_grad=True)
    step = torch.full((2,), 0.5)
    new_mu, new_ls = inner_step(mu, ls, step, step, batch, create_graph=False)
    # dJ/dmu = mean_k (z_k - mu) / sigma^2 A_k = ([1, 0] - [-1, 2]) / 2; dJ/dlog_sigma = mean_k ((z_k - mu)^2 /
    # sigma^2 - 1) A_k = ([0, -1] - [0, 3]) / 2
    np.testing.assert_allclose(new_mu.numpy(), [[0.5, -0.5]], atol=1e-6)
    np.testing.assert_allclose(new_ls.numpy(), [[0.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(inner_step(mu, ls, step, step, batch, False, scale=0.5)[0].numpy(), [[0.25, -0.25]],
                               atol=1e-6)  # fmt: skip


def test_the_latent_gets_one_advantage_per_episode_normalised_over_the_episodes():
    # the MAESN reference weights log q(z_k) by the episode's first-step advantage G_k - b(s_0), normalised over
    # the task's K episodes (not by every step's advantage)
    from nacre.algos.maesn.learner import make_batch
    from nacre.algos.onpolicy.advantages import task_advantages
    from nacre.algos.onpolicy.sampler import Rollouts

    rng = np.random.default_rng(0)
    m, k, h = 2, 5, 6
    obs = rng.normal(size=(m, k, h, 2)).astype(np.float32)
    rewards = rng.normal(size=(m, k, h)).astype(np.float32)
    mask = np.ones((m, k, h), np.float32)
    mask[1, 2, 4:] = 0.0
    rollouts = Rollouts(obs, rng.normal(size=(m, k, h, 2)).astype(np.float32), rewards, rewards, mask,
                        np.zeros((m, k), bool), np.zeros((m, k), bool), mask.sum(-1).astype(np.int64),
                        np.zeros((m, k), bool))  # fmt: skip
    cfg = preset("tiny", "point-robot")
    learner = MaesnLearner(cfg, 2, 2, torch.Generator().manual_seed(0))
    z = torch.randn(m, k, 2, generator=torch.Generator().manual_seed(1))
    batch = make_batch(rollouts, rewards, z, torch.zeros(m, 2), torch.zeros(m, 2), learner.policy.params(), cfg)
    raw = task_advantages(rewards, obs, mask, cfg.discount, cfg.gae_lambda, False, cfg.baseline_reg).advantages
    first = raw[:, :, 0]
    expected = (first - first.mean(1, keepdims=True)) / (first.std(1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(batch.latent_advantages.numpy(), expected, rtol=1e-5, atol=1e-5)
    # the per-step advantages (the outer surrogate's) stay normalised over all of a task's steps
    valid = mask[0] > 0
    assert abs(float(batch.advantages[0].numpy()[valid].mean())) < 1e-5
    assert float(batch.advantages[0].numpy()[valid].std()) == pytest.approx(1.0, abs=1e-4)


def test_prior_kl_and_latent_log_prob_against_closed_forms():
    mu, ls = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]])
    assert float(prior_kl(mu, ls)) == pytest.approx(0.5 * 1 + 0.5 * (4 - 1) - math.log(2.0), rel=1e-6)
    normal = torch.distributions.Normal
    general = torch.distributions.kl_divergence(normal(mu, ls.exp()), normal(torch.zeros(1, 2), torch.ones(1, 2)))
    assert float(prior_kl(mu, ls)) == pytest.approx(float(general.sum(-1)))
    z = torch.tensor([[[2.0, 2.0]]])
    expected = -0.5 * (1.0 + 1.0) - math.log(2.0) - math.log(2 * math.pi)
    assert float(latent_log_prob(z, mu, ls)) == pytest.approx(expected, rel=1e-6)


def _learner(n_train=5):
    cfg = preset("tiny", "point-robot", n_train_tasks=n_train, hidden_size=6)
    return MaesnLearner(cfg, 2, 2, torch.Generator().manual_seed(0))


def test_inner_step_depends_only_on_the_latents():
    learner = _learner()
    gen = torch.Generator().manual_seed(1)
    idx = torch.tensor([3, 1])
    pre = _batch(gen, 2, 3, 4)
    policy_before = {k: v.detach().clone() for k, v in learner.policy.params().items()}
    mu, ls = adapted_latents(learner.latents, idx, [pre], create_graph=True)
    grads = torch.autograd.grad(mu.sum() + ls.sum(), list(learner.policy.params().values()), allow_unused=True)
    assert all(g is None for g in grads)  # no path from the policy weights into the inner step
    lat = torch.autograd.grad(mu.sum() + ls.sum(), [learner.latents.mu, learner.latents.step_mu], allow_unused=True)
    assert lat[0][[1, 3]].abs().sum() > 0 and lat[0][[0, 2, 4]].abs().sum() == 0 and lat[1].abs().sum() > 0
    for k, v in learner.policy.params().items():
        assert torch.equal(v, policy_before[k])


def _pre_and_post(learner, idx, seed):
    """A pre-update batch of tasks ``idx`` and a post-update batch drawn from their adapted latents."""
    gen = torch.Generator().manual_seed(seed)
    pre = _batch(gen, len(idx), 3, 4)
    with torch.no_grad():
        mu, ls = adapted_latents(learner.latents, idx, [pre], create_graph=False)
    return pre, _batch(gen, len(idx), 3, 4, mu=mu, log_sigma=ls)


def test_outer_objective_reaches_policy_weights_step_sizes_and_the_sampled_latents_only():
    learner = _learner()
    idx = torch.tensor([0, 4])
    pre, post = _pre_and_post(learner, idx, seed=2)
    # post-update data as sampled: its actions' old log-probabilities at the reparameterised z = mu' + sigma' eps
    with torch.no_grad():
        mean, log_std = policy_forward(learner.policy.params(), post.obs, post.z)
    post = post._replace(old_mean=mean, old_log_std=log_std, old_log_pi=log_prob(mean, log_std, post.actions))
    objective, kl = outer_objective_and_kl(learner.policy.params(), learner.latents, idx, [pre], post, 0.1)
    # at the sampling parameters the reparameterised z is the sampled one: every ratio is 1 and the KL is 0
    penalty = prior_kl(learner.latents.mu[idx], learner.latents.log_sigma[idx]).mean().detach()
    surr = ((post.advantages * post.mask).sum((1, 2)) / post.mask.sum((1, 2))).mean()
    assert float(objective.detach()) == pytest.approx(float(surr - 0.1 * penalty), abs=1e-5)
    assert abs(float(kl.detach())) < 1e-6
    params = learner.meta_parameters()
    grads = torch.autograd.grad(objective, params, allow_unused=True)
    named = dict(zip([n for n, _ in learner.named_parameters()], grads, strict=True))
    for name, g in named.items():
        assert g is not None, name
        if name in ("latents.mu", "latents.log_sigma"):
            assert g[[0, 4]].abs().sum() > 0 and g[[1, 2, 3]].abs().sum() == 0, name
        elif not name.startswith("b"):  # biases of a ReLU net can have exact-zero rows; weights must not
            assert g.abs().sum() > 0, name
    assert named["latents.step_mu"].abs().sum() > 0 and named["latents.step_log_sigma"].abs().sum() > 0


def test_the_outer_latent_gradient_flows_through_the_policy_not_a_latent_likelihood_ratio():
    # the reference reparameterises z = mu' + sigma' eps: a policy that ignores z gives the latents and the step
    # sizes no gradient from the surrogate (a likelihood ratio of z would give them one)
    learner = _learner()
    with torch.no_grad():
        learner.policy.params()["w0"][:, 2:] = 0.0  # the columns that read z (inputs are [obs (2), z (2)])
    idx = torch.tensor([1, 2])
    pre, post = _pre_and_post(learner, idx, seed=5)
    objective, kl = outer_objective_and_kl(learner.policy.params(), learner.latents, idx, [pre], post, 0.0)
    lat = learner.latents
    grads = torch.autograd.grad(objective, [lat.mu, lat.log_sigma, lat.step_mu, lat.step_log_sigma])
    assert all(float(g.abs().sum()) == 0.0 for g in grads)
    # with the z columns in use, the same objective does reach them
    with torch.no_grad():
        learner.policy.params()["w0"][:, 2:] = 0.5
    objective, _ = outer_objective_and_kl(learner.policy.params(), learner.latents, idx, [pre], post, 0.0)
    grads = torch.autograd.grad(objective, [lat.mu, lat.step_mu])
    assert all(float(g.abs().sum()) > 0.0 for g in grads)


def test_a_training_iteration_moves_policy_step_sizes_and_only_the_sampled_latents():
    tr = MaesnTrainer(preset("tiny", "point-robot", n_train_tasks=6, meta_batch=2))
    lat = tr.learner.latents
    before = {n: p.detach().clone() for n, p in tr.learner.named_parameters()}
    metrics = tr.train_iteration()
    assert metrics["trpo/accepted"] == 1.0
    after = dict(tr.learner.named_parameters())
    assert not torch.equal(after["w0"], before["w0"])
    assert not torch.equal(lat.step_mu, before["latents.step_mu"])
    changed = (lat.mu.detach() != before["latents.mu"]).any(-1).nonzero().flatten().tolist()
    assert 0 < len(changed) <= 2


def test_meta_test_starts_at_the_prior_halves_step_sizes_and_leaves_the_meta_parameters(monkeypatch):
    tr = MaesnTrainer(preset("tiny", "point-robot"))
    scales, starts = [], []
    real = maesn_adapter.inner_step

    def spy(mu, ls, *args, scale=1.0, **kw):
        scales.append(scale)
        starts.append((mu.clone(), ls.clone()))
        return real(mu, ls, *args, scale=scale, **kw)

    monkeypatch.setattr(maesn_adapter, "inner_step", spy)
    before = [p.detach().clone() for _, p in tr.learner.named_parameters()]
    result = tr.evaluate(steps=[0, 1, 3], num_runs=2)
    assert result.returns.shape == (2, 2, 3)
    assert scales == [1.0, 1.0, 0.5]  # the reference halves after each update from its second one
    assert torch.equal(starts[0][0], torch.zeros_like(starts[0][0])) and torch.equal(
        starts[0][1], torch.zeros_like(starts[0][1])
    )
    for b, (_, p) in zip(before, tr.learner.named_parameters(), strict=True):
        assert torch.equal(b, p)


def test_defaults_are_the_reference_settings():
    cfg = MaesnConfig()
    assert (cfg.hidden_size, cfg.hidden_layers, cfg.latent_dim, cfg.inner_lr, cfg.prior_kl_weight) == (
        100,
        2,
        2,
        0.5,
        0.1,
    )
    assert (cfg.max_kl, cfg.cg_iterations, cfg.backtrack_ratio, cfg.max_backtracks) == (0.01, 10, 0.8, 15)
    assert (cfg.meta_batch, cfg.rollouts_per_task, cfg.num_iterations, cfg.discount) == (20, 20, 500, 0.99)
    assert cfg.action_scale == 1.0 and preset("paper", "cheetah-vel").action_scale == 1.0


@pytest.mark.parametrize("name", ["paper", "fast", "tiny"])
def test_presets_exist_for_every_registered_distribution(name):
    for dist_id in registered_ids():
        cfg = preset(name, dist_id)
        length = make_distribution(dist_id).episode_length
        assert cfg.horizon == (length if name != "tiny" else min(length, 10))
        if name == "paper":
            assert (cfg.hidden_size, cfg.meta_batch, cfg.rollouts_per_task, cfg.num_iterations) == (100, 20, 20, 500)
            assert cfg.envs_per_task == 0  # one wave: every rollout of a task has its own z in one policy call
    assert preset("paper", "sparse-point-robot").sparse_rewards


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="latent_dim"):
        MaesnConfig(latent_dim=0)
    with pytest.raises(ConfigError, match="prior_kl_weight"):
        preset("tiny", prior_kl_weight=-1.0)
    with pytest.raises(ConfigError, match="envs_per_task"):
        preset("tiny", rollouts_per_task=4, envs_per_task=2)
