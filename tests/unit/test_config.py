"""Config validation and presets."""

import pytest

from nacre.algos.pearl.config import ConfigError, PearlConfig, preset


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"batch_size": -1}, "batch_size must be positive"),
        ({"batch_size": "big"}, "batch_size must be of type int"),
        ({"discount": 1.5}, "discount must be in"),
        ({"encoder": "transformer"}, "encoder must be"),
        ({"num_exp_traj_eval": 5, "num_eval_trajectories": 3}, "num_exp_traj_eval"),
        ({"use_next_obs_in_context": 1}, "must be of type bool"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_invalid_values_name_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        PearlConfig(**changes)


def test_replace_rejects_unknown_fields_and_ints_become_floats():
    cfg = PearlConfig()
    with pytest.raises(ConfigError, match="unknown PEARL config field"):
        cfg.replace(bogus=1)
    assert isinstance(cfg.replace(reward_scale=3).reward_scale, float)


def test_paper_presets_match_the_reference_table():
    vel = preset("paper", "cheetah-vel")
    assert (vel.n_train_tasks, vel.n_test_tasks, vel.meta_batch, vel.embedding_batch_size) == (100, 30, 16, 100)
    assert (vel.num_steps_prior, vel.num_steps_posterior, vel.num_extra_rl_steps_posterior) == (400, 0, 600)
    assert (vel.num_train_steps_per_itr, vel.reward_scale, vel.kl_lambda) == (2000, 5.0, 0.1)
    sp = preset("paper", "sparse-point-robot")
    assert (sp.n_train_tasks, sp.num_tasks_sample, sp.num_steps_prior, sp.num_steps_posterior) == (80, 10, 100, 900)
    assert (sp.embedding_batch_size, sp.kl_lambda, sp.discount, sp.reward_scale) == (1024, 1.0, 0.9, 100.0)
    assert sp.sparse_rewards and sp.num_exp_traj_eval == 5
    walker = preset("paper", "walker-params-v1")
    assert walker.use_next_obs_in_context and walker.num_train_steps_per_itr == 4000
    assert preset("paper", "ant-goal").kl_lambda == 1.0
    assert (vel.hidden_size, vel.hidden_layers, vel.encoder_hidden_size, vel.latent_dim) == (300, 3, 200, 5)


def test_two_task_paper_presets_build_with_their_meta_batch_of_four():
    for env in ("cheetah-dir", "ant-dir"):
        cfg = preset("paper", env)
        assert (cfg.n_train_tasks, cfg.meta_batch) == (2, 4)


def test_unknown_preset_and_round_trip():
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge", "point-robot")
    cfg = preset("fast", "point-robot", seed=3)
    assert PearlConfig.from_dict(cfg.to_dict()) == cfg


def test_every_registered_distribution_has_working_presets():
    from nacre.envs.registry import make_distribution, registered_ids

    for dist_id in registered_ids():
        dist = make_distribution(dist_id)
        if type(dist).__module__ == "nacre.envs.metaworld":
            continue  # needs the metaworld extra; its presets and splits are tested in tests/metaworld
        for name in ("paper", "fast", "tiny"):
            cfg = preset(name, dist_id)
            split = dist.split(cfg.seed, cfg.n_train_tasks, cfg.n_test_tasks)  # sizes fit fixed splits
            assert len(split.train) == cfg.n_train_tasks and len(split.test) == cfg.n_test_tasks, (dist_id, name)


def test_cpu_presets_pick_precision_at_run_time_and_tiny_stays_fp32():
    assert preset("fast", "point-robot").precision == "auto"
    assert preset("paper", "cheetah-vel").precision == "auto"
    assert preset("quick", "sparse-point-robot").precision == "auto"
    assert preset("tiny", "point-robot").precision == "fp32"
    assert preset("fast", "point-robot", precision="fp32").precision == "fp32"
