"""Every CLI command on a tiny config, and the bad-input cases: one line, non-zero exit, nothing lost."""

import hashlib
import json
import re
import subprocess
import sys

import pytest

from nacre.cli import main

TINY = ["--preset", "tiny", "--no-progress", "--no-tensorboard"]


def _digest(directory):
    return {p.relative_to(directory): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    rd = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(rd)]) == 0
    return rd


def test_train_writes_a_complete_run(run_dir, capsys):
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "tasks.json", "progress.csv", "progress.jsonl", "checkpoints", "eval"} <= names
    header = (run_dir / "progress.csv").read_text().splitlines()[0]
    for column in ("losses/qf", "losses/kl", "stats/z_std", "returns/test", "time/env_steps", "time/wall_clock",
                   "time/grad_steps_per_second", "success/test_traj_1"):  # fmt: skip
        assert column in header
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["command"] == ["nacre", "train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(run_dir)]
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", meta["git_revision"])  # the tests run from a git checkout


def test_tensorboard_events_are_written(tmp_path):
    rd = tmp_path / "tb_run"
    assert main(["train", "pearl", "point-robot", "--preset", "tiny", "--no-progress", "--num-iterations", "1",
                 "--run-dir", str(rd)]) == 0  # fmt: skip
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(rd / "tb"))
    acc.Reload()
    assert "losses/qf" in acc.Tags()["scalars"] and "returns/test" in acc.Tags()["scalars"]


