"""On-policy runs end to end: registration and seeding for all four methods; for MAML-TRPO and ProMP also resume
equals never stopping, complete checkpoints, the evaluation arrays, the CLI (train, resume, eval, plot) and learning
on the point robot (slow). RL2-PPO and MAESN have the rest in test_rl2_maesn_training.py."""

import json

import numpy as np
import pytest
import torch

from nacre.algos.maml_trpo import MamlTrpoTrainer
from nacre.algos.maml_trpo import preset as maml_preset
from nacre.cli import main
from nacre.training.checkpoint import list_checkpoints, load_checkpoint
from nacre.training.loop import train
from tests.integration.onpolicy_runs import METHODS as ALL_METHODS
from tests.integration.onpolicy_runs import (
    check_registered,
    check_same_seed_identical_other_seed_different_and_global_rngs_untouched,
    cli_train_resume_eval_plot,
    log_rows,
    policy_params,
    resumed_and_straight,
    tiny_trainer,
)

METHODS = ("maml-trpo", "promp")


@pytest.mark.parametrize("algorithm", ALL_METHODS)
def test_registered_in_the_loop(algorithm):
    check_registered(algorithm)


@pytest.mark.parametrize("algorithm", ALL_METHODS)
def test_same_seed_identical_other_seed_different_and_global_rngs_untouched(algorithm):
    check_same_seed_identical_other_seed_different_and_global_rngs_untouched(algorithm)


@pytest.mark.parametrize("algorithm", METHODS)
def test_training_and_evaluation_leave_global_rngs_alone_and_evaluation_does_not_change_training(algorithm):
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    plain, evaluated = tiny_trainer(algorithm), tiny_trainer(algorithm)
    plain.train_iteration()
    evaluated.train_iteration()
    evaluated.evaluate(num_runs=2, steps=[0, 1, 2])
    plain.train_iteration()
    evaluated.train_iteration()
    assert torch.equal(policy_params(plain), policy_params(evaluated))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


@pytest.mark.parametrize("algorithm", METHODS)
def test_resume_equals_never_stopping(tmp_path, algorithm):
    kw = dict(num_iterations=4, inner_steps=2, eval_every=2, checkpoint_every=1)
    if algorithm == "promp":
        kw["adaptive_inner_kl_penalty"] = True  # the penalties are state too
    straight, resumed = resumed_and_straight(tmp_path, algorithm, **kw)
    if algorithm == "promp":
        a = straight.learner.optimizer.state_dict()["state"][0]["exp_avg"]
        assert torch.equal(a, resumed.learner.optimizer.state_dict()["state"][0]["exp_avg"])
        assert straight.learner.kl_penalties == resumed.learner.kl_penalties
    strip = lambda rows: [{k: v for k, v in row.items() if not k.startswith("time/") or k == "time/env_steps"}
                          for row in rows]  # fmt: skip
    log_a, log_b = strip(log_rows(tmp_path / "a")), strip(log_rows(tmp_path / "b"))
    assert log_a == log_b and len(log_a) == 4 and "returns/test_steps_1" in log_a[1]


@pytest.mark.parametrize("algorithm", METHODS)
def test_checkpoint_is_complete(tmp_path, algorithm):
    tr = tiny_trainer(algorithm, num_iterations=1)
    train(tr, tmp_path / "run", tensorboard=False)
    ((it, path),) = list_checkpoints(tmp_path / "run" / "checkpoints")
    state = load_checkpoint(path)
    assert it == 1 and state["counters"]["iteration"] == 1 and state["counters"]["env_steps"] == tr.env_steps
    assert state["algorithm"] == algorithm and state["config"] == tr.cfg.to_dict()
    assert set(state["learner"]["policy"]) == {"w0", "b0", "w1", "b1", "log_std"}
    assert set(state["rng"]) >= {"collect", "eval", "torch_init"}
    if algorithm == "promp":
        assert state["learner"]["optimizer"]["state"] and state["learner"]["kl_penalties"] == [tr.cfg.inner_kl_penalty]


def test_stored_tasks_are_used_instead_of_a_new_split():
    from nacre.config import ConfigError
    from nacre.envs.base import TaskSplit

    split = TaskSplit(train=tuple({"goal": [0.1 * i, 0.0]} for i in range(4)),
                      test=({"goal": [0.5, 0.5]}, {"goal": [-0.5, 0.5]}))  # fmt: skip
    cfg = maml_preset("tiny", "point-robot")
    assert MamlTrpoTrainer(cfg, tasks=split).split == split
    with pytest.raises(ConfigError, match="n_train_tasks"):
        MamlTrpoTrainer(cfg.replace(n_train_tasks=5), tasks=split)


def test_evaluation_arrays_have_the_shared_layout():
    tr = tiny_trainer("maml-trpo", n_test_tasks=3)
    tr.train_iteration()
    result = tr.evaluate(num_runs=2, steps=[0, 1, 3], num_rollouts=3)
    assert result.returns.shape == result.dense_returns.shape == result.diverged.shape == (2, 3, 3)
    assert result.steps.tolist() == [0, 1, 3] and result.rollouts == 3 and result.num_transitions == 3 * tr.horizon
    assert (result.lengths == tr.horizon).all() and not result.diverged.any()
    assert set(result.to_dict()) >= {"returns", "dense_returns", "success", "lengths", "steps", "diverged",
                                     "num_transitions", "rollouts"}  # fmt: skip
    metrics = tr.eval_metrics(result)
    assert metrics["returns/test"] == pytest.approx(result.returns[:, :, 2].mean())
    assert metrics["returns/test_prior_only"] == pytest.approx(result.returns[:, :, 0].mean())
    # --transitions N asks for ceil(N / horizon) rollouts per adaptation step
    assert tr.evaluate(num_transitions=2 * tr.horizon + 1, steps=[0]).rollouts == 3


