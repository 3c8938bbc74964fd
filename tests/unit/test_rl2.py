"""RL2-PPO: GAE over whole trials against hand computation, the hidden state carried within a trial and reset
between trials, the clipped PPO objective against hand-computed values, config and presets."""

import math

import numpy as np
import pytest
import torch

from nacre.algos.onpolicy.sampler import EnvPool
from nacre.algos.rl2 import ConfigError, Rl2Config, clipped_objective, preset, trial_advantages
from nacre.algos.rl2.networks import Rl2Policy
from nacre.algos.rl2.trials import sample_trials
from nacre.envs.registry import make_distribution, registered_ids


def test_gae_runs_across_episode_boundaries_inside_a_trial_and_stops_at_the_trials_end():
    # trial 0: 4 steps (two episodes of 2 steps: the boundary after step 1 must not cut the sum)
    # trial 1: 2 steps then padding (its values past the end are ignored)
    rewards = np.array([[[1.0, 0.0, 2.0, 1.0], [5.0, 0.0, 7.0, 7.0]]])
    values = np.array([[[0.5, 0.2, 0.1, 0.3], [1.0, 2.0, 9.0, 9.0]]])
    mask = np.array([[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]])
    obs = np.zeros((1, 2, 4, 1))
    adv = trial_advantages(rewards, obs, mask, discount=0.9, lam=0.5, normalize_per_task=False, values=values)
    # by hand, gamma * lambda = 0.45, V after a trial's last step = 0
    d = [1 + 0.9 * 0.2 - 0.5, 0 + 0.9 * 0.1 - 0.2, 2 + 0.9 * 0.3 - 0.1, 1 - 0.3]
    a3 = d[3]
    a2 = d[2] + 0.45 * a3
    a1 = d[1] + 0.45 * a2  # crosses the episode boundary
    a0 = d[0] + 0.45 * a1
    np.testing.assert_allclose(adv[0, 0], [a0, a1, a2, a3], rtol=1e-12)
    np.testing.assert_allclose(adv[0, 1], [5 + 0.9 * 2 - 1 + 0.45 * (0 - 2), -2.0, 0.0, 0.0], rtol=1e-12)


def test_sampled_trials_credit_the_first_episode_with_the_second():
    dist = make_distribution("point-robot")
    pool = EnvPool(dist.make_env, [dist.split(0, 2, 1).train[0]], 2)
    policy = Rl2Policy(pool.obs_dim, pool.action_dim, 4, generator=torch.Generator().manual_seed(0))
    trials = sample_trials(pool, policy, episodes=2, horizon=5, rng=np.random.default_rng(0), action_scale=1.0)
    assert trials.mask.shape == (1, 2, 10) and trials.mask.all()
    np.testing.assert_array_equal(trials.episode[0, 0], [0] * 5 + [1] * 5)
    adv = trial_advantages(trials.rewards, trials.obs, trials.mask, 1.0, 1.0, False, values=np.zeros((1, 2, 10)))
    # the last step of episode 0 gets the whole rest of the trial, each trial its own
    np.testing.assert_allclose(adv[0, :, 4], trials.rewards[0, :, 4:].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(trials.returns().sum(-1), trials.rewards.sum(-1), rtol=1e-6)


def _final_hidden(policy, inputs):
    with torch.no_grad():
        _, h = policy.gru(torch.as_tensor(inputs)[None], policy.initial_state(1)[None])
    return h[0]


def test_hidden_state_is_carried_within_a_trial_and_reset_between_trials():
    dist = make_distribution("point-robot")
    pool = EnvPool(dist.make_env, [dist.split(0, 2, 1).train[0]], 1)
    policy = Rl2Policy(pool.obs_dim, pool.action_dim, 6, generator=torch.Generator().manual_seed(1))
    h = 5
    first = sample_trials(pool, policy, 2, h, np.random.default_rng(0), 1.0, deterministic=True)
    second = sample_trials(pool, policy, 2, h, np.random.default_rng(1), 1.0, deterministic=True)
    for trials in (first, second):
        x = torch.as_tensor(trials.inputs[0])
        with torch.no_grad():
            mean, _ = policy.sequence(x)  # one pass over the whole trial from a zero state
            ep2_alone, _ = policy.sequence(x[:, h:])  # episode 2 as if the state were reset at the boundary
        np.testing.assert_allclose(trials.actions[0], mean.numpy(), atol=1e-5)
        assert not np.allclose(trials.actions[0, 0, h], ep2_alone[0, 0].numpy(), atol=1e-3)  # carried
        # the inputs at the episode boundary: previous action and reward, done flag
        np.testing.assert_array_equal(trials.inputs[0, 0, h, -1], 1.0)
        assert (trials.inputs[0, 0, :h, -1] == 0).all() and (trials.inputs[0, 0, h + 1 :, -1] == 0).all()
        np.testing.assert_array_equal(trials.inputs[0, 0, h, pool.obs_dim : pool.obs_dim + pool.action_dim],
                                      trials.actions[0, 0, h - 1])  # fmt: skip
        assert trials.inputs[0, 0, h, -2] == pytest.approx(trials.rewards[0, 0, h - 1])
        assert (trials.inputs[0, 0, 0, pool.obs_dim :] == 0).all()
    # the second trial starts from zeros, not from where the first ended
    carried = _final_hidden(policy, first.inputs[0, 0])
    with torch.no_grad():
        leaked, _ = policy.sequence(torch.as_tensor(second.inputs[0]), carried)
    assert not np.allclose(second.actions[0, 0, 0], leaked[0, 0].numpy(), atol=1e-3)


def test_memoryless_trials_act_on_the_current_input_only():
    """The no-adaptation ablation: every action is the policy's first-step output on that step's input alone."""
    dist = make_distribution("point-robot")
    pool = EnvPool(dist.make_env, [dist.split(0, 2, 1).train[0]], 1)
    policy = Rl2Policy(pool.obs_dim, pool.action_dim, 6, generator=torch.Generator().manual_seed(1))
    trials = sample_trials(pool, policy, 2, 5, np.random.default_rng(0), 1.0, deterministic=True, memory=False)
    x = torch.as_tensor(trials.inputs[0, 0])
    with torch.no_grad():
        alone = torch.cat([policy.sequence(x[t : t + 1][None])[0][0] for t in range(len(x))])
        carried, _ = policy.sequence(x[None])
    np.testing.assert_allclose(trials.actions[0, 0], alone.numpy(), atol=1e-5)
    assert not np.allclose(trials.actions[0, 0, 1:], carried[0, 1:].numpy(), atol=1e-3)  # not the carried state


def test_clipped_objective_matches_hand_computed_values():
    ratios = torch.tensor([1.5, 0.5, 1.1, 0.5, 0.7])
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, -2.0])
    mask = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])
    old = torch.full((5,), -0.3)
    value = clipped_objective(torch.log(ratios) + old, old, adv, mask, clip=0.2)
    # min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-1.1, -1.1) = -1.1; min(-0.5, -0.8) = -0.8; last step masked
    assert float(value) == pytest.approx((1.2 + 0.5 - 1.1 - 0.8) / 4, abs=1e-6)