def test_eval_prints_and_saves_the_adaptation_curve(run_dir, capsys):
    assert main(["eval", str(run_dir), "--trajectories", "3", "--runs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "adaptation on 2 held-out tasks x 2 runs" in out and "<- reported" in out
    import numpy as np

    saved = sorted((run_dir / "eval").glob("*_test.npz"))[-1]
    with np.load(saved) as data:
        assert data["returns"].shape == (2, 2, 3) and data["success"].dtype == bool


def test_eval_flags_of_step_based_methods_are_refused_for_pearl(run_dir, capsys):
    line = _fails(["eval", str(run_dir), "--transitions", "8"], capsys)
    assert "--transitions and --steps are for the methods that adapt by test-time steps" in line
    assert "PEARL takes --trajectories" in line


def test_plot_writes_a_png(run_dir, tmp_path):
    out = tmp_path / "curves.png"
    assert main(["plot", str(run_dir), str(run_dir), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def _plotted_figure(monkeypatch, argv):
    """The matplotlib figure ``nacre plot`` saves (its panels by title)."""
    import matplotlib.figure

    saved = []
    real = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: saved.append(fig) or real(fig, *a, **k)
    )
    assert main(["plot", *argv]) == 0
    return {ax.get_title(): ax for ax in saved[0].axes}


def test_plot_draws_logged_success_against_env_steps(run_dir, tmp_path, monkeypatch):
    rows = [json.loads(line) for line in (run_dir / "progress.jsonl").read_text().splitlines()]
    logged = [(r["time/env_steps"], r["success/test"]) for r in rows if "success/test" in r]
    assert logged  # the sparse point robot reports success
    panels = _plotted_figure(monkeypatch, [str(run_dir), "--out", str(tmp_path / "c.png")])
    assert set(panels) == {"learning curve", "success", "adaptation curve", "success per trajectory"}
    (line,) = panels["success"].lines
    assert [tuple(p) for p in line.get_xydata()] == [(float(x), float(y)) for x, y in logged]
    assert panels["success per trajectory"].lines and not panels["success"].texts


def test_plot_says_when_a_run_has_no_saved_evaluation(run_dir, tmp_path, monkeypatch):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare, ignore=shutil.ignore_patterns("eval"))
    panels = _plotted_figure(monkeypatch, [str(bare), "--out", str(tmp_path / "c.png")])
    for title in ("adaptation curve", "success per trajectory"):
        assert not panels[title].lines
        assert [t.get_text() for t in panels[title].texts] == ["no saved evaluation yet:\nrun nacre eval RUN"]
    assert panels["learning curve"].lines and not panels["learning curve"].texts


def test_resume_continues_a_run(tmp_path):
    rd = tmp_path / "r"
    assert main(["train", "pearl", "point-robot", *TINY, "--num-iterations", "3", "--iterations", "1",
                 "--run-dir", str(rd)]) == 0  # fmt: skip
    assert [p.name for p in sorted((rd / "checkpoints").iterdir())] == ["iter_000001.pt"]
    assert main(["train", "--resume", str(rd), "--no-progress", "--no-tensorboard"]) == 0
    assert sorted(p.name for p in (rd / "checkpoints").iterdir()) == ["iter_000002.pt", "iter_000003.pt"]
    assert len((rd / "progress.jsonl").read_text().splitlines()) == 3


def test_a_budget_changed_on_resume_holds_for_later_resumes(tmp_path, capsys):
    """``--resume RUN --num-iterations N`` is recorded in config.json: the plain ``--resume`` that nacre then
    suggests continues to N (not back to the old budget), and reports read the new value."""
    rd = tmp_path / "r"
    assert main(["train", "pearl", "point-robot", *TINY, "--num-iterations", "2", "--run-dir", str(rd)]) == 0
    capsys.readouterr()
    argv = ["train", "--resume", str(rd), "--num-iterations", "4", "--iterations", "1", "--no-progress",
            "--no-tensorboard"]  # fmt: skip
    assert main(argv) == 0
    assert "iteration 3 of 4" in capsys.readouterr().err
    meta = json.loads((rd / "config.json").read_text())
    assert meta["config"]["num_iterations"] == 4
    assert meta["resumed_with"] == [{"at_iteration": 2, "changes": {"num_iterations": 4}, "command": ["nacre", *argv]}]
    assert main(["train", "--resume", str(rd), "--no-progress", "--no-tensorboard"]) == 0
    assert "iteration 4 of 4" in capsys.readouterr().err
    assert len((rd / "progress.jsonl").read_text().splitlines()) == 4
    # the same value again records nothing new
    assert main(["train", "--resume", str(rd), "--num-iterations", "4", "--no-progress", "--no-tensorboard"]) == 0
    assert len(json.loads((rd / "config.json").read_text())["resumed_with"]) == 1


class _RecordingBar:
    made: list = []

    def __init__(self, total=None, **kwargs):
        self.total, self.n, self.early = total, 0, 0
        type(self).made.append(self)

    def update(self, n=1):
        self.n += n
        self.early += n if self.total is None else 0  # work shown before the bar knew its total

    def refresh(self):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("algorithm", ["pearl", "macaw", "maml-trpo", "rl2-ppo", "offline-pearl", "maesn"])
def test_eval_progress_bar_total_matches_the_work(algorithm, point_dataset, tmp_path, monkeypatch, capsys):
    """nacre eval's bar ends exactly at its total (it once showed 3/3 and kept counting to 12)."""
    import tqdm

    run = tmp_path / algorithm
    data = ["--dataset", str(point_dataset)] if algorithm in ("macaw", "offline-pearl") else []
    assert main(["train", algorithm, "point-robot", *TINY, *data, "--run-dir", str(run)]) == 0
    monkeypatch.setattr(tqdm, "tqdm", _RecordingBar)
    for extra in ([], ["--runs", "2"] + (["--trajectories", "3"] if algorithm == "pearl" else ["--steps", "2"])):
        _RecordingBar.made = []
        assert main(["eval", str(run), *extra]) == 0, capsys.readouterr().err
        (bar,) = _RecordingBar.made
        assert bar.total > 0 and bar.n == bar.total and bar.early == 0, (extra, bar.n, bar.total)
        if extra:  # 2 runs x 3 trajectories of every test task (PEARL), or 2 runs x steps 0, 1, 2 (one per column)
            tasks = len(json.loads((run / "tasks.json").read_text())["test"])
            assert bar.total == (2 * tasks * 3 if algorithm == "pearl" else 2 * 3), bar.total


def test_list_names_the_distributions(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "point-robot-v1" in out and "sparse-point-robot-v1" in out


def test_console_script_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nacre.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("nacre ")


def _fails(args, capsys, status=2):
    assert main(args) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("nacre:") and len(lines) <= 2  # at most the start-up line before it
    return lines[-1]


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "pearl", "no-such-tasks"], "unknown task distribution 'no-such-tasks'"),
        (["train", "pearl", "point-robt"], "unknown task distribution 'point-robt' (did you mean 'point-robot'"),
        (
            ["train", "pearl", "point-robot-v7"],
            "unknown task distribution 'point-robot-v7': point-robot has point-robot-v1",
        ),
        (["train", "pearl", "gymnasium:Env"], "'gymnasium:Env' is the class Env, not a TaskDistribution"),
        (["train", "pearl", "point-robot", "--batch-size", "-4"], "batch_size must be positive"),
        (["train", "pearl", "point-robot", "--num-exp-traj-eval", "9"], "num_exp_traj_eval (9) cannot exceed"),
        (["train", "pearl", "point-robot", "--inner-steps", "2"], "--inner-steps: not a PEARL setting"),
        (["train", "macaw", "point-robot", "--meta-batch", "2"], "--meta-batch: not a MACAW setting"),
        (["train", "macaw", "point-robot", "--preset", "tiny"], "no dataset given"),
        (["train", "pearl", "point-robot", "--preset", "huge"], "unknown preset 'huge'"),
        (["train", "pearl", "sparse-point-robot", "--env-kwargs", "goal_radius=-1"], "goal_radius must be positive"),
        (["train"], "usage: nacre train pearl"),
    ],
)
def test_bad_training_input(args, message, capsys, tmp_path):
    line = _fails([*args, "--run-dir", str(tmp_path / "x")] if len(args) > 1 else args, capsys)
    assert line.startswith("nacre: error:") and message in line
    assert not (tmp_path / "x").exists()


