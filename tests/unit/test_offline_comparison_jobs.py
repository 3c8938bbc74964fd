"""benchmarks/offline_comparison.py --jobs: worker command lines, seed-major order, the concurrency cap, failures."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(_BENCHMARKS))  # the script imports archive_runs from beside it
_spec = importlib.util.spec_from_file_location("offline_comparison", _BENCHMARKS / "offline_comparison.py")
offline_comparison = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(offline_comparison)


def _args(tmp_path, *extra):
    argv = ["--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "out"), *extra]
    return offline_comparison.build_parser().parse_args(argv)


def test_worker_command_reparses_to_one_run_of_the_grid(tmp_path):
    args = _args(tmp_path, "--iterations", "50", "--preset", "tiny", "--archive", str(tmp_path / "arch"))
    cmd = offline_comparison.worker_command("offline-pearl", "ood", 3, args)
    assert cmd[1] == str(_BENCHMARKS / "offline_comparison.py")
    worker = offline_comparison.build_parser().parse_args(cmd[2:])
    assert (worker.methods, worker.splits, worker.seeds) == (["offline-pearl"], ["ood"], [3])
    assert (worker.dataset, worker.out, worker.archive) == (args.dataset, args.out, args.archive)
    assert (worker.preset, worker.iterations, worker.domain) == ("tiny", 50, "cheetah-vel")
    assert worker.skip_report and worker.jobs == 1  # a worker trains its run and never forks again


def test_jobs_run_seed_major_at_most_n_at_a_time_and_report_failures(tmp_path, monkeypatch):
    """Each fake worker records its start and end time and its thread setting; the ``bad`` method fails."""
    record = tmp_path / "record"
    record.mkdir()
    script = (
        "import json, os, sys, time; name = sys.argv[1]; t0 = time.time(); print('hello from', name); "
        "time.sleep(0.4); json.dump([name, t0, time.time(), os.environ.get('OMP_NUM_THREADS')], "
        f"open(os.path.join({str(record)!r}, name), 'w')); sys.exit(1 if name.startswith('bad') else 0)"
    )

    def fake_worker(method, split, seed, args):
        return [sys.executable, "-c", script, f"{method}-{split}-s{seed}"]

    monkeypatch.setattr(offline_comparison, "worker_command", fake_worker)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    args = _args(
        tmp_path, "--methods", "macaw", "mt-finetune", "--splits", "id", "ood", "--seeds", "0", "1", "--jobs", "2"
    )
    args.methods.append("bad")  # not a choice of the parser: only the fake worker knows it
    failed = offline_comparison.run_in_parallel(args)

    runs = [json.loads(f.read_text()) for f in record.iterdir()]
    assert len(runs) == 12  # 3 methods x 2 splits x 2 seeds
    assert {r[3] for r in runs} == {"1"}  # one torch thread per worker whatever the caller's setting
    starts = sorted(runs, key=lambda r: r[1])
    assert [r[0].endswith("-s0") for r in starts] == [True] * 6 + [False] * 6  # every run of seed 0 first
    for _, t0, _, _ in runs:  # never more than two at once
        assert sum(1 for _, a, b, _ in runs if a <= t0 < b) <= 2
    assert sorted(p.name for p in failed) == ["bad-id-s0.log", "bad-id-s1.log", "bad-ood-s0.log", "bad-ood-s1.log"]
    assert (args.out / "logs" / "macaw-ood-s1.log").read_text().strip() == "hello from macaw-ood-s1"


def test_jobs_below_one_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["offline_comparison.py", "--dataset", "d", "--out", str(tmp_path), "--jobs", "0"])
    with pytest.raises(SystemExit) as stop:
        offline_comparison.main()
    assert stop.value.code == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err


def _fake_run(out, name, algorithm, iteration, num_iterations):
    run = out / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / f"iter_{iteration:06d}.pt").write_bytes(b"")
    (run / "config.json").write_text(json.dumps({"algorithm": algorithm, "config": {"num_iterations": num_iterations}}))
    return run


def test_finished_runs_and_cached_evaluations_are_not_loaded(tmp_path, monkeypatch):
    """The report pass after ``--jobs`` must not rebuild every trainer (an offline one reads its whole dataset)."""

    def no_loading(*a, **kw):
        raise AssertionError("loaded a trainer")

    monkeypatch.setattr(offline_comparison, "load_trainer", no_loading)
    monkeypatch.setattr(offline_comparison, "resume_trainer", no_loading)
    args = _args(tmp_path)
    done = _fake_run(args.out, "macaw-id-s0", "macaw", 3, 3)
    assert offline_comparison.is_finished(done, args)
    assert offline_comparison.run_one("macaw", "id", 0, args) == done
    cached = {"iteration": 3, "steps": offline_comparison.STEPS, "k": 8, "returns": [[[1.0]]]}
    (done / "eval").mkdir()
    (done / "eval" / "offline_k8.json").write_text(json.dumps(cached))
    assert offline_comparison.evaluate(done, 8) == cached

    # a run short of --iterations, or a cache of an older checkpoint, is loaded
    args = _args(tmp_path, "--iterations", "4")
    assert not offline_comparison.is_finished(done, args)
    with pytest.raises(AssertionError, match="loaded a trainer"):
        offline_comparison.run_one("macaw", "id", 0, args)
    (done / "checkpoints" / "iter_000004.pt").write_bytes(b"")
    with pytest.raises(AssertionError, match="loaded a trainer"):
        offline_comparison.evaluate(done, 8)
    # offline PEARL's cache holds only n = 0, so MACAW's steps don't match it
    pearl = _fake_run(args.out, "offline-pearl-id-s0", "offline-pearl", 2, 2)
    (pearl / "eval").mkdir()
    (pearl / "eval" / "offline_k8.json").write_text(json.dumps({**cached, "iteration": 2, "steps": [0]}))
    assert offline_comparison.evaluate(pearl, 8)["steps"] == [0]
    assert not offline_comparison.is_finished(tmp_path / "missing", args)


def test_one_run_end_to_end_on_point_robot_data(tmp_path, monkeypatch, capsys, point_dataset):
    """A worker's path for one run: train with a line per iteration, evaluate (cached); then the report pass
    finds it finished without rebuilding its trainer."""
    monkeypatch.setitem(offline_comparison.DOMAINS, "point", {"id": "point-robot"})
    args = _args(tmp_path, "--preset", "tiny", "--iterations", "2")
    args.dataset, args.domain = point_dataset, "point"
    run = offline_comparison.run_one("mt-finetune", "id", 0, args)
    out = capsys.readouterr().out
    assert "mt-finetune-id-s0: iteration 1/2 after" in out and "mt-finetune-id-s0: iteration 2/2 after" in out
    assert offline_comparison.newest_iteration(run) == 2 and offline_comparison.is_finished(run, args)
    first = offline_comparison.evaluate(run, 8)
    assert first["iteration"] == 2 and first["steps"] == offline_comparison.STEPS
    command = json.loads((run / "config.json").read_text())["command"]  # how the run was made, recorded
    assert command[0] == "python" and command[1:] == sys.argv

    def no_loading(*a, **kw):
        raise AssertionError("loaded a trainer")

    monkeypatch.setattr(offline_comparison, "load_trainer", no_loading)
    monkeypatch.setattr(offline_comparison, "resume_trainer", no_loading)
    assert offline_comparison.run_one("mt-finetune", "id", 0, args) == run
    assert offline_comparison.evaluate(run, 8) == first


def test_a_run_stopped_before_its_first_checkpoint_is_restarted(tmp_path, monkeypatch, capsys, point_dataset):
    """A run killed in its first iteration leaves config.json and no checkpoint: the next invocation continues it
    (as nacre train --resume does) instead of refusing the directory."""
    monkeypatch.setitem(offline_comparison.DOMAINS, "point", {"id": "point-robot"})
    args = _args(tmp_path, "--preset", "tiny", "--iterations", "1")
    args.dataset, args.domain = point_dataset, "point"
    run = offline_comparison.run_one("mt-finetune", "id", 0, args)
    for ckpt in (run / "checkpoints").iterdir():  # as if killed before the first checkpoint was written
        ckpt.unlink()
    assert (run / "config.json").exists() and offline_comparison.newest_iteration(run) == 0
    assert offline_comparison.run_one("mt-finetune", "id", 0, args) == run
    assert offline_comparison.newest_iteration(run) == 1 and offline_comparison.is_finished(run, args)


def _archived_copy(archive, name, algorithm, seed, iteration, num_iterations, steps):
    copy = archive / name
    (copy / "eval").mkdir(parents=True)
    config = {"algorithm": algorithm, "config": {"num_iterations": num_iterations, "seed": seed}}
    (copy / "config.json").write_text(json.dumps(config))
    for k in offline_comparison.KS:
        cached = {"iteration": iteration, "grad_steps": 10 * iteration, "k": k, "steps": steps,
                  "returns": [[[float(k)] * len(steps)]], "wall_clock": 5.0}  # fmt: skip
        (copy / "eval" / f"offline_k{k}.json").write_text(json.dumps(cached))
    return copy


def test_runs_finished_in_the_archive_are_not_run_again_and_enter_the_tables(tmp_path, monkeypatch):
    """A benchmark continued on a machine that lost the run directories: the archived runs (no checkpoints) are
    skipped by --jobs and by the report pass, and their archived evaluations are what the tables read."""
    archive = tmp_path / "arch"
    args = _args(tmp_path, "--iterations", "3", "--archive", str(archive), "--methods", "macaw", "offline-pearl",
                 "--splits", "id", "--seeds", "0", "1", "--jobs", "2")  # fmt: skip
    _archived_copy(archive, "macaw-id-s0", "macaw", 0, 3, 3, offline_comparison.STEPS)
    _archived_copy(archive, "offline-pearl-id-s0", "offline-pearl", 0, 3, 3, [0])
    _archived_copy(archive, "macaw-id-s1", "macaw", 1, 2, 3, offline_comparison.STEPS)  # short of --iterations
    _archived_copy(archive, "offline-pearl-id-s1", "macaw", 1, 3, 3, [0])  # another algorithm under that name
    assert offline_comparison.archived_evaluations("macaw", "id", 0, args)[256]["returns"] == [[[256.0] * 8]]
    assert offline_comparison.archived_evaluations("offline-pearl", "id", 0, args) is not None
    assert offline_comparison.archived_evaluations("macaw", "id", 1, args) is None
    assert offline_comparison.archived_evaluations("offline-pearl", "id", 1, args) is None
    assert offline_comparison.archived_evaluations("macaw", "ood", 0, args) is None  # not archived
    assert offline_comparison.archived_evaluations("macaw", "id", 0, _args(tmp_path)) is None  # no --archive

    started = []

    def fake_worker(method, split, seed, _args):
        started.append(f"{method}-{split}-s{seed}")
        return [sys.executable, "-c", ""]

    monkeypatch.setattr(offline_comparison, "worker_command", fake_worker)
    assert offline_comparison.run_in_parallel(args) == []
    assert sorted(started) == ["macaw-id-s1", "offline-pearl-id-s1"]

    def no_training(*a, **kw):
        raise AssertionError("trained or loaded a run")

    monkeypatch.setattr(offline_comparison, "run_one", no_training)
    monkeypatch.setattr(offline_comparison, "evaluate", no_training)
    monkeypatch.setattr(offline_comparison, "plot", lambda *a: None)
    monkeypatch.setattr(offline_comparison, "plot_learning_curves", lambda *a: None)
    argv = ["offline_comparison.py", "--dataset", "d", "--out", str(args.out), "--iterations", "3", "--archive",
            str(archive), "--methods", "macaw", "offline-pearl", "--splits", "id", "--seeds", "0"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    offline_comparison.main()  # the report pass over the archived runs alone
    summary = json.loads((args.out / "summary.json").read_text())
    assert summary["macaw/id"]["8"][0]["returns"] == [[[8.0] * 8]]
    assert summary["offline-pearl/id"]["256"][0]["steps"] == [0]
    assert offline_comparison.run_source("macaw", "id", 0, args) == archive / "macaw-id-s0"


def test_jobs_one_trains_seed_major_in_process_and_skips_archived_runs(tmp_path, monkeypatch):
    """Without --jobs the grid is trained in this process in the --jobs order (whole seeds first), archived runs
    are not trained, and the report pass that follows trains nothing more."""
    archive = tmp_path / "arch"
    _archived_copy(archive, "macaw-id-s0", "macaw", 0, 3, 3, offline_comparison.STEPS)
    trained = []

    def fake_finish(method, split, seed, args):
        trained.append(f"{method}-{split}-s{seed}")
        return None  # as a run with no checkpoint yet: nothing enters the tables

    monkeypatch.setattr(offline_comparison, "finish_run", fake_finish)
    monkeypatch.setattr(offline_comparison, "plot", lambda *a: None)
    monkeypatch.setattr(offline_comparison, "plot_learning_curves", lambda *a: None)
    argv = ["offline_comparison.py", "--dataset", "d", "--out", str(tmp_path / "out"), "--iterations", "3",
            "--archive", str(archive), "--methods", "macaw", "mt-finetune", "--splits", "id", "ood",
            "--seeds", "0", "1"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    offline_comparison.main()
    seed_major = ["mt-finetune-id-s0", "macaw-ood-s0", "mt-finetune-ood-s0",
                  "macaw-id-s1", "mt-finetune-id-s1", "macaw-ood-s1", "mt-finetune-ood-s1"]  # fmt: skip
    assert trained[:7] == seed_major  # the training pass; the archived macaw-id-s0 is not among them
    assert sorted(trained[7:]) == sorted(seed_major)  # the report pass asks each unarchived run once more
