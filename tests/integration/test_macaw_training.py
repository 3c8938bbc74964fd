"""MACAW runs end to end on a small offline point-robot dataset: training, evaluation, resume, CLI."""

import json

import numpy as np
import pytest
import torch

from nacre.algos.macaw import preset
from nacre.algos.macaw.trainer import MacawTrainer
from nacre.cli import main
from nacre.datasets import DatasetError
from nacre.training.checkpoint import CheckpointError
from nacre.training.loop import load_trainer, train


def _cfg(dataset, **kw):
    return preset("tiny", "point-robot", dataset=str(dataset), **kw)


def _params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.learner.params.parameters()])


def test_split_and_data_come_from_the_manifest(point_dataset):
    tr = MacawTrainer(_cfg(point_dataset))
    manifest = json.loads((point_dataset / "manifest.json").read_text())
    assert [d.task_index for d in tr.train_data] == manifest["splits"]["train"]
    assert [d.task_index for d in tr.test_data] == manifest["splits"]["test"]
    assert list(tr.split.test) == [manifest["tasks"][i] for i in manifest["splits"]["test"]]
    assert tr.env_steps == 0


def test_training_moves_every_meta_parameter_and_never_steps_an_env(point_dataset, monkeypatch):
    tr = MacawTrainer(_cfg(point_dataset))
    before = {k: v.detach().clone() for k, v in tr.learner.params.named_parameters() if v.requires_grad}
    monkeypatch.setattr(tr.distribution, "make_env", lambda task: pytest.fail("training stepped an env"))
    metrics = tr.train_iteration()
    after = dict(tr.learner.params.named_parameters())
    unchanged = [k for k, v in before.items() if torch.equal(v, after[k])]
    # with one inner step the advantage head's own inner rates get no meta-gradient (docs/macaw.md)
    assert unchanged and all(k.startswith("policy_lr_raw.adv") for k in unchanged), unchanged
    assert np.isfinite(metrics["outer/value_loss"]) and tr.grad_steps == tr.cfg.steps_per_iteration


def test_same_seed_identical_other_seed_different(point_dataset):
    runs = []
    for seed in (0, 0, 1):
        tr = MacawTrainer(_cfg(point_dataset, seed=seed))
        tr.train_iteration()
        runs.append(_params(tr))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_evaluation_shapes_and_it_leaves_training_alone(point_dataset):
    tr = MacawTrainer(_cfg(point_dataset))
    state = json.dumps(tr.seeds.get_state()["buffer"])
    result = tr.evaluate(num_runs=2, steps=[0, 1, 3], rng=np.random.default_rng(0))
    assert result.returns.shape == (2, 3, 3) and result.steps.tolist() == [0, 1, 3]
    assert (result.lengths == 20).all() and result.num_transitions == tr.cfg.eval_transitions
    assert json.dumps(tr.seeds.get_state()["buffer"]) == state
    again = tr.evaluate(num_runs=2, steps=[0, 1, 3], rng=np.random.default_rng(0))
    np.testing.assert_array_equal(result.returns, again.returns)
    # more adaptation steps change the policy (the columns differ), zero steps is the meta-policy
    assert not np.allclose(result.returns[:, :, 0], result.returns[:, :, 2])
    metrics = tr.eval_metrics(result)
    assert metrics["returns/test"] == pytest.approx(result.returns[:, :, 2].mean())
    assert metrics["returns/test_prior_only"] == pytest.approx(result.returns[:, :, 0].mean())