def test_wrong_type_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "pearl", "point-robot", "--batch-size", "big"])
    assert exc.value.code == 2 and "--batch-size" in capsys.readouterr().err


def test_existing_run_is_never_overwritten(run_dir, capsys):
    before = _digest(run_dir)
    line = _fails(["train", "pearl", "sparse-point-robot", *TINY, "--run-dir", str(run_dir)], capsys)
    assert "already holds a run" in line
    assert _digest(run_dir) == before


def test_corrupt_and_truncated_checkpoints(run_dir, tmp_path, capsys):
    ckpt = sorted((run_dir / "checkpoints").iterdir())[-1]
    data = ckpt.read_bytes()
    for name, payload in (("trunc.pt", data[: len(data) // 2]), ("junk.pt", b"not a checkpoint")):
        bad = tmp_path / name
        bad.write_bytes(payload)
        line = _fails(["eval", str(run_dir), "--checkpoint", str(bad), "--no-progress"], capsys)
        assert "corrupt or truncated" in line
    assert ckpt.read_bytes() == data


def test_checkpoint_from_an_incompatible_config(run_dir, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "pearl", "sparse-point-robot", *TINY, "--hidden-size", "8", "--num-iterations", "1",
                 "--run-dir", str(other)]) == 0  # fmt: skip
    capsys.readouterr()
    foreign = sorted((other / "checkpoints").iterdir())[-1]
    line = _fails(["eval", str(run_dir), "--checkpoint", str(foreign), "--no-progress"], capsys)
    assert "incompatible config" in line and "hidden_size" in line


def test_resume_and_eval_of_a_missing_run(tmp_path, capsys):
    assert "not a nacre run directory" in _fails(["train", "--resume", str(tmp_path), "--no-progress"], capsys)
    assert "not a nacre run directory" in _fails(["eval", str(tmp_path / "nope")], capsys)


def test_diverging_run_exits_non_zero(tmp_path, capsys):
    # the config refuses --reward-scale inf; 1e300 overflows float32 in the first update
    line = _fails(["train", "pearl", "point-robot", *TINY, "--reward-scale", "1e300", "--run-dir",
                   str(tmp_path / "d")], capsys, status=1)  # fmt: skip
    assert "non-finite" in line
    assert not list((tmp_path / "d").rglob("*.pt"))
