"""``nacre report``: groups, numbers, files and errors, on real tiny PEARL runs and synthetic offline runs."""

import csv
import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nacre.cli import main
from nacre.evaluation import metrics
from nacre.evaluation.offline_adaptation import OfflineAdaptationResult
from nacre.evaluation.runs import derive_command, latest_eval, read_meta
from nacre.logging import RunLogger
from nacre.training.loop import write_run_files

REPS = "200"


def _train(run_dir: Path, *flags: str) -> None:
    argv = ["train", "pearl", "sparse-point-robot", "--preset", "tiny", "--run-dir", str(run_dir), "--no-progress",
            "--no-tensorboard", *flags]  # fmt: skip
    assert main(argv) == 0


@pytest.fixture(scope="module")
def pearl_runs(tmp_path_factory) -> dict[str, Path]:
    """Two seeds of the tiny preset and one run of another config (kl_lambda 0.5); one seed re-evaluated."""
    root = tmp_path_factory.mktemp("pearl_runs")
    runs = {"s0": root / "s0", "s1": root / "s1", "kl": root / "kl"}
    _train(runs["s0"], "--seed", "0")
    _train(runs["s1"], "--seed", "1")
    _train(runs["kl"], "--seed", "0", "--kl-lambda", "0.5")
    assert main(["eval", str(runs["s0"]), "--runs", "2", "--trajectories", "3", "--no-progress"]) == 0
    return runs


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _final(rows: list[dict[str, str]], group: str, statistic: str) -> tuple[float, float, float]:
    (row,) = [r for r in rows if r["group"] == group and r["statistic"] == statistic]
    return float(row["estimate"]), float(row["low"]), float(row["high"])


def _seed_score(run: Path, field: str) -> float:
    """A PEARL seed's final score by hand: trajectory after exploration, mean over evaluation runs and tasks."""
    data = latest_eval(run)
    cfg = read_meta(run)["config"]
    k = min(cfg["num_exp_traj_eval"], data[field].shape[2] - 1)
    return float(data[field][:, :, k].astype(float).mean())


def test_report_on_real_runs(pearl_runs, tmp_path, capsys):
    out = tmp_path / "report"
    dirs = [str(pearl_runs[k]) for k in ("s0", "s1", "kl")]
    assert main(["report", *dirs, "--out", str(out), "--bootstrap-reps", REPS, "--metric", "dense-return"]) == 0
    assert "3 runs in 2 groups" in capsys.readouterr().err
    for name in ("report.md", "final.csv", "improvement.csv", "curves.csv", "runs.csv", "report.json",
                 "sparse-point-robot-v1_online_curves.png", "sparse-point-robot-v1_online_curves.svg",
                 "sparse-point-robot-v1_final.png", "sparse-point-robot-v1_final.svg"):  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "sparse-point-robot-v1_final.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "sparse-point-robot-v1_online_curves.svg").read_bytes()[:2000]

    # groups: the two seeds of the tiny preset, and the kl_lambda=0.5 run
    doc = json.loads((out / "report.json").read_text())
    assert [(g["label"], len(g["runs"])) for g in doc["groups"]] == [("pearl kl_lambda=1.0", 2),
                                                                    ("pearl kl_lambda=0.5", 1)]  # fmt: skip
    # numbers: the seeds' test tasks differ, so each seed's score is its mean over tasks (one stratum)
    base = np.array([[_seed_score(pearl_runs["s0"], "dense_returns")],
                     [_seed_score(pearl_runs["s1"], "dense_returns")]])  # fmt: skip
    other = np.array([[_seed_score(pearl_runs["kl"], "dense_returns")]])
    final = _rows(out / "final.csv")
    expected = metrics.aggregate_intervals(base, None, reps=int(REPS), confidence=0.95, rng=0)
    for stat in ("iqm", "median", "mean"):
        assert _final(final, "pearl kl_lambda=1.0", stat) == pytest.approx(tuple(expected[stat]))
    assert _final(final, "pearl kl_lambda=1.0", "iqm")[0] == pytest.approx(base.mean())  # IQM of 2 = mean
    assert _final(final, "pearl kl_lambda=0.5", "mean") == pytest.approx((other[0, 0],) * 3)
    assert not [r for r in final if r["statistic"] == "optimality_gap"]  # returns: no threshold given
    (poi,) = _rows(out / "improvement.csv")
    assert (poi["x"], poi["y"]) == ("pearl kl_lambda=1.0", "pearl kl_lambda=0.5")
    assert float(poi["probability"]) == pytest.approx(metrics.probability_of_improvement(base, other))

    # curves: learning curves at the logged env steps; adaptation curve on the trajectories every seed has
    curves = _rows(out / "curves.csv")
    learning = [r for r in curves if r["group"] == "pearl kl_lambda=1.0" and r["curve"] == "learning_return"]
    logged = [json.loads(line) for line in (pearl_runs["s0"] / "progress.jsonl").read_text().splitlines()]
    assert [float(r["x"]) for r in learning] == [float(r["time/env_steps"]) for r in logged if "returns/test" in r]
    assert {r["curve"] for r in curves} == {"learning_return", "learning_success", "adaptation"}
    adaptation = [r for r in curves if r["group"] == "pearl kl_lambda=1.0" and r["curve"] == "adaptation"]
    assert [float(r["x"]) for r in adaptation] == [1.0, 2.0]  # s0 was evaluated on 3 trajectories, s1 on 2

    # runs table: commands, seeds, git revision, evaluation used
    runs = {Path(r["run"]).name: r for r in _rows(out / "runs.csv")}
    # nacre train records its own command line and the source revision in config.json; the report shows them
    recorded = lambda key, *flags: shlex.join(["nacre", "train", "pearl", "sparse-point-robot", "--preset", "tiny",
                                               "--run-dir", str(pearl_runs[key]), "--no-progress",
                                               "--no-tensorboard", *flags])  # fmt: skip
    assert runs["s1"]["command"] == recorded("s1", "--seed", "1")
    assert runs["kl"]["command"] == recorded("kl", "--seed", "0", "--kl-lambda", "0.5")
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", runs["s0"]["git_revision"])
    assert runs["s0"]["evaluation"].endswith("_test.npz")
    assert float(runs["s0"]["wall_clock_s"]) > 0
    text = (out / "report.md").read_text()
    for needle in ("## Runs", "pearl kl_lambda=0.5", f"`{recorded('s1', '--seed', '1')}`",
                   "![sparse-point-robot-v1_final](sparse-point-robot-v1_final.png)", "P(X > Y)",
                   runs["s0"]["git_revision"]):  # fmt: skip
        assert needle in text