def test_clipped_objective_has_no_gradient_outside_the_clip_range():
    new = torch.tensor([math.log(1.5), math.log(0.9)], requires_grad=True)
    value = clipped_objective(new, torch.zeros(2), torch.ones(2), torch.ones(2), clip=0.2)
    (grad,) = torch.autograd.grad(value, new)
    assert grad[0] == 0 and grad[1] == pytest.approx(0.9 / 2)


def test_policy_initialisation_uses_only_its_generator():
    state = torch.random.get_rng_state().clone()
    a = Rl2Policy(3, 2, 5, generator=torch.Generator().manual_seed(3))
    b = Rl2Policy(3, 2, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


def test_defaults_are_the_reference_settings():
    cfg = Rl2Config()
    assert (cfg.meta_batch, cfg.trials_per_task, cfg.episodes_per_trial, cfg.discount, cfg.gae_lambda) == (
        100, 1, 2, 0.99, 1.0)  # fmt: skip
    assert (cfg.hidden_size, cfg.clip_eps, cfg.ppo_epochs, cfg.learning_rate, cfg.num_iterations) == (
        64, 0.2, 5, 1e-3, 501)  # fmt: skip
    assert cfg.normalize_advantages and cfg.grad_steps_per_iteration == 5 and cfg.test_episodes == 2


@pytest.mark.parametrize("name", ["paper", "fast", "tiny"])
def test_presets_exist_for_every_registered_distribution(name):
    for dist_id in registered_ids():
        cfg = preset(name, dist_id)
        length = make_distribution(dist_id).episode_length
        assert cfg.horizon == (length if name != "tiny" else min(length, 10))
        assert cfg.sparse_rewards == (dist_id.rsplit("-v", 1)[0] == "sparse-point-robot")
        if name == "paper":
            assert (cfg.meta_batch, cfg.episodes_per_trial, cfg.num_iterations, cfg.hidden_size) == (100, 2, 501, 64)
        assert cfg.action_scale == 1.0  # the reference's RL2 steps every env with the raw actions


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="clip_eps"):
        preset("tiny", clip_eps=1.5)
    with pytest.raises(ConfigError, match="episodes_per_trial"):
        Rl2Config(episodes_per_trial=0)
    assert preset("tiny", minibatch_trials=1, meta_batch=3).grad_steps_per_iteration == 2 * 3
