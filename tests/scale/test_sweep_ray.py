"""Sweeps on a local Ray (2 CPUs): trials write the run directories ``nacre train`` writes, a rerun skips finished
trials, and a trial whose worker died resumes on the rerun and ends equal to an uninterrupted run."""

import json
import textwrap

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

from nacre.cli import main  # noqa: E402
from nacre.scale.spec import load_spec  # noqa: E402
from nacre.scale.sweep import FAIL_AFTER_ENV, run_sweep  # noqa: E402


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(tmp_path_factory.mktemp("r")),
             logging_level="WARNING")  # fmt: skip
    yield
    ray.shutdown()


def _rows(run_dir):
    """progress.jsonl rows without the timing columns (env steps are counters, not timing)."""
    rows = [json.loads(line) for line in (run_dir / "progress.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time/") or k == "time/env_steps"} for r in rows]


def _final_eval(run_dir):
    (path,) = sorted((run_dir / "eval").glob("*_final.npz"))
    with np.load(path) as data:
        return path.name, {k: data[k] for k in data.files}


def _nacre_train(trial, run_dir):
    argv = trial.train_argv(run_dir)[1:] + ["--no-progress"]
    assert main(argv) == 0


def _spec(tmp_path, body):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(body))
    return load_spec(path)


def test_sweep_2x2_writes_the_runs_nacre_train_writes(tmp_path, local_ray, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = _spec(tmp_path, """
        name: kl
        defaults: {preset: tiny, seeds: [0, 1]}
        entries:
          - algorithm: pearl
            distribution: sparse-point-robot
            grid: {kl_lambda: [0.1, 1.0]}
        """)  # fmt: skip
    root = tmp_path / "sweep"
    result = run_sweep(spec, root, cpus_per_trial=1, max_concurrent=2)
    assert result.ok and sorted(result.finished) == sorted(t.name for t in spec.trials)
    for trial in spec.trials:
        swept = root / trial.name
        assert sorted(p.name for p in swept.iterdir()) == ["checkpoints", "config.json", "eval", "progress.csv",
                                                           "progress.jsonl", "tasks.json", "tb"]  # fmt: skip
        alone = tmp_path / "train" / trial.name
        _nacre_train(trial, alone)
        assert _rows(swept) == _rows(alone) and len(_rows(swept)) == 2
        name_a, eval_a = _final_eval(swept)
        name_b, eval_b = _final_eval(alone)
        assert name_a == name_b and eval_a.keys() == eval_b.keys()
        for key in eval_a:
            np.testing.assert_array_equal(eval_a[key], eval_b[key])
        meta = json.loads((swept / "config.json").read_text())
        assert meta["config"] == json.loads((alone / "config.json").read_text())["config"]
        assert meta["command"][:3] == ["nacre", "train", "pearl"] and meta["command"][-1] == str(swept)
    capsys.readouterr()
    assert main(["eval", str(root / spec.trials[0].name), "--no-progress"]) == 0  # the CLI reads a swept run
    again = run_sweep(spec, root)  # everything is done: nothing runs
    assert again.finished == [] and sorted(again.skipped_done) == sorted(t.name for t in spec.trials)


def test_killed_trial_resumes_on_rerun_and_equals_an_uninterrupted_run(tmp_path, local_ray, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = _spec(tmp_path, """
        entries:
          - algorithm: pearl
            distribution: sparse-point-robot
            preset: tiny
            seeds: [4]
            config: {num_iterations: 4, eval_every: 2}
        """)  # fmt: skip
    (trial,) = spec.trials
    root = tmp_path / "sweep"
    monkeypatch.setenv(FAIL_AFTER_ENV, "2:exit")  # the worker process dies after its 2nd iteration
    first = run_sweep(spec, root)
    assert list(first.failed) == [trial.name] and "died" in first.failed[trial.name]
    run_dir = root / trial.name
    assert len(_rows(run_dir)) == 2 and not (run_dir / "eval").exists()

    monkeypatch.delenv(FAIL_AFTER_ENV)
    second = run_sweep(spec, root)
    assert second.finished == [trial.name] and second.plans[0].state == "resume"
    alone = tmp_path / "alone"
    _nacre_train(trial, alone)
    assert _rows(run_dir) == _rows(alone) and len(_rows(run_dir)) == 4
    name_a, eval_a = _final_eval(run_dir)
    name_b, eval_b = _final_eval(alone)
    assert name_a == name_b
    for key in eval_a:
        np.testing.assert_array_equal(eval_a[key], eval_b[key])


def test_raising_trial_is_reported_and_others_finish(tmp_path, local_ray, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = _spec(tmp_path, """
        entries:
          - {algorithm: pearl, distribution: point-robot, preset: tiny, seeds: [0], config: {num_iterations: 1}}
          - {algorithm: pearl, distribution: point-robot, preset: tiny, seeds: [1], config: {num_iterations: 3}}
        """)  # fmt: skip
    monkeypatch.setenv(FAIL_AFTER_ENV, "2")  # raises after 2 iterations: only the 3-iteration trial fails
    result = run_sweep(spec, tmp_path / "sweep")
    assert result.finished == ["pearl-point-robot-tiny-s0"]
    assert "injected failure after 2 iterations" in result.failed["pearl-point-robot-tiny-s1"]


def test_reproduce_runs_the_sweep_then_the_report(tmp_path, local_ray, monkeypatch, capsys):
    from nacre.scale import reproduce

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "tiny-fig.yaml").write_text(textwrap.dedent("""
        name: tiny-fig
        defaults: {distribution: sparse-point-robot, preset: tiny}
        scales:
          cpu: {defaults: {seeds: [0, 1]}}
          paper: {defaults: {seeds: [0, 1, 2]}}
        report: {metric: success, bootstrap_reps: 200}
        entries:
          - algorithm: pearl
            grid: {use_information_bottleneck: [true, false]}
          - algorithm: maesn-not-yet
        """).replace("maesn-not-yet", "maesn"))  # fmt: skip
    monkeypatch.setattr(reproduce, "specs_dir", lambda: specs)
    from nacre.algos.registry import ALGORITHMS

    monkeypatch.delitem(ALGORITHMS, "maesn")  # the one registry every module reads
    root = tmp_path / "fig"
    assert main(["reproduce", "tiny-fig", "--scale", "cpu", "--root", str(root)]) == 0
    err = capsys.readouterr().err
    assert "skipping 2 maesn trials of entry 2 (sparse-point-robot): algorithm 'maesn' is not in this nacre yet" in err
    assert "4 trials trained" in err and (root / "report" / "report.md").is_file()
    report = (root / "report" / "report.md").read_text()
    assert "use_information_bottleneck=false" in report and "--metric success" in report