def test_derived_command_rebuilds_the_config(pearl_runs):
    from nacre.algos.pearl.config import PearlConfig, preset
    from nacre.cli_train import config_overrides, parse_command

    for run in pearl_runs.values():
        meta = read_meta(run)
        words = shlex.split(derive_command(meta))
        assert words[:2] == ["nacre", "train"]
        command = parse_command(words[2:])
        overrides = config_overrides(PearlConfig, command.settings)
        assert preset(command.preset, command.distribution, **overrides).to_dict() == meta["config"]


def test_recorded_command_and_git_revision_are_used(pearl_runs, tmp_path):
    import shutil

    from nacre.evaluation.report import ReportOptions, write_report

    run = tmp_path / "copied"
    shutil.copytree(pearl_runs["kl"], run)
    meta = json.loads((run / "config.json").read_text())
    meta.update(command=["nacre", "train", "pearl", "sparse-point-robot", "--kl-lambda", "0.5"], git_revision="abc123")
    (run / "config.json").write_text(json.dumps(meta))
    report = write_report([run], tmp_path / "out", ReportOptions(reps=20))
    (row,) = report.run_table()
    assert (row["command"], row["command_source"], row["git_revision"]) == (
        "nacre train pearl sparse-point-robot --kl-lambda 0.5",
        "recorded",
        "abc123",
    )


# ---------------------------------------------------------------------- synthetic offline runs
TASKS = [{"velocity": 0.5}, {"velocity": 1.5}]


def _offline_run(path: Path, algorithm: str, seed: int, learning: list[float], final: list[list[float]],
                 diverged: list[list[bool]] | None = None,
                 checksums: dict[str, str] | None = None) -> Path:  # fmt: skip
    """A run directory written by the real writers: config.json and tasks.json, progress.jsonl, and an evaluation
    file as ``nacre eval`` saves it (returns ``[runs, tasks, steps]`` at steps 0 and 1)."""
    if algorithm == "macaw":
        from nacre.algos.macaw.config import preset
    else:
        from nacre.algos.mtft.config import preset
    cfg = preset("tiny", "macaw-cheetah-vel", seed=seed, eval_steps=1, dataset="data/cv")
    trainer = SimpleNamespace(algorithm=algorithm, cfg=cfg, distribution=SimpleNamespace(id="macaw-cheetah-vel-v1"),
                              split=SimpleNamespace(train=[{"velocity": 0.1}], test=TASKS),
                              dataset_checksums=checksums)  # fmt: skip
    write_run_files(path, trainer)
    logger = RunLogger(path, tensorboard=False)
    for i, value in enumerate(learning, start=1):
        logger.log(i, {"losses/policy": 0.1, "time/env_steps": 0, "time/grad_steps": 3 * i,
                       "time/wall_clock": 2.0 * i, "returns/test": value})  # fmt: skip
    logger.close()
    adapted = np.array(final, dtype=float)  # [eval runs, tasks]
    returns = np.stack([adapted - 100.0, adapted], axis=-1)  # steps 0 (un-adapted) and 1
    flags = np.zeros(returns.shape, dtype=bool)
    if diverged is not None:
        flags[:, :, 1] = diverged
        returns[flags] = np.nan
    result = OfflineAdaptationResult(returns, returns.copy(), np.zeros(returns.shape, dtype=bool),
                                     np.full(returns.shape, 10), np.array([0, 1]), 16, flags)  # fmt: skip
    (path / "eval").mkdir()
    np.savez(path / "eval" / f"adaptation_iter{len(learning):06d}_test.npz", **result.to_dict(),
             iteration=len(learning), env_steps=0)  # fmt: skip
    return path


