"""RL2-PPO and MAESN runs end to end (their registration and seeding are tested in test_onpolicy_training.py):
resume equals never stopping, the evaluation arrays, the CLI (train, resume, eval, plot); learning on the point
robot (slow)."""

import numpy as np
import pytest
import torch

from nacre.algos.maesn import MaesnTrainer
from nacre.algos.maesn import preset as maesn_preset
from nacre.algos.rl2 import Rl2Trainer
from nacre.algos.rl2 import preset as rl2_preset
from nacre.algos.rl2.adapter import rl2_meta_test
from nacre.cli import main
from tests.integration.onpolicy_runs import (
    cli_train_resume_eval_plot,
    log_rows,
    resumed_and_straight,
    tiny_trainer,
)

METHODS = ("rl2-ppo", "maesn")
RESUME_KW = {
    "rl2-ppo": dict(num_iterations=4, eval_every=2, checkpoint_every=1, minibatch_trials=1),
    "maesn": dict(num_iterations=4, eval_every=2, checkpoint_every=1, eval_steps=2),
}


@pytest.mark.parametrize("algorithm", METHODS)
def test_resume_equals_never_stopping(tmp_path, algorithm):
    straight, resumed = resumed_and_straight(tmp_path, algorithm, **RESUME_KW[algorithm])
    if algorithm == "rl2-ppo":
        opt_a, opt_b = straight.learner.optimizer.state_dict(), resumed.learner.optimizer.state_dict()
        for key in opt_a["state"]:
            assert torch.equal(opt_a["state"][key]["exp_avg_sq"], opt_b["state"][key]["exp_avg_sq"])
    else:
        for (name, a), (_, b) in zip(straight.learner.named_parameters(), resumed.learner.named_parameters(),
                                     strict=True):  # fmt: skip
            assert torch.equal(a, b), name  # latents and step sizes too
    last_a, last_b = log_rows(tmp_path / "a")[-1], log_rows(tmp_path / "b")[-1]
    assert last_a["returns/test"] == last_b["returns/test"]


def test_rl2_evaluation_reports_each_episode_of_a_trial():
    tr = tiny_trainer("rl2-ppo", eval_episodes=3)
    result = tr.evaluate(num_runs=2)
    assert result.returns.shape == (2, 2, 3) and result.steps.tolist() == [0, 1, 2]
    assert result.rollouts == 1 and (result.lengths == 10).all()
    picked = tr.evaluate(num_runs=2, steps=[0, 4], rng=np.random.default_rng(0))
    assert picked.returns.shape == (2, 2, 2) and picked.steps.tolist() == [0, 4]


@pytest.mark.parametrize("algorithm", METHODS)
def test_cli_train_resume_eval_plot(tmp_path, capsys, algorithm):
    run = cli_train_resume_eval_plot(tmp_path, capsys, algorithm)
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
    # adapted beats un-adapted: the same trained policy with its memory wiped before every step (so it acts on the
    # current input only) returns less; measured 2.3 +- 0.4 (standard error) per episode at 40 iterations
    memoryless = rl2_meta_test(tr.learner.policy, tr.split.test, tr.distribution.make_env, 4, tr.cfg.test_episodes,
                               tr.horizon, np.random.default_rng(0), action_scale=tr.cfg.action_scale,
                               memory=False).returns  # fmt: skip
    gain = (after - memoryless).mean(axis=-1).reshape(-1)
    assert gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)), gain


@pytest.mark.slow
def test_maesn_learns_on_the_point_robot():
    tr = MaesnTrainer(maesn_preset("fast", "point-robot", num_iterations=30, eval_steps=2))
    before = tr.evaluate(num_runs=2, rng=np.random.default_rng(0)).returns
    for _ in range(tr.cfg.num_iterations):
        tr.train_iteration()
    after = tr.evaluate(num_runs=2, rng=np.random.default_rng(0)).returns
    diff = (after[:, :, -1] - before[:, :, -1]).reshape(-1)
    assert diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff)), diff  # meta-training improved the adapted return
