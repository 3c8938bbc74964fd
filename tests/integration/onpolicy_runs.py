"""What the end-to-end tests of the on-policy methods share (``test_onpolicy_training.py`` for MAML-TRPO and ProMP,
``test_rl2_maesn_training.py`` for RL2-PPO and MAESN): tiny trainers, and the checks every method passes (seeding,
resume equals never stopping, the CLI from train to plot). A test adds its method's own assertions to what these
return."""

import json

import numpy as np
import torch

from nacre.algos.maesn import MaesnConfig, MaesnTrainer
from nacre.algos.maesn import preset as maesn_preset
from nacre.algos.maml_trpo import MamlTrpoConfig, MamlTrpoTrainer
from nacre.algos.maml_trpo import preset as maml_preset
from nacre.algos.promp import PrompConfig, PrompTrainer
from nacre.algos.promp import preset as promp_preset
from nacre.algos.rl2 import Rl2Config, Rl2Trainer
from nacre.algos.rl2 import preset as rl2_preset
from nacre.cli import main
from nacre.training.loop import algorithm_classes, load_trainer, train

#: algorithm -> (config class, trainer class, preset function)
METHODS = {
    "maml-trpo": (MamlTrpoConfig, MamlTrpoTrainer, maml_preset),
    "promp": (PrompConfig, PrompTrainer, promp_preset),
    "rl2-ppo": (Rl2Config, Rl2Trainer, rl2_preset),
    "maesn": (MaesnConfig, MaesnTrainer, maesn_preset),
}


def tiny_trainer(algorithm, env="point-robot", **kw):
    """A trainer of ``algorithm``'s ``tiny`` preset on ``env`` with the settings ``kw``."""
    _, trainer_cls, preset = METHODS[algorithm]
    return trainer_cls(preset("tiny", env, **kw))


def policy_params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.learner.policy.parameters()])


def log_rows(run_dir):
    return [json.loads(r) for r in (run_dir / "progress.jsonl").read_text().splitlines()]


def check_registered(algorithm):
    config_cls, trainer_cls, _ = METHODS[algorithm]
    assert algorithm_classes(algorithm) == (config_cls, trainer_cls)


def check_same_seed_identical_other_seed_different_and_global_rngs_untouched(algorithm):
    """Seeds 0, 0, 1: one iteration and an evaluation each; the two seed-0 runs agree, seed 1 differs, and neither
    training nor evaluation draws from numpy's or torch's global generator."""
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    runs = []
    for seed in (0, 0, 1):
        tr = tiny_trainer(algorithm, seed=seed)
        metrics = tr.train_iteration()
        runs.append((policy_params(tr), metrics["returns/train_post"], tr.evaluate().returns))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert not torch.equal(runs[0][0], runs[2][0])
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def resumed_and_straight(tmp_path, algorithm, **kw):
    """``(straight, resumed)``: a tiny run with the settings ``kw`` (``num_iterations=4``) trained straight in
    ``tmp_path / "a"``, and one stopped after 3 iterations and resumed in ``tmp_path / "b"``; checks that they end
    with the same policy and counters."""
    straight = tiny_trainer(algorithm, **kw)
    train(straight, tmp_path / "a", tensorboard=False)
    first = tiny_trainer(algorithm, **kw)
    train(first, tmp_path / "b", stop_after=3, tensorboard=False)
    resumed = load_trainer(tmp_path / "b")
    assert resumed.iteration == 3
    train(resumed, tmp_path / "b", resumed=True, tensorboard=False)
    assert torch.equal(policy_params(straight), policy_params(resumed))
    assert (straight.env_steps, straight.grad_steps) == (resumed.env_steps, resumed.grad_steps)
    return straight, resumed


def cli_train_resume_eval_plot(tmp_path, capsys, algorithm, eval_args=()):
    """``nacre train`` (1 iteration of tiny on the point robot), ``train --resume`` (to 2), ``nacre eval --steps 2
    --runs 2 *eval_args`` and ``nacre plot`` on one run directory; checks what every method writes and returns the
    run directory (its final and test evaluation in ``eval/adaptation_iter000002_{final,test}.npz``)."""
    run = tmp_path / "run"
    assert main(["train", algorithm, "point-robot", "--preset", "tiny", "--run-dir", str(run), "--no-progress",
                 "--no-tensorboard", "--iterations", "1"]) == 0  # fmt: skip
    assert json.loads((run / "config.json").read_text())["algorithm"] == algorithm
    assert main(["train", "--resume", str(run), "--no-progress", "--no-tensorboard"]) == 0
    assert load_trainer(run).iteration == 2
    with np.load(run / "eval" / "adaptation_iter000002_final.npz") as data:
        assert data["returns"].ndim == 3
    capsys.readouterr()
    assert main(["eval", str(run), "--steps", "2", "--runs", "2", *eval_args, "--no-progress"]) == 0
    assert "adaptation" in capsys.readouterr().out
    with np.load(run / "eval" / "adaptation_iter000002_test.npz") as data:
        assert data["returns"].shape == (2, 2, 3) and data["steps"].tolist() == [0, 1, 2]
    assert main(["plot", str(run), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0
    return run
