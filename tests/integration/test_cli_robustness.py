"""Inputs found by a kill -9 / malformed-input campaign: each gives one line ``nacre: ...`` and loses nothing."""

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields

import pytest
import torch

from nacre.cli import main
from nacre.training.checkpoint import list_checkpoints, load_checkpoint

TINY = ["--preset", "tiny", "--no-progress", "--no-tensorboard"]
GENERATE = [
    "dataset",
    "generate",
    "point-robot",
    "--preset",
    "tiny",
    "--n-train",
    "2",
    "--n-test",
    "1",
    "--no-progress",
]


def _digest(directory):
    return {p.relative_to(directory): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def _one_line(args, capsys, status=2, prefix="nacre: error: "):
    """Run ``nacre args``; assert the exit status and that stderr ends in one ``prefix`` line, no traceback."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    assert code == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(prefix) and len(lines) <= 2, err  # at most the start-up line before it
    return lines[-1]


def _train(run_dir, *extra):
    assert main(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(run_dir), *extra]) == 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """``nacre dataset generate point-robot --out data/pr ...`` run with a relative --out (200 steps per task)."""
    cwd = tmp_path_factory.mktemp("gen")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        assert main([*GENERATE, "--out", "data/pr"]) == 0
    return cwd / "data" / "pr"


@pytest.fixture(scope="module")
def pearl_run(tmp_path_factory):
    rd = tmp_path_factory.mktemp("robust") / "pearl"
    _train(rd)
    return rd


# ---------------------------------------------------------------------- relative paths
def test_dataset_generate_with_a_relative_out(generated, tmp_path, monkeypatch):
    from nacre.datasets import load_task_episodes, verify_dataset

    assert verify_dataset(generated) == []
    monkeypatch.chdir(generated.parent.parent)  # the loaders take the relative root too
    assert verify_dataset("data/pr") == []
    episodes, _, meta = load_task_episodes("data/pr", 0)
    assert sum(len(ep) for ep in episodes) == meta["transitions"] == 200


def test_train_eval_and_plot_with_a_relative_run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", "runs/sp"]) == 0
    assert (tmp_path / "runs" / "sp" / "checkpoints" / "iter_000002.pt").is_file()
    assert main(["eval", "runs/sp", "--runs", "1", "--no-progress"]) == 0
    assert main(["plot", "runs/sp", "--out", "curves.png"]) == 0 and (tmp_path / "curves.png").is_file()


# ---------------------------------------------------------------------- runs without a checkpoint
def test_a_run_killed_before_its_first_checkpoint_resumes_from_iteration_0(tmp_path, capsys):
    rd = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nacre.cli", "train", "pearl", "sparse-point-robot", *TINY, "--num-iterations",
           "1000", "--checkpoint-every", "1000", "--run-dir", str(rd)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ((rd / "progress.jsonl").is_file() and (rd / "progress.jsonl").read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        proc.kill()  # kill -9
        proc.wait()
    assert (rd / "config.json").is_file() and not list_checkpoints(rd / "checkpoints")
    assert "already holds a run" in _one_line(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(rd)],
                                              capsys)  # fmt: skip
    assert main(["train", "--resume", str(rd), "--iterations", "1", "--no-progress", "--no-tensorboard"]) == 0
    assert [it for it, _ in list_checkpoints(rd / "checkpoints")] == [1]
    rows = [json.loads(line) for line in (rd / "progress.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1]  # rows of the killed attempt are replaced


@pytest.mark.parametrize("n", ["0", "-1"])
def test_iterations_below_one_is_refused(n, tmp_path, capsys):
    line = _one_line(["train", "pearl", "sparse-point-robot", *TINY, "--iterations", n, "--run-dir",
                      str(tmp_path / "r")], capsys)  # fmt: skip
    assert f"--iterations must be 1 or more, got {n}" in line
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------- one line instead of a traceback
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch that sees no CUDA GPU")
def test_device_cuda_without_cuda(pearl_run, tmp_path, capsys):
    before = _digest(pearl_run)
    for args in (["train", "pearl", "sparse-point-robot", *TINY, "--device", "cuda", "--run-dir", str(tmp_path / "r")],
                 ["train", "--resume", str(pearl_run), "--device", "cuda", "--no-progress"],
                 ["eval", str(pearl_run), "--device", "cuda", "--no-progress"],
                 [*GENERATE, "--out", str(tmp_path / "d"), "--device", "cuda"]):  # fmt: skip
        assert "device 'cuda' is not available" in _one_line(args, capsys)
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()
    assert _digest(pearl_run) == before


def test_run_dir_that_is_a_file_or_below_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for rd, message in ((afile, "is a file, not a run directory"), (afile / "x", "afile is a file")):
        assert message in _one_line(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(rd)], capsys)
    assert afile.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_run_dir(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = _one_line(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(locked / "r")], capsys)
    finally:
        locked.chmod(0o700)
    assert "is not writable" in line


def test_plot_errors(pearl_run, generated, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "afile").write_text("")
    assert "no such directory" in _one_line(["plot", str(tmp_path / "missing")], capsys)
    assert "not a nacre run directory" in _one_line(["plot", str(empty)], capsys)
    line = _one_line(["plot", str(pearl_run), "--out", str(tmp_path / "afile" / "c.png")], capsys)
    assert "cannot write" in line and "afile is a file" in line
    macaw = tmp_path / "macaw"
    assert main(["train", "macaw", "point-robot", *TINY, "--dataset", str(generated), "--run-dir", str(macaw)]) == 0
    capsys.readouterr()
    line = _one_line(["plot", str(pearl_run), str(macaw), "--out", str(tmp_path / "c.png")], capsys)
    assert "cannot plot online runs" in line and "plot them separately" in line
    assert not (tmp_path / "c.png").exists()


# ---------------------------------------------------------------------- corrupt newest checkpoint
def test_a_corrupt_newest_checkpoint_falls_back_to_the_older_one(tmp_path, capsys):
    rd = tmp_path / "run"
    _train(rd, "--num-iterations", "3", "--iterations", "2")
    capsys.readouterr()
    newest = rd / "checkpoints" / "iter_000002.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # truncated
    truncated = newest.read_bytes()

    assert main(["eval", str(rd), "--runs", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nacre: warning:" in err and str(newest) in err and "iter_000001.pt" in err
    assert newest.read_bytes() == truncated  # eval changes nothing

    assert main(["train", "--resume", str(rd), "--no-progress", "--no-tensorboard"]) == 0
    err = capsys.readouterr().err
    assert "nacre: warning:" in err and str(newest) in err and "starting at 1" in err
    assert (rd / "checkpoints" / "iter_000002.pt.corrupt").read_bytes() == truncated  # kept, out of the way
    assert [it for it, _ in list_checkpoints(rd / "checkpoints")] == [2, 3]
    load_checkpoint(rd / "checkpoints" / "iter_000003.pt")


def test_corrupt_checkpoint_reason_is_not_cut_mid_word(pearl_run, tmp_path, capsys):
    ckpt = sorted((pearl_run / "checkpoints").glob("*.pt"))[-1]
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(ckpt.read_bytes()[:1000])
    try:
        torch.load(bad, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch raises, the message must show it whole or cut cleanly
        full = str(exc).splitlines()[0]
    line = _one_line(["eval", str(pearl_run), "--checkpoint", str(bad), "--no-progress"], capsys)
    reason = line.split("corrupt or truncated (", 1)[1][:-1]
    if reason != full:
        assert reason.endswith(" ...")
        kept = reason[: -len(" ...")]
        assert full.startswith(kept) and full[len(kept)] in " ."


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("args,name", [(["pearl", "point-robot", "--kl-lambda", "nan"], "kl_lambda"),
                                       (["pearl", "point-robot", "--reward-scale", "inf"], "reward_scale"),
                                       (["macaw", "point-robot", "--max-weight=-inf"], "max_weight")])  # fmt: skip
def test_non_finite_floats_are_refused(args, name, tmp_path, capsys):
    line = _one_line(["train", *args, *TINY, "--run-dir", str(tmp_path / "r")], capsys)
    assert f"{name} must be a finite number" in line
    assert not (tmp_path / "r").exists()


def test_every_float_field_of_every_config_must_be_finite():
    from nacre.config import ConfigError
    from nacre.training.loop import ALGORITHMS, algorithm_classes

    for algorithm in ALGORITHMS:
        config_cls = algorithm_classes(algorithm)[0]
        floats = [f.name for f in fields(config_cls) if f.type in ("float", float)]
        assert floats
        for name in floats:
            for value in (math.nan, math.inf, -math.inf):
                with pytest.raises(ConfigError, match=f"^{name} must be a finite number"):
                    config_cls(**{name: value})


def test_run_dir_in_a_dataset_and_dataset_in_a_run_dir(generated, pearl_run, capsys):
    data_before, run_before = _digest(generated), _digest(pearl_run)
    line = _one_line(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(generated)], capsys)
    assert "holds a nacre dataset" in line
    line = _one_line([*GENERATE, "--out", str(pearl_run)], capsys)
    assert "holds a nacre training run" in line
    assert _digest(generated) == data_before and _digest(pearl_run) == run_before


def test_divergence_in_the_first_iteration_claims_no_checkpoint(tmp_path, capsys):
    rd = tmp_path / "d"
    line = _one_line(["train", "pearl", "point-robot", *TINY, "--reward-scale", "1e300", "--run-dir", str(rd)],
                     capsys, status=1, prefix="nacre: training diverged:")  # fmt: skip
    assert "in iteration 1" in line and "no checkpoint had been written yet" in line and "intact" not in line


def test_divergence_later_names_the_intact_checkpoint(tmp_path, capsys):
    from nacre.algos.pearl import PearlTrainer, TrainingDiverged, preset
    from nacre.training.loop import train

    tr = PearlTrainer(preset("tiny", "sparse-point-robot", num_iterations=3))
    train(tr, tmp_path / "run", stop_after=1, tensorboard=False)
    with torch.no_grad():
        next(tr.learner.nets.qf.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="in iteration 2; .*the checkpoint of iteration 1 is intact"):
        train(tr, tmp_path / "run", resumed=True, tensorboard=False)


# ---------------------------------------------------------------------- plot output and messages
def test_plot_out_without_suffix_names_the_file_written(pearl_run, tmp_path, capsys):
    assert main(["plot", str(pearl_run), "--out", str(tmp_path / "plotfile")]) == 0
    assert capsys.readouterr().err.strip() == f"nacre: wrote {tmp_path / 'plotfile.png'}"
    assert (tmp_path / "plotfile.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(pearl_run), "--out", str(tmp_path / "c.svg")]) == 0
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert "unknown image type '.xyz'" in _one_line(["plot", str(pearl_run), "--out", str(tmp_path / "c.xyz")], capsys)
    assert not list(tmp_path.glob("c.xyz*"))


def test_plot_of_a_run_with_no_progress_rows(tmp_path, capsys):
    rd = tmp_path / "d"
    assert main(["train", "pearl", "point-robot", *TINY, "--reward-scale", "1e300", "--run-dir", str(rd)]) == 1
    capsys.readouterr()
    line = _one_line(["plot", str(rd), "--out", str(tmp_path / "c.png")], capsys)
    assert "no logged iteration" in line and not (tmp_path / "c.png").exists()


def test_plot_legend_says_1_seed(pearl_run, tmp_path, monkeypatch):
    import matplotlib.figure

    labels = []
    save = matplotlib.figure.Figure.savefig

    def record(fig, *args, **kwargs):
        labels.extend(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    assert main(["plot", str(pearl_run), "--out", str(tmp_path / "c.png")]) == 0
    assert labels and all(label.endswith("(1 seed)") for label in labels)


def test_bad_flag_value_names_the_flag_once(capsys):
    line = _one_line(["train", "pearl", "point-robot", "--seed", "x"], capsys)
    assert line.count("--seed") == 1 and "expected an integer, got 'x'" in line
    line = _one_line(["train", "pearl", "point-robot", "--kl-lambda", "abc"], capsys)
    assert line.count("--kl-lambda") == 1 and "expected a number, got 'abc'" in line


def test_env_kwargs_of_the_wrong_type(tmp_path, capsys):
    line = _one_line(["train", "pearl", "sparse-point-robot", "--env-kwargs", "goal_radius=abc", "--run-dir",
                      str(tmp_path / "r")], capsys)  # fmt: skip
    assert "goal_radius" in line and "expects a number" in line and "not supported between" not in line


def test_offline_pearl_evaluation_says_how_many_transitions_it_used(generated, tmp_path, capsys):
    rd = tmp_path / "op"
    assert main(["train", "offline-pearl", "point-robot", *TINY, "--dataset", str(generated), "--run-dir",
                 str(rd)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "200 transitions each (of 256 asked: the smallest task holds 200)" in out
    assert "256 transitions each" not in out
    summary = json.loads(sorted((rd / "eval").glob("*_final.json"))[-1].read_text())
    assert summary["num_transitions"] == 200


def test_train_with_iterations_ends_with_a_summary(tmp_path, capsys):
    rd = tmp_path / "r"
    _train(rd, "--num-iterations", "3", "--iterations", "1")
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("nacre: 1 iteration in ") and "iteration 1 of 3" in last and "env steps" in last
    assert "gradient steps" in last and f"nacre train --resume {rd}" in last


def test_sigterm_keeps_the_checkpoint_and_says_how_to_resume(tmp_path):
    rd = tmp_path / "r"
    cmd = [sys.executable, "-m", "nacre.cli", "train", "pearl", "sparse-point-robot", *TINY, "--num-iterations",
           "1000", "--run-dir", str(rd)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list_checkpoints(rd / "checkpoints"):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("nacre: terminated (SIGTERM)") and f"nacre train --resume {rd}" in last
    kept = list_checkpoints(rd / "checkpoints")
    assert kept and f"iteration {kept[-1][0]} is kept" in last
    load_checkpoint(kept[-1][1])
    assert not list((rd / "checkpoints").glob(".*.tmp-*"))