def test_sparse_rewards_reach_the_inner_step_and_the_reported_returns():
    tr = tiny_trainer("promp", num_iterations=1)
    sparse = tiny_trainer("promp", "sparse-point-robot")
    assert sparse.cfg.sparse_rewards and sparse.adapter().sparse_rewards
    sparse.train_iteration()
    result = sparse.evaluate()
    assert (result.returns >= 0).all() and (result.dense_returns < 0).all()  # sparse in [0, 1], dense negative
    assert "success/test_steps_1" in sparse.eval_metrics(result) and not tr.cfg.sparse_rewards


@pytest.mark.parametrize("algorithm", METHODS)
def test_cli_train_resume_eval_plot(tmp_path, capsys, algorithm):
    run = cli_train_resume_eval_plot(tmp_path, capsys, algorithm, eval_args=["--transitions", "25"])
    with np.load(run / "eval" / "adaptation_iter000002_final.npz") as data:
        assert data["returns"].shape == (1, 2, 2) and data["steps"].tolist() == [0, 1]
    with np.load(run / "eval" / "adaptation_iter000002_test.npz") as data:
        assert int(data["rollouts"]) == 3  # --transitions 25: ceil(25 / horizon 10) rollouts per step
    summary = json.loads((run / "eval" / "adaptation_iter000002_test.json").read_text())
    assert summary["adaptation_steps"] == [0, 1, 2]
    rows = log_rows(run)
    assert len(rows) == 2 and all(r["time/env_steps_per_second"] > 0 for r in rows)


def test_plot_puts_pearl_and_on_policy_runs_on_one_figure(tmp_path, monkeypatch):
    import matplotlib.axes

    from nacre.algos.pearl import PearlTrainer
    from nacre.algos.pearl import preset as pearl_preset
    from nacre.evaluation.plots import plot_runs

    runs = {"pearl": PearlTrainer(pearl_preset("tiny", "point-robot", num_iterations=1)),
            "maml": tiny_trainer("maml-trpo", num_iterations=1),
            "promp": tiny_trainer("promp", num_iterations=1)}  # fmt: skip
    for name, tr in runs.items():
        train(tr, tmp_path / name, tensorboard=False)
    labels = []
    set_labels = matplotlib.axes.Axes.set
    monkeypatch.setattr(matplotlib.axes.Axes, "set", lambda ax, **kw: labels.append(kw.get("xlabel")) or
                        set_labels(ax, **kw))  # fmt: skip
    plot_runs([tmp_path / n for n in runs], tmp_path / "all.png", labels=["PEARL", "MAML-TRPO", "ProMP"])
    assert (tmp_path / "all.png").stat().st_size > 0
    assert labels[:3] == ["meta-training env steps", "trajectory k (after k-1 of context)",
                          "test-time adaptation steps"]  # fmt: skip


def test_report_draws_on_policy_runs_against_env_steps(tmp_path):
    import csv

    dirs = []
    for seed in (0, 1):
        tr = tiny_trainer("promp", seed=seed)
        train(tr, tmp_path / f"s{seed}", tensorboard=False)
        dirs.append(str(tmp_path / f"s{seed}"))
    out = tmp_path / "report"
    assert main(["report", *dirs, "--out", str(out), "--bootstrap-reps", "200"]) == 0
    assert (out / "point-robot-v1_onpolicy_curves.png").is_file()
    rows = [r for r in csv.DictReader((out / "curves.csv").open()) if r["curve"] == "learning_return"]
    assert sorted({float(r["x"]) for r in rows}) == [float(tr.env_steps // 2), float(tr.env_steps)]


def test_cli_rejects_another_methods_flags():
    assert main(["train", "maml-trpo", "point-robot", "--preset", "tiny", "--clip-eps", "0.2",
                 "--no-progress"]) == 2  # fmt: skip


# ---------------------------------------------------------------- learning (slow)


def _paired(result_a, result_b):
    """Mean and standard error of a - b over (run, task) pairs."""
    diff = (result_a - result_b).reshape(-1)
    return diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", METHODS)
def test_learns_to_adapt_on_the_point_robot(algorithm):
    _, trainer_cls, preset = ALL_METHODS[algorithm]
    tr = trainer_cls(preset("fast", "point-robot", num_iterations=15))
    before = tr.evaluate(num_runs=2, num_rollouts=20, rng=np.random.default_rng(0)).returns
    for _ in range(tr.cfg.num_iterations):
        tr.train_iteration()
    after = tr.evaluate(num_runs=2, num_rollouts=20, rng=np.random.default_rng(0)).returns
    gain, gain_se = _paired(after[:, :, 1], after[:, :, 0])
    assert gain > gain_se, (gain, gain_se)  # one adaptation step helps on held-out goals
    learned, learned_se = _paired(after[:, :, 1], before[:, :, 1])
    assert learned > learned_se, (learned, learned_se)  # and meta-training improved the adapted return
