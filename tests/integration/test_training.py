"""Whole-run properties: seeding, resume equivalence, divergence handling, no global RNG use."""

import numpy as np
import pytest
import torch

from nacre.algos.pearl import PearlTrainer, TrainingDiverged, preset
from nacre.training.checkpoint import list_checkpoints, load_checkpoint
from nacre.training.loop import load_trainer, train


def _params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.learner.nets.parameters()])


def _cfg(**kw):
    return preset("tiny", "sparse-point-robot", **kw)


def test_same_seed_identical_other_seed_different():
    runs = []
    for seed in (0, 0, 1):
        tr = PearlTrainer(_cfg(seed=seed))
        metrics = tr.train_iteration()
        runs.append((_params(tr), metrics["losses/qf"], tr.rl_buffer.sample([0], 8, np.random.default_rng(0))["obs"]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_meta_batch_larger_than_the_task_set_repeats_tasks(monkeypatch):
    tr = PearlTrainer(_cfg(n_train_tasks=2, meta_batch=4))
    seen = []
    update = tr.learner.update
    monkeypatch.setattr(tr.learner, "update", lambda batch, ctx: seen.append(ctx.shape[0]) or update(batch, ctx))
    tr.train_iteration()
    assert seen and all(n == 4 for n in seen)


def test_training_leaves_global_rngs_alone():
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    tr = PearlTrainer(_cfg())
    tr.train_iteration()
    tr.evaluate()
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


@pytest.mark.parametrize("encoder", ["mlp", "rnn-trajectories"])
def test_resume_equals_never_stopping(tmp_path, encoder):
    cfg = _cfg(num_iterations=3, encoder=encoder)
    straight = PearlTrainer(cfg)
    train(straight, tmp_path / "a", tensorboard=False)

    first = PearlTrainer(cfg)
    train(first, tmp_path / "b", stop_after=2, tensorboard=False)
    resumed = load_trainer(tmp_path / "b")
    assert resumed.iteration == 2
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)

    assert torch.equal(_params(straight), _params(resumed))
    assert straight.env_steps == resumed.env_steps and straight.grad_steps == resumed.grad_steps
    for name in ("qf", "policy"):
        a = straight.learner.optimizers[name].state_dict()["state"][0]["exp_avg"]
        b = resumed.learner.optimizers[name].state_dict()["state"][0]["exp_avg"]
        assert torch.equal(a, b)
    log_a = (tmp_path / "a" / "progress.jsonl").read_text().splitlines()
    log_b = (tmp_path / "b" / "progress.jsonl").read_text().splitlines()
    strip = lambda rows: [{k: v for k, v in __import__("json").loads(r).items() if not k.startswith("time/")
                           or k == "time/env_steps"} for r in rows]  # fmt: skip
    assert strip(log_a) == strip(log_b)


def test_checkpoint_is_complete(tmp_path):
    tr = PearlTrainer(_cfg(num_iterations=1))
    train(tr, tmp_path / "run", tensorboard=False)
    ((it, path),) = list_checkpoints(tmp_path / "run" / "checkpoints")
    state = load_checkpoint(path)
    assert it == 1 and state["counters"]["iteration"] == 1
    assert set(state["learner"]["optimizers"]) == {"policy", "qf", "vf", "context"}
    assert any(k.startswith("target_vf.") for k in state["learner"]["networks"])
    assert state["buffers"]["rl"]["tasks"] and set(state["rng"]) >= {"collect", "buffer", "torch_train"}
    assert state["config"] == tr.cfg.to_dict()


def test_divergence_stops_with_last_good_checkpoint_intact(tmp_path):
    tr = PearlTrainer(_cfg(num_iterations=3))
    train(tr, tmp_path / "run", stop_after=1, tensorboard=False)
    with torch.no_grad():
        next(tr.learner.nets.qf.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(tr, tmp_path / "run", resumed=True, tensorboard=False)
    assert [it for it, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [1]
    good = load_trainer(tmp_path / "run")
    assert torch.isfinite(_params(good)).all()


def test_checkpoint_without_a_newer_config_field_still_loads(tmp_path):
    tr = PearlTrainer(_cfg(num_iterations=1))
    train(tr, tmp_path / "run", tensorboard=False)
    ((_, path),) = list_checkpoints(tmp_path / "run" / "checkpoints")
    state = load_checkpoint(path)
    del state["config"]["precision"]  # as written by a nacre that predates the field
    from nacre.training.checkpoint import save_checkpoint

    save_checkpoint(path, state)
    assert load_trainer(tmp_path / "run").iteration == 1
    assert load_trainer(tmp_path / "run", device="cpu").cfg.precision == "fp32"


def test_evaluation_does_not_change_training():
    plain, evaluated = PearlTrainer(_cfg()), PearlTrainer(_cfg())
    plain.train_iteration()
    evaluated.train_iteration()
    evaluated.evaluate(num_runs=2, num_trajectories=3)
    plain.train_iteration()
    evaluated.train_iteration()
    assert torch.equal(_params(plain), _params(evaluated))
