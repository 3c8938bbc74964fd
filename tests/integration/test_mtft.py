"""MT + fine-tune (the MACAW paper's baseline) end to end on the small offline point-robot dataset: task-id
inputs, fine-tuning on copies, evaluation, seeding, resume, CLI."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from nacre.algos.macaw.config import MacawConfig
from nacre.algos.mtft import ConfigError, MtftConfig, preset
from nacre.algos.mtft.trainer import MtftTrainer
from nacre.algos.pearl.config import PearlConfig
from nacre.cli import main
from nacre.datasets import DatasetError
from nacre.training.checkpoint import CheckpointError
from nacre.training.loop import algorithm_classes, load_trainer, train


def _cfg(dataset, **kw):
    return preset("tiny", "point-robot", dataset=str(dataset), **kw)


def _params(trainer):
    return torch.cat([p.detach().flatten() for _, p in trainer.learner.named_parameters()])


def _flat_state(obj, prefix=""):
    """Every tensor of a nested state dict, by path."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj.detach().clone()}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flat_state(v, f"{prefix}/{k}"))
        return out
    return {}


def _record_policy_inputs(trainer):
    seen = []
    trainer.learner.policy.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    return seen


def test_config_fields_shared_with_pearl_and_macaw_have_the_same_types():
    mine = {f.name: f.type for f in dataclasses.fields(MtftConfig)}
    for other in (PearlConfig, MacawConfig):
        for f in dataclasses.fields(other):
            if f.name in mine:
                theirs = "str" if f.type in other.type_aliases else f.type
                ours = "str" if mine[f.name] in MtftConfig.type_aliases else mine[f.name]
                assert ours == theirs, (f.name, ours, theirs)
    cfg = MtftConfig()
    assert cfg.eval_steps == 20 and (cfg.finetune_policy_lr, cfg.finetune_value_lr) == (1e-3, 1e-4)
    assert cfg.grad_steps_per_iteration == cfg.steps_per_iteration and "eval_steps" in cfg.run_only_fields
    assert algorithm_classes("mt-finetune") == (MtftConfig, MtftTrainer)
    with pytest.raises(ConfigError, match="finetune_policy_lr"):
        MtftConfig(finetune_policy_lr=0.0)
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge")
    with pytest.raises(ConfigError, match="max_weight"):
        preset("tiny", max_weight=1.0)


def test_training_appends_the_one_hot_task_id_and_never_steps_an_env(point_dataset, monkeypatch):
    tr = MtftTrainer(_cfg(point_dataset))
    monkeypatch.setattr(tr.distribution, "make_env", lambda task: pytest.fail("training stepped an env"))
    sampled = []
    sample = tr.sample_step
    monkeypatch.setattr(tr, "sample_step", lambda rng: sampled.append(sample(rng)) or sampled[-1])
    seen = _record_policy_inputs(tr)
    before = _params(tr)
    metrics = tr.train_iteration()
    assert len(seen) == len(sampled) == tr.cfg.steps_per_iteration and tr.grad_steps == 3 and tr.env_steps == 0
    n_tasks, obs_dim = len(tr.train_data), tr.obs_dim
    for x, (batch, ids) in zip(seen, sampled, strict=True):
        assert x.shape == (tr.cfg.tasks_per_step * tr.cfg.batch_size, obs_dim + n_tasks)
        torch.testing.assert_close(x[:, :obs_dim], batch.obs.flatten(0, 1), rtol=0, atol=0)
        want = torch.nn.functional.one_hot(ids, n_tasks).float().repeat_interleave(tr.cfg.batch_size, dim=0)
        assert torch.equal(x[:, obs_dim:], want)
    assert not torch.equal(before, _params(tr)) and np.isfinite(metrics["train/value_loss"])


def test_finetuning_zeroes_the_id_changes_the_policy_and_leaves_the_trained_weights_alone(point_dataset):
    tr = MtftTrainer(_cfg(point_dataset))
    tr.train_iteration()
    state = _flat_state(tr.learner.state_dict())
    seen = _record_policy_inputs(tr)
    data = tr.test_data[0]
    batch = data.rows(np.arange(8))
    from nacre.algos.macaw.adapter import stack_rows

    tuned = tr.learner.finetune(stack_rows([batch], "cpu"), [0, 1, 20])
    assert seen and all(not x[..., tr.obs_dim :].any() for x in seen)  # zero id while tuning
    trained = dict(tr.learner.policy.named_parameters())
    assert all(torch.equal(v, trained[k]) for k, v in tuned[0].items())
    assert all(not torch.equal(tuned[20][k], trained[k]) for k in trained)
    assert any(not torch.equal(tuned[20][k], tuned[1][k]) for k in trained)
    seen.clear()
    tr.evaluate(num_runs=1, steps=[0, 20], rng=np.random.default_rng(0))
    assert seen and all(not x[..., tr.obs_dim :].any() for x in seen)  # zero id while acting
    after = _flat_state(tr.learner.state_dict())
    assert after.keys() == state.keys() and all(torch.equal(after[k], v) for k, v in state.items())