@pytest.fixture
def offline_runs(tmp_path) -> list[Path]:
    root = tmp_path / "runs"
    return [
        _offline_run(root / "macaw0", "macaw", 0, [1.0, 2.0, 3.0], [[10.0, 20.0]]),
        _offline_run(root / "macaw1", "macaw", 1, [2.0, 3.0, 4.0], [[12.0, 18.0]]),
        _offline_run(root / "macaw2", "macaw", 2, [3.0, 5.0], [[14.0, 30.0]]),  # stopped one iteration earlier
        _offline_run(root / "mtft0", "mt-finetune", 0, [0.0, 1.0], [[11.0, 20.0]]),
        # two evaluation runs, one of which diverged on task 0: its score there is the other run's
        _offline_run(root / "mtft1", "mt-finetune", 1, [1.0, 1.0], [[9.0, 24.0], [0.0, 26.0]],
                     diverged=[[False, False], [True, False]]),
    ]  # fmt: skip


def test_report_numbers_on_offline_runs_with_shared_tasks(offline_runs, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["report", *map(str, offline_runs), "--out", str(out), "--bootstrap-reps", REPS, "--threshold", "25",
            "--label", "MACAW", "--label", "MT+FT"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    # every run was evaluated on the same two tasks: tasks are the strata, scores [seeds, tasks]
    macaw = np.array([[10.0, 20.0], [12.0, 18.0], [14.0, 30.0]])
    mtft = np.array([[11.0, 20.0], [9.0, 25.0]])
    final = _rows(out / "final.csv")
    assert _final(final, "MACAW", "iqm")[0] == pytest.approx((12 + 14 + 18 + 20) / 4)  # 10 | 12 14 18 20 | 30
    # median over tasks of the task means (12 and 68 / 3), as rliable's aggregate_median; of all six scores it is 16
    assert _final(final, "MACAW", "median")[0] == pytest.approx((12 + 68 / 3) / 2)
    assert _final(final, "MACAW", "optimality_gap")[0] == pytest.approx((15 + 5 + 13 + 7 + 11 + 0) / 6)
    assert _final(final, "MT+FT", "mean")[0] == pytest.approx(65 / 4)
    for group, scores in (("MACAW", macaw), ("MT+FT", mtft)):
        expected = metrics.aggregate_intervals(scores, 25.0, reps=int(REPS), rng=0)
        for stat, interval in expected.items():
            assert _final(final, group, stat) == pytest.approx(tuple(interval))
    assert {r["strata"] for r in final} == {"2"}
    # P(MACAW > MT+FT): task 0: 10>9, 12>11, 12>9, 14>11, 14>9 (5 of 6); task 1: 20=20, 30>20, 30>25 (2.5 of 6)
    (poi,) = _rows(out / "improvement.csv")
    assert float(poi["probability"]) == pytest.approx((5 / 6 + 2.5 / 6) / 2)
    expected_poi = metrics.probability_of_improvement_ci(macaw, mtft, reps=int(REPS), rng=0)
    assert (float(poi["probability"]), float(poi["low"]), float(poi["high"])) == pytest.approx(tuple(expected_poi))

    # learning curves against outer steps, on the steps all seeds logged; adaptation curve at steps 0 and 1
    curves = _rows(out / "curves.csv")
    learning = [r for r in curves if r["group"] == "MACAW" and r["curve"] == "learning_return"]
    assert [(float(r["x"]), float(r["iqm"])) for r in learning] == pytest.approx([(3.0, 2.0), (6.0, 10 / 3)])
    adaptation = [r for r in curves if r["group"] == "MACAW" and r["curve"] == "adaptation"]
    assert [float(r["x"]) for r in adaptation] == [0.0, 1.0]
    assert float(adaptation[1]["iqm"]) == pytest.approx(16.0)
    assert not [r for r in curves if r["curve"] == "learning_success"]  # offline logs have no success rate
    assert (out / "macaw-cheetah-vel-v1_offline_curves.svg").is_file()
    text = (out / "report.md").read_text()
    assert "held-out tasks are the strata" in text and "| diverged" in text and "17%" in text  # 1 of 6 episodes
    assert "1 test-time step on 16 transitions" in text
    assert "--preset tiny" in text and "--eval-steps 1" in text


def test_final_scores_per_task_group(offline_runs, tmp_path, capsys):
    """Families whose tasks belong to groups (Meta-World's ML10 / ML45 classes) get the final score per group:
    the IQM over seeds of each group's tasks, in the markdown, task_groups.csv and report.json."""
    for run in offline_runs:
        (path,) = (run / "eval").glob("*.npz")
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        np.savez(path, **arrays, groups=np.array(["slow", "fast"]))  # task 0 (v = 0.5) slow, task 1 fast
    out = tmp_path / "report"
    argv = ["report", *map(str, offline_runs), "--out", str(out), "--bootstrap-reps", REPS,
            "--label", "MACAW", "--label", "MT+FT"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    expected = {
        ("MACAW", "slow"): [[10.0], [12.0], [14.0]],
        ("MACAW", "fast"): [[20.0], [18.0], [30.0]],
        ("MT+FT", "slow"): [[11.0], [9.0]],
        ("MT+FT", "fast"): [[20.0], [25.0]],
    }  # diverged run left out
    rows = {(r["group"], r["task_group"]): r for r in _rows(out / "task_groups.csv")}
    assert set(rows) == set(expected)
    for key, scores in expected.items():
        interval = metrics.stratified_bootstrap_ci(np.array(scores), metrics.iqm, reps=int(REPS), rng=0)
        row = rows[key]
        assert (float(row["iqm"]), float(row["low"]), float(row["high"])) == pytest.approx(tuple(interval))
        assert int(row["seeds"]) == len(scores)
    assert float(rows[("MACAW", "fast")]["iqm"]) == pytest.approx(68 / 3)
    text = (out / "report.md").read_text()
    assert "### Per task group" in text and "| slow | 12.0" in text
    doc = json.loads((out / "report.json").read_text())
    assert doc["groups"][1]["final_iqm_by_task_group"]["slow"]["estimate"] == pytest.approx(10.0)

    for run in offline_runs:  # one task group (an ML1 class): the overall table says it all
        (path,) = (run / "eval").glob("*.npz")
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        np.savez(path, **{**arrays, "groups": np.array(["reach", "reach"])})
    assert main([*argv[:-4], "--out", str(tmp_path / "one")]) == 0
    assert "Per task group" not in (tmp_path / "one" / "report.md").read_text()
    assert len(_rows(tmp_path / "one" / "task_groups.csv")) == 0


def test_runs_without_an_evaluation_fall_back_to_the_log(offline_runs, tmp_path):
    from nacre.evaluation.report import ReportOptions, write_report

    for run in offline_runs[:3]:
        for f in (run / "eval").iterdir():
            f.unlink()
    report = write_report(offline_runs, tmp_path / "out", ReportOptions(reps=50))
    macaw = report.groups[0]
    assert macaw.final_source.startswith("last logged test value")
    np.testing.assert_allclose(macaw.final[:, 0], [3.0, 4.0, 5.0])
    assert macaw.adaptation is None
    assert not report.shared_tasks["macaw-cheetah-vel-v1"]  # one stratum for every group then
    assert report.groups[1].final.shape == (2, 1)
    assert "no saved evaluation" in (tmp_path / "out" / "report.md").read_text()


def test_a_run_that_never_evaluated_is_left_out_of_the_final_scores(offline_runs, tmp_path):
    from nacre.evaluation.report import ReportOptions, write_report

    crashed = tmp_path / "crashed"  # stopped in its first iteration: a config, no log rows, no evaluation
    crashed.mkdir()
    config = (offline_runs[0] / "config.json").read_text()
    (crashed / "config.json").write_text(config.replace('"seed": 0', '"seed": 9'))
    report = write_report([*offline_runs, crashed], tmp_path / "out", ReportOptions(reps=50))
    macaw = report.groups[0]
    assert len(macaw.runs) == 4 and macaw.final.shape == (3, 2)  # the other seeds keep their task strata
    assert report.shared_tasks["macaw-cheetah-vel-v1"]
    assert any("left out" in note and "crashed" in note for note in macaw.notes)


def test_a_longer_budget_stays_with_its_seeds_and_unequal_ends_are_noted(offline_runs, tmp_path):
    """Runs that differ only in ``num_iterations`` (one continued to a longer budget, say) are seeds of one
    experiment; when their final evaluations come from different iterations the report says so."""
    from nacre.evaluation.report import ReportOptions, build_report

    config = offline_runs[2] / "config.json"
    meta = json.loads(config.read_text())
    meta["config"]["num_iterations"] = 50
    config.write_text(json.dumps(meta))
    report = build_report(offline_runs, ReportOptions(reps=20))
    assert [len(g.runs) for g in report.groups] == [3, 2]
    assert [g.label for g in report.groups] == ["macaw", "mt-finetune"]
    (note,) = [n for n in report.groups[0].notes if "different numbers of iterations" in n]
    assert "macaw0 3, macaw1 3, macaw2 2" in note
    assert not [n for n in report.groups[1].notes if "different numbers of iterations" in n]  # both at 2


# ---------------------------------------------------------------------- bad input
def _error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nacre: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_malformed_inputs_give_one_line_errors(offline_runs, tmp_path, capsys):
    out = tmp_path / "out"
    run = str(offline_runs[0])
    assert "no such directory" in _error(["report", str(tmp_path / "missing"), "--out", str(out)], capsys)
    assert "no run directories given" in _error(["report", "--out", str(out)], capsys)
    message = _error(["report", str(offline_runs[0].parent), "--out", str(out)], capsys)
    assert "not a nacre run directory" in message and "/*" in message  # it holds runs: a hint to pass them
    assert not out.exists()  # nothing is written when the input is bad
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "not a directory" in _error(["report", run, "--out", str(a_file)], capsys)
    assert "cannot create" in _error(["report", run, "--out", str(a_file / "sub")], capsys)
    assert "--label" in _error(["report", run, "--out", str(out), "--label", "a", "--label", "b"], capsys)
    assert "confidence" in _error(["report", run, "--out", str(out), "--confidence", "1.5"], capsys)
    assert "repetitions" in _error(["report", run, "--out", str(out), "--bootstrap-reps", "0"], capsys)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert "unreadable" in _error(["report", str(broken), "--out", str(out)], capsys)
    (broken / "config.json").write_text(json.dumps({"algorithm": "pearl"}))
    assert "not a nacre run config" in _error(["report", str(broken), "--out", str(out)], capsys)
    damaged = offline_runs[1]
    (damaged / "eval" / "adaptation_iter000009_test.npz").write_bytes(b"PK\x03\x04 truncated")
    assert "unreadable" in _error(["report", str(damaged), "--out", str(out)], capsys)
    with pytest.raises(SystemExit) as exc:
        main(["report", run, "--out", str(out), "--metric", "nonsense"])
    assert exc.value.code == 2


def test_runs_with_other_env_kwargs_are_other_distributions(pearl_runs, tmp_path):
    """Another goal radius is another task: its runs get their own tables and figures and are not compared with
    runs at the default radius (nor grouped with them)."""
    from nacre.evaluation.report import ReportOptions, build_report

    wide = tmp_path / "wide"
    _train(wide, "--seed", "0", "--env-kwargs", "goal_radius=0.8")
    report = build_report([pearl_runs["s0"], pearl_runs["s1"], wide], ReportOptions(reps=20))
    assert report.distributions == ["sparse-point-robot-v1", "sparse-point-robot-v1 goal_radius=0.8"]
    assert sorted(len(g.runs) for g in report.groups) == [1, 2]
    assert report.comparisons == {"sparse-point-robot-v1": [], "sparse-point-robot-v1 goal_radius=0.8": []}
    # one task family: the automatic labels name only the keyword arguments that differ, not the whole id
    assert sorted(g.label for g in report.groups) == ["pearl", "pearl goal_radius=0.8"]


def test_one_run_is_counted_in_the_singular(offline_runs, tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["report", str(offline_runs[0]), "--out", str(out), "--bootstrap-reps", REPS]) == 0
    assert "nacre: 1 run in 1 group; wrote" in capsys.readouterr().err
    assert "1 run in 1 group on 1 task distribution." in (out / "report.md").read_text()


@pytest.mark.parametrize("algorithm, label", [("maesn", "1 adaptation step on 200 sampled transitions"),
                                              ("macaw", "1 test-time step on 200 transitions")])  # fmt: skip
def test_final_score_label_says_whose_transitions(algorithm, label):
    """On-policy methods adapt on rollouts they sample; offline methods on k transitions of the dataset."""
    from nacre.evaluation.report import Run, _final_label

    evaluation = {"returns": np.zeros((1, 2, 2)), "steps": np.array([0, 1]), "num_transitions": np.array(200)}
    run = Run(Path("r"), {"algorithm": algorithm, "distribution": "d", "config": {"eval_steps": 1}}, [], None,
              evaluation, None)  # fmt: skip
    assert _final_label(run) == label


# ---------------------------------------------------------------------- sample efficiency (PEARL paper Fig. 2)
def _env_step_run(path: Path, algorithm: str, seed: int, curve: list[tuple[int, float]], **overrides) -> Path:
    """A run of ``algorithm`` on the point robot written by the real writers, whose log holds ``curve``:
    (env steps, test return) per iteration, and no saved evaluation."""
    from nacre.algos.registry import preset

    cfg = preset(algorithm, "tiny", "point-robot", seed=seed, **overrides)
    split = SimpleNamespace(train=[{"goal": [0.1, 0.2]}], test=[{"goal": [0.3, 0.4]}])
    trainer = SimpleNamespace(algorithm=algorithm, cfg=cfg, distribution=SimpleNamespace(id="point-robot-v1"),
                              split=split)  # fmt: skip
    write_run_files(path, trainer)
    logger = RunLogger(path, tensorboard=False)
    for i, (steps, value) in enumerate(curve, start=1):
        logger.log(i, {"time/env_steps": steps, "time/grad_steps": i, "time/wall_clock": float(i),
                       "returns/test": value})  # fmt: skip
    logger.close()
    return path


@pytest.fixture
def env_step_runs(tmp_path) -> list[Path]:
    root = tmp_path / "fig2"
    pearl = [[-50.0, -20.0, -10.0], [-40.0, -20.0, -12.0], [-60.0, -30.0, -8.0]]
    maml = [[-90.0, -60.0, -25.0, -12.0, -9.0], [-80.0, -50.0, -20.0, -10.0, -8.0]]
    promp = [[-90.0, -70.0, -60.0], [-95.0, -75.0, -50.0]]
    runs = [_env_step_run(root / f"pearl{s}", "pearl", s, list(zip([100, 200, 300], c, strict=True)))
            for s, c in enumerate(pearl)]  # fmt: skip
    runs += [_env_step_run(root / f"maml{s}", "maml-trpo", s, list(zip([1000, 2000, 3000, 4000, 5000], c,
                                                                        strict=True)))
             for s, c in enumerate(maml)]  # fmt: skip
    runs += [_env_step_run(root / f"promp{s}", "promp", s, list(zip([1000, 2000, 3000], c, strict=True)))
             for s, c in enumerate(promp)]  # fmt: skip
    return runs


def test_sample_efficiency_against_the_pearl_group(env_step_runs, tmp_path, capsys):
    """The env steps each method's IQM learning curve needs to reach PEARL's IQM at the reference point, every
    curve averaged over its last 3 logged points (the default window), by hand: PEARL's IQM is -50, -23.33, -10 at
    100, 200, 300 steps (3 values: nothing trimmed), so the target is their mean, -27.78; MAML-TRPO's IQM curve
    (-85, -55, -22.5, -11, -8.5) averaged over 3 points is -54.17 at 3000, -29.5 at 4000 and -14 at 5000, so it
    first reaches the target at 5000 steps; ProMP (-92.5, -72.5, -55) never does."""
    out = tmp_path / "report"
    assert main(["report", *map(str, env_step_runs), "--out", str(out), "--bootstrap-reps", REPS]) == 0, (
        capsys.readouterr().err
    )
    assert metrics.iqm(np.array([-10.0, -12.0, -8.0])) == pytest.approx(-10.0)
    rows = {r["group"]: r for r in _rows(out / "efficiency.csv")}
    assert set(rows) == {"maml-trpo", "promp"}
    assert float(rows["maml-trpo"]["target_return"]) == pytest.approx((-50 - 70 / 3 - 10) / 3)
    assert float(rows["maml-trpo"]["reference_env_steps"]) == 300
    assert (float(rows["maml-trpo"]["env_steps_to_reach"]), float(rows["maml-trpo"]["ratio"])) == (5000, 5000 / 300)
    assert rows["promp"]["env_steps_to_reach"] == "" and float(rows["promp"]["last_env_steps"]) == 3000
    text = (out / "report.md").read_text()
    assert "| maml-trpo | 2 | 5,000 | 16.7x |" in text
    assert "| promp | 2 | not reached within 3,000 | > 10x |" in text
    # every method that learns from env steps on one figure, linear and log x
    assert (out / "point-robot-v1_env_steps.png").stat().st_size > 0
    assert "point-robot-v1_env_steps.png" in text
    doc = json.loads((out / "report.json").read_text())
    (eff,) = doc["sample_efficiency"]
    assert eff["reference"] == "pearl" and eff["target_return"] == pytest.approx((-50 - 70 / 3 - 10) / 3)


def test_sample_efficiency_at_a_chosen_reference_point_and_group(env_step_runs, tmp_path, capsys):
    from nacre.evaluation.report import ReportOptions, build_report

    # the raw points (window 1): at 200 PEARL steps the target is the mean of (-20, -20, -30); MAML-TRPO's IQM
    # first reaches it at 3000
    report = build_report(env_step_runs, ReportOptions(reps=20, reference_steps=250, efficiency_window=1))
    eff = report.efficiency["point-robot-v1"]
    assert (eff.at, eff.target) == (200, pytest.approx(-70 / 3))
    assert {r.group.label: r.steps for r in eff.rows} == {"maml-trpo": 3000, "promp": None}
    # another reference group: PEARL then reaches ProMP's last IQM (-55) at its first point
    report = build_report(env_step_runs, ReportOptions(reps=20, reference="promp", efficiency_window=1))
    eff = report.efficiency["point-robot-v1"]
    assert (eff.reference.label, eff.at, eff.target) == ("promp", 3000, pytest.approx(-55.0))
    assert {r.group.label: r.steps for r in eff.rows} == {"pearl": 100, "maml-trpo": 2000}
    assert {r.group.label: r.at_first for r in eff.rows} == {"pearl": True, "maml-trpo": False}
    # averaged over 2 points, MAML-TRPO's -55 at 2000 no longer counts ((-85 - 55) / 2 = -70 < -63.75)
    report = build_report(env_step_runs, ReportOptions(reps=20, reference="promp", efficiency_window=2))
    eff = report.efficiency["point-robot-v1"]
    assert eff.target == pytest.approx((-72.5 - 55.0) / 2)
    assert {r.group.label: r.steps for r in eff.rows} == {"pearl": 100, "maml-trpo": 3000}
    # before the reference's first point there is nothing to compare: a note, no table
    report = build_report(env_step_runs, ReportOptions(reps=20, reference_steps=50))
    assert report.efficiency == {}
    assert any("no learning-curve point at or below 50" in n for g in report.groups for n in g.notes)
    out = tmp_path / "bad"
    err = _error(["report", *map(str, env_step_runs), "--out", str(out), "--reference", "nope"], capsys)
    assert "--reference 'nope' is not a group" in err and "'maml-trpo'" in err
    err = _error(["report", *map(str, env_step_runs), "--out", str(out), "--reference-steps", "-1"], capsys)
    assert "reference steps must be a positive number" in err
    err = _error(["report", *map(str, env_step_runs), "--out", str(out), "--efficiency-window", "0"], capsys)
    assert "efficiency window must be a positive integer" in err


def test_two_pearl_groups_give_a_note_not_a_silent_gap(env_step_runs, tmp_path):
    from nacre.evaluation.report import ReportOptions, build_report

    other = _env_step_run(tmp_path / "pearl-kl", "pearl", 0, [(100, -40.0), (200, -15.0)], kl_lambda=0.5)
    report = build_report([*env_step_runs, other], ReportOptions(reps=20))
    assert report.efficiency == {}
    assert any("2 PEARL groups" in n and "--reference" in n for g in report.groups for n in g.notes)


def test_trailing_mean():
    # in increasing x: 1 -> 0.0, 2 -> (0 + 4) / 2, 3 -> (0 + 4 + 5) / 3; returned in the order of x
    np.testing.assert_allclose(metrics.trailing_mean(np.array([3.0, 1.0, 2.0]), np.array([5.0, 0.0, 4.0]), 3),
                               [3.0, 0.0, 2.0])  # fmt: skip
    np.testing.assert_allclose(metrics.trailing_mean(np.array([1.0, 2.0]), np.array([1.0, 2.0]), 1), [1.0, 2.0])
    assert np.isnan(metrics.trailing_mean(np.array([1.0, 2.0]), np.array([np.nan, 2.0]), 2)).all()
    with pytest.raises(ValueError):
        metrics.trailing_mean(np.array([1.0]), np.array([1.0]), 0)


def test_first_reaching():
    assert metrics.first_reaching(np.array([3.0, 1.0, 2.0]), np.array([5.0, 0.0, 4.0]), 4.0) == 2.0
    assert metrics.first_reaching(np.array([1.0, 2.0]), np.array([np.nan, 1.0]), 2.0) is None
    with pytest.raises(ValueError):
        metrics.first_reaching(np.array([1.0]), np.array([1.0, 2.0]), 0.0)


def test_plot_puts_pearl_and_on_policy_runs_on_one_log_axis(env_step_runs, tmp_path, capsys):
    """``nacre plot --log-x``: the same runs on one figure with a logarithmic env-step axis (the PNG is
    deterministic, so the flag must change it)."""
    runs = [str(env_step_runs[0]), str(env_step_runs[3])]  # PEARL and MAML-TRPO
    images = []
    for name, flags in (("a", []), ("b", []), ("log", ["--log-x"])):
        out = tmp_path / f"{name}.png"
        assert main(["plot", *runs, "--out", str(out), *flags]) == 0, capsys.readouterr().err
        images.append(out.read_bytes())
    assert images[0] == images[1] and images[2] != images[0]


def test_named_evaluations_sit_beside_the_default_one(pearl_runs, tmp_path, capsys):
    """``nacre eval --name`` keeps another evaluation of the same iteration instead of replacing the default one,
    and ``nacre report --evaluation NAME`` reads it."""
    run = tmp_path / "run"
    _train(run, "--seed", "0")
    default = sorted((run / "eval").glob("*.npz"))
    before = [p.read_bytes() for p in default]
    assert main(["eval", str(run), "--trajectories", "4", "--runs", "1", "--name", "long", "--no-progress"]) == 0
    named = run / "eval" / f"{default[-1].stem.split('_')[0]}_{default[-1].stem.split('_')[1]}_test-long.npz"
    assert named.is_file() and [p.read_bytes() for p in default] == before  # nothing replaced
    assert latest_eval(run, "long")["returns"].shape[2] == 4
    assert latest_eval(run)["returns"].shape[2] != 4  # the default evaluation is still the one read by default
    capsys.readouterr()
    out = tmp_path / "rep"
    assert main(["report", str(run), "--out", str(out), "--bootstrap-reps", REPS, "--evaluation", "long"]) == 0
    (row,) = _rows(out / "runs.csv")
    assert row["evaluation"] == f"eval/{named.name}"
    assert main(["report", str(run), "--out", str(out), "--bootstrap-reps", REPS]) == 0
    (row,) = _rows(out / "runs.csv")
    assert row["evaluation"] == f"eval/{default[-1].name}"
    capsys.readouterr()
    assert "--name 'a b'" in _error(["eval", str(run), "--name", "a b"], capsys)
    assert "--name is for evaluations on the test tasks" in _error(["eval", str(run), "--name", "x", "--tasks",
                                                                    "train"], capsys)  # fmt: skip
    assert "evaluation name '../x'" in _error(["report", str(run), "--out", str(out), "--evaluation", "../x"], capsys)


def test_machine_and_versions_are_recorded_and_reported(pearl_runs, tmp_path, monkeypatch):
    """A new run records its CPU, threads, device and resolved precision; a resume on another machine is appended
    to ``resumed_with`` (the same machine is not); the report lists each CPU / precision / version combination."""
    import shutil

    import torch

    from nacre.evaluation.report import ReportOptions, write_report
    from nacre.training import loop

    meta = json.loads((pearl_runs["s0"] / "config.json").read_text())
    machine = meta["machine"]
    assert machine["cpu"] == loop.cpu_model() and machine["cpu"]
    assert machine["device"] == "cpu"
    assert machine["torch_threads"] == torch.get_num_threads()
    from nacre.nn.precision import cpu_flags

    assert set(machine["cpu_flags"]) == cpu_flags() & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}
    assert machine["precision"] == "fp32"  # the tiny preset

    run = tmp_path / "resumed"
    shutil.copytree(pearl_runs["s0"], run)
    assert main(["train", "--resume", str(run), "--no-progress", "--no-tensorboard", "--iterations", "1"]) == 0
    assert "resumed_with" not in json.loads((run / "config.json").read_text())  # same machine: nothing added
    monkeypatch.setattr(loop, "cpu_model", lambda: "Other CPU 9000")
    assert main(["train", "--resume", str(run), "--no-progress", "--no-tensorboard", "--iterations", "1"]) == 0
    entries = json.loads((run / "config.json").read_text())["resumed_with"]
    assert [e["machine"]["cpu"] for e in entries if "machine" in e] == ["Other CPU 9000"]

    report = write_report([pearl_runs["s1"], run], tmp_path / "out", ReportOptions(reps=20))
    rows = {Path(r["run"]).name: r for r in report.run_table()}
    assert rows["resumed"]["cpu"] == f"{machine['cpu']} then Other CPU 9000"
    assert rows["s1"]["torch"] == torch.__version__ and rows["s1"]["metaworld"] == "-"
    text = (tmp_path / "out" / "report.md").read_text()
    table = text.split("## Machines and versions", 1)[1]
    assert "Other CPU 9000" in table and table.count("\n| ") == 3  # header + two combinations


def test_the_report_tells_which_runs_trained_on_the_same_data(tmp_path):
    """Each offline run records the fingerprint of its data; the report lists it per run and splits the machines
    table by it, so runs on regenerated (different) data are visible; a run from before the record says so."""
    from nacre.datasets import data_fingerprint
    from nacre.evaluation.report import ReportOptions, write_report

    old, new = {"0": "ab" * 32, "1": "cd" * 32}, {"0": "ab" * 32, "1": "ef" * 32}
    root = tmp_path / "runs"
    runs = [_offline_run(root / "a0", "macaw", 0, [1.0], [[10.0, 20.0]], checksums=old),
            _offline_run(root / "a1", "macaw", 1, [1.0], [[12.0, 18.0]], checksums=old),
            _offline_run(root / "b2", "macaw", 2, [1.0], [[14.0, 30.0]], checksums=new),
            _offline_run(root / "c3", "macaw", 3, [1.0], [[11.0, 19.0]])]  # fmt: skip
    meta = json.loads((runs[2] / "config.json").read_text())
    assert meta["dataset"] == {"fingerprint": data_fingerprint(new), "checksums": new}
    assert "dataset" not in json.loads((runs[3] / "config.json").read_text())
    report = write_report(runs, tmp_path / "out", ReportOptions(reps=20))
    rows = {Path(r["run"]).name: r["dataset"] for r in report.run_table()}
    assert rows == {"a0": data_fingerprint(old)[:12], "a1": data_fingerprint(old)[:12],
                    "b2": data_fingerprint(new)[:12], "c3": "not recorded"}  # fmt: skip
    table = (tmp_path / "out" / "report.md").read_text().split("## Machines and versions", 1)[1]
    assert table.count("\n| ") == 1 + 3  # the header and three data combinations
    assert f"| {data_fingerprint(old)[:12]} | a0, a1 |" in table
    assert _rows(tmp_path / "out" / "runs.csv")[2]["dataset"] == data_fingerprint(new)[:12]
