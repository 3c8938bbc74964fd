"""RL2-PPO and MAESN runs end to end: seeding, resume equals never stopping, the evaluation arrays, the CLI
(train, resume, eval, plot); learning on the point robot (slow)."""

import json

import numpy as np
import pytest
import torch

from nacre.algos.maesn import MaesnConfig, MaesnTrainer
from nacre.algos.maesn import preset as maesn_preset
from nacre.algos.rl2 import Rl2Config, Rl2Trainer
from nacre.algos.rl2 import preset as rl2_preset
from nacre.cli import main
from nacre.training.loop import algorithm_classes, load_trainer, train

METHODS = {"rl2-ppo": (Rl2Trainer, rl2_preset), "maesn": (MaesnTrainer, maesn_preset)}
RESUME_KW = {"rl2-ppo": dict(num_iterations=4, eval_every=2, checkpoint_every=1, minibatch_trials=1),
             "maesn": dict(num_iterations=4, eval_every=2, checkpoint_every=1, eval_steps=2)}


def _trainer(algorithm, **kw):
    trainer_cls, preset = METHODS[algorithm]
    return trainer_cls(preset("tiny", "point-robot", **kw))


def _params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.learner.policy.parameters()])


def test_registered_in_the_loop():
    assert algorithm_classes("rl2-ppo") == (Rl2Config, Rl2Trainer)
    assert algorithm_classes("maesn") == (MaesnConfig, MaesnTrainer)


@pytest.mark.parametrize("algorithm", list(METHODS))
def test_same_seed_identical_other_seed_different_and_global_rngs_untouched(algorithm):
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    runs = []
    for seed in (0, 0, 1):
        tr = _trainer(algorithm, seed=seed)
        metrics = tr.train_iteration()
        runs.append((_params(tr), metrics["returns/train_post"], tr.evaluate().returns))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert not torch.equal(runs[0][0], runs[2][0])
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


@pytest.mark.parametrize("algorithm", list(METHODS))
def test_resume_equals_never_stopping(tmp_path, algorithm):
    kw = RESUME_KW[algorithm]
    straight = _trainer(algorithm, **kw)
    train(straight, tmp_path / "a", tensorboard=False)
    first = _trainer(algorithm, **kw)
    train(first, tmp_path / "b", stop_after=3, tensorboard=False)
    resumed = load_trainer(tmp_path / "b")
    assert resumed.iteration == 3
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)
    assert torch.equal(_params(straight), _params(resumed))
    assert (straight.env_steps, straight.grad_steps) == (resumed.env_steps, resumed.grad_steps)
    if algorithm == "rl2-ppo":
        opt_a, opt_b = straight.learner.optimizer.state_dict(), resumed.learner.optimizer.state_dict()
        for key in opt_a["state"]:
            assert torch.equal(opt_a["state"][key]["exp_avg_sq"], opt_b["state"][key]["exp_avg_sq"])
    else:
        for (name, a), (_, b) in zip(straight.learner.named_parameters(), resumed.learner.named_parameters(),
                                     strict=True):  # fmt: skip
            assert torch.equal(a, b), name  # latents and step sizes too
    rows = lambda d: [json.loads(r) for r in (d / "progress.jsonl").read_text().splitlines()]
    last_a, last_b = rows(tmp_path / "a")[-1], rows(tmp_path / "b")[-1]
    assert last_a["returns/test"] == last_b["returns/test"]


def test_rl2_evaluation_reports_each_episode_of_a_trial():
    tr = _trainer("rl2-ppo", eval_episodes=3)
    result = tr.evaluate(num_runs=2)
    assert result.returns.shape == (2, 2, 3) and result.steps.tolist() == [0, 1, 2]
    assert result.rollouts == 1 and (result.lengths == 10).all()
    picked = tr.evaluate(num_runs=2, steps=[0, 4], rng=np.random.default_rng(0))
    assert picked.returns.shape == (2, 2, 2) and picked.steps.tolist() == [0, 4]


@pytest.mark.parametrize("algorithm", list(METHODS))
def test_cli_train_resume_eval_plot(tmp_path, capsys, algorithm):
    run = tmp_path / "run"
    assert main(["train", algorithm, "point-robot", "--preset", "tiny", "--run-dir", str(run), "--no-progress",
                 "--no-tensorboard", "--iterations", "1"]) == 0  # fmt: skip
    assert json.loads((run / "config.json").read_text())["algorithm"] == algorithm
    assert main(["train", "--resume", str(run), "--no-progress", "--no-tensorboard"]) == 0
    assert load_trainer(run).iteration == 2
    with np.load(run / "eval" / "adaptation_iter000002_final.npz") as data:
        assert data["returns"].ndim == 3
    assert main(["eval", str(run), "--steps", "2", "--runs", "2", "--no-progress"]) == 0
    assert "adaptation" in capsys.readouterr().out
    with np.load(run / "eval" / "adaptation_iter000002_test.npz") as data:
        assert data["returns"].shape == (2, 2, 3) and data["steps"].tolist() == [0, 1, 2]
    assert main(["plot", str(run), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--bootstrap-reps", "50"]) == 0
    report = (tmp_path / "rep" / "report.md").read_text()
    if algorithm == "rl2-ppo":  # scored on the last episode of a meta-trained trial, labelled as such
        assert "episode 2 of the trial" in report


# ---------------------------------------------------------------- learning (slow)


@pytest.mark.slow
def test_rl2_learns_on_the_point_robot():
    tr = Rl2Trainer(rl2_preset("fast", "point-robot", num_iterations=40, meta_batch=20, trials_per_task=2))
    before = tr.evaluate(num_runs=4, rng=np.random.default_rng(0)).returns
    for _ in range(tr.cfg.num_iterations):
        tr.train_iteration()
    after = tr.evaluate(num_runs=4, rng=np.random.default_rng(0)).returns
    diff = (after - before).mean(axis=-1).reshape(-1)
    assert diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff)), diff


@pytest.mark.slow
def test_maesn_learns_on_the_point_robot():
    tr = MaesnTrainer(maesn_preset("fast", "point-robot", num_iterations=30, eval_steps=2))
    before = tr.evaluate(num_runs=2, rng=np.random.default_rng(0)).returns
    for _ in range(tr.cfg.num_iterations):
        tr.train_iteration()
    after = tr.evaluate(num_runs=2, rng=np.random.default_rng(0)).returns
    diff = (after[:, :, -1] - before[:, :, -1]).reshape(-1)
    assert diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff)), diff  # meta-training improved the adapted return