def test_evaluation_shapes_and_it_leaves_training_alone(point_dataset):
    tr = MtftTrainer(_cfg(point_dataset))
    tr.train_iteration()
    buffer = json.dumps(tr.seeds.get_state()["buffer"])
    result = tr.evaluate(num_runs=2, steps=[0, 1, 3], rng=np.random.default_rng(0))
    assert result.returns.shape == (2, 3, 3) and result.steps.tolist() == [0, 1, 3]
    assert (result.lengths == 20).all() and result.num_transitions == tr.cfg.eval_transitions
    assert json.dumps(tr.seeds.get_state()["buffer"]) == buffer
    again = tr.evaluate(num_runs=2, steps=[0, 1, 3], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(result.returns, again.returns)
    assert not np.allclose(result.returns[:, :, 0], result.returns[:, :, 2])
    # the adapter yields its policies in the order asked for
    from nacre.algos.mtft.adapter import MtftOfflineAdapter

    rows = [d.rows(np.arange(8)) for d in tr.test_data]
    obs, idx = np.random.default_rng(1).uniform(-1, 1, (6, tr.obs_dim)), np.array([0, 1, 2, 2, 1, 0])
    acts = lambda steps: [pi(obs, idx) for pi in MtftOfflineAdapter(tr.learner).adapted_policies(rows, steps)]
    ordered, shuffled = acts([0, 1, 3]), acts([3, 0, 1])
    for a, b in zip(shuffled, [ordered[2], ordered[0], ordered[1]], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ordered[0], ordered[2]) and (np.abs(ordered[2]) <= 1).all()
    metrics = tr.eval_metrics(result)
    assert metrics["returns/test"] == pytest.approx(result.returns[:, :, 2].mean())
    assert metrics["returns/test_prior_only"] == pytest.approx(result.returns[:, :, 0].mean())
    default = tr.evaluate(num_runs=1, rng=np.random.default_rng(0))
    assert default.steps.tolist() == [0, 20]


def test_same_seed_identical_other_seed_different_and_no_global_rng(point_dataset):
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed + 123)
        np.random.seed(seed + 7)
        global_before = torch.get_rng_state(), np.random.get_state()[1].copy()
        tr = MtftTrainer(_cfg(point_dataset, seed=seed))
        tr.train_iteration()
        tr.evaluate(num_runs=1, steps=[0, 2])
        assert torch.equal(global_before[0], torch.get_rng_state())
        assert np.array_equal(global_before[1], np.random.get_state()[1])
        runs.append(_params(tr))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_resume_equals_never_stopping(point_dataset, tmp_path):
    straight = MtftTrainer(_cfg(point_dataset, num_iterations=4))
    train(straight, tmp_path / "a", tensorboard=False)
    stopped = MtftTrainer(_cfg(point_dataset, num_iterations=4))
    train(stopped, tmp_path / "b", stop_after=2, tensorboard=False)
    resumed = load_trainer(tmp_path / "b")
    assert isinstance(resumed, MtftTrainer) and resumed.iteration == 2
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)
    assert torch.equal(_params(straight), _params(resumed))
    for k, v in _flat_state(straight.learner.state_dict()["optimizers"]).items():
        assert torch.equal(v, _flat_state(resumed.learner.state_dict()["optimizers"])[k]), k
    rows = [json.loads(line) for line in (tmp_path / "b" / "progress.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]


def test_resume_refuses_changed_data(point_dataset, tmp_path):
    import shutil

    from tests.conftest import make_point_robot_dataset

    data = shutil.copytree(point_dataset, tmp_path / "data")
    tr = MtftTrainer(_cfg(data, num_iterations=2))
    train(tr, tmp_path / "run", stop_after=1, tensorboard=False)
    shutil.rmtree(data)
    make_point_robot_dataset(data, seed=0, episodes=17)  # same tasks and split, different transitions
    with pytest.raises((CheckpointError, DatasetError), match="dataset"):
        load_trainer(tmp_path / "run")


def test_cli_train_eval_resume(point_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "train",
        "mt-finetune",
        "point-robot",
        "--preset",
        "tiny",
        "--dataset",
        str(point_dataset),
        "--run-dir",
        str(run),
        "--no-progress",
        "--no-tensorboard",
        "--finetune-policy-lr",
        "0.002",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "offline adaptation on 3 held-out tasks" in out
    assert json.loads((run / "config.json").read_text())["algorithm"] == "mt-finetune"
    assert (run / "checkpoints").is_dir() and (run / "progress.csv").is_file()
    assert main(["eval", str(run), "--steps", "3", "--transitions", "8", "--runs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "8 transitions" in out and len([ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]) == 4
    summary = json.loads(sorted((run / "eval").glob("*_test.json"))[-1].read_text())
    assert summary["adaptation_steps"] == [0, 1, 2, 3] and summary["num_transitions"] == 8
    assert load_trainer(run).cfg.finetune_policy_lr == 0.002
    assert main(["train", "--resume", str(run), "--num-iterations", "3", "--no-progress", "--no-tensorboard"]) == 0
    assert load_trainer(run).iteration == 3
    assert (
        main(
            [
                "train",
                "mt-finetune",
                "point-robot",
                "--preset",
                "tiny",
                "--dataset",
                str(point_dataset),
                "--run-dir",
                str(tmp_path / "r2"),
                "--inner-steps",
                "2",
            ]
        )
        == 2
    )
    assert "not a MT+FT setting" in capsys.readouterr().err