def test_resume_equals_never_stopping(point_dataset, tmp_path):
    straight = MacawTrainer(_cfg(point_dataset, num_iterations=4))
    train(straight, tmp_path / "a", tensorboard=False)
    stopped = MacawTrainer(_cfg(point_dataset, num_iterations=4))
    train(stopped, tmp_path / "b", stop_after=2, tensorboard=False)
    resumed = load_trainer(tmp_path / "b")
    assert resumed.iteration == 2
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)
    assert torch.equal(_params(straight), _params(resumed))
    rows = [json.loads(line) for line in (tmp_path / "b" / "progress.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]


def test_resume_refuses_changed_data(point_dataset, tmp_path):
    import shutil

    from tests.conftest import make_point_robot_dataset

    data = shutil.copytree(point_dataset, tmp_path / "data")
    tr = MacawTrainer(_cfg(data, num_iterations=2))
    train(tr, tmp_path / "run", stop_after=1, tensorboard=False)
    shutil.rmtree(data)
    make_point_robot_dataset(data, seed=0, episodes=17)  # same tasks and split, different transitions
    with pytest.raises((CheckpointError, DatasetError), match="dataset"):
        load_trainer(tmp_path / "run")


def test_wrong_distribution_for_the_dataset(point_dataset):
    with pytest.raises(DatasetError, match="holds .point-robot-v1. data, not .sparse-point-robot-v1."):
        MacawTrainer(preset("tiny", "sparse-point-robot", dataset=str(point_dataset)))


def test_cli_train_eval_resume(point_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "train",
        "macaw",
        "point-robot",
        "--preset",
        "tiny",
        "--dataset",
        str(point_dataset),
        "--run-dir",
        str(run),
        "--no-progress",
        "--no-tensorboard",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "offline adaptation on 3 held-out tasks" in out
    assert (run / "checkpoints").is_dir() and (run / "progress.csv").is_file()
    assert main(["eval", str(run), "--steps", "2", "--transitions", "8", "--runs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "8 transitions" in out and len([ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]) == 3
    saved = sorted((run / "eval").glob("*_test.json"))
    summary = json.loads(saved[-1].read_text())
    assert summary["adaptation_steps"] == [0, 1, 2] and summary["num_transitions"] == 8
    assert main(["eval", str(run), "--trajectories", "3"]) == 2
    assert "--trajectories is for PEARL" in capsys.readouterr().err
    assert main(["eval", str(run), "--steps", "3", "--test-time-guard", "false", "--no-progress"]) == 0
    unguarded = json.loads(sorted((run / "eval").glob("*_test.json"))[-1].read_text())
    assert unguarded["adaptation_steps"] == [0, 1, 2, 3]
    assert main(["train", "--resume", str(run), "--num-iterations", "3", "--no-progress", "--no-tensorboard"]) == 0
    assert load_trainer(run).iteration == 3
    assert main(["video", str(run)]) == 2
    assert "macaw runs are not supported" in capsys.readouterr().err
    png = tmp_path / "curves.png"
    assert main(["plot", str(run), "--out", str(png)]) == 0 and png.stat().st_size > 10_000


def test_a_fixed_task_set_uses_its_own_split_on_data_of_the_same_tasks(tmp_path):
    from nacre.datasets import init_dataset_root, write_task_dataset
    from nacre.datasets.splits import dataset_split
    from nacre.envs.base import task_to_json
    from nacre.envs.registry import make_distribution

    ood = make_distribution("macaw-cheetah-vel-ood")
    tasks = [task_to_json(t) for t in ood.fixed_tasks()]
    init_dataset_root(tmp_path, distribution_id="macaw-cheetah-vel-v1", tasks=tasks,
                      splits={"train": [i for i in range(40) if i not in (2, 7, 15, 23, 26)],
                              "test": [2, 7, 15, 23, 26]}, config={})  # fmt: skip
    with pytest.raises(DatasetError, match="incomplete"):
        dataset_split(tmp_path, ood)
    probe = make_distribution("point-robot")
    env = probe.make_env(probe.split(0, 1, 1).train[0])
    from nacre.vector_rollout import rollout_batch

    traj = rollout_batch([env], lambda o, i: np.zeros((len(o), 2)), np.random.default_rng(0), 3)[0]
    for i in range(40):  # stand-in episodes: only the split logic is under test here
        write_task_dataset(tmp_path, i, [traj], [0], env.observation_space, env.action_space)
    got = dataset_split(tmp_path, ood)
    assert got.train_indices == tuple(range(26)) and got.test_indices == tuple(range(26, 40))
    assert dataset_split(tmp_path, make_distribution("macaw-cheetah-vel")).test_indices == (2, 7, 15, 23, 26)
    with pytest.raises(DatasetError, match="not the same fixed task set"):
        dataset_split(tmp_path, make_distribution("macaw-cheetah-dir"))


def test_a_diverging_adaptation_is_recorded_and_never_reaches_the_env(point_dataset):
    from nacre.evaluation.offline_adaptation import offline_adaptation_curves

    class Exploding:
        def adapted_policies(self, data, steps):
            for n in steps:
                value = 0.0 if n == 0 else np.nan
                yield lambda obs, idx, v=value: np.full((len(obs), 2), v)

    tr = MacawTrainer(_cfg(point_dataset))
    seen = []

    def make_env(task):
        env = tr.distribution.make_env(task)
        step = env.step
        env.step = lambda a: seen.append(np.isfinite(a).all()) or step(a)
        return env

    result = offline_adaptation_curves(
        Exploding(), tr.test_data, tr.split.test, make_env, 2, 8, [0, 1], 20, np.random.default_rng(0)
    )
    assert all(seen) and len(seen) == 2 * 3 * 2 * 20
    assert not result.diverged[:, :, 0].any() and result.diverged[:, :, 1].all()
    assert np.isfinite(result.returns[:, :, 0]).all() and np.isnan(result.returns[:, :, 1]).all()
    metrics = tr.eval_metrics(result)
    assert metrics["returns/test_diverged_steps_1"] == 1.0 and np.isfinite(metrics["returns/test_steps_0"])
