"""benchmarks/archive_runs.py keeps what a report needs: the report of the copies equals the report of the runs."""

import importlib.util
from pathlib import Path

from nacre.cli import main
from nacre.evaluation.report import ReportOptions, build_report

_spec = importlib.util.spec_from_file_location(
    "archive_runs", Path(__file__).resolve().parents[2] / "benchmarks" / "archive_runs.py"
)
archive_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(archive_runs)


def _finals(report):
    return [(g.label, g.final.tolist()) for g in report.groups]


def test_archived_runs_report_as_the_runs_do(tmp_path, capsys):
    runs = []
    for seed in (0, 1):
        run = tmp_path / "runs" / f"tiny-s{seed}"
        assert main(["train", "pearl", "sparse-point-robot", "--preset", "tiny", "--seed", str(seed),
                     "--run-dir", str(run), "--no-progress", "--no-tensorboard"]) == 0  # fmt: skip
        runs.append(run)
    out = tmp_path / "results"
    assert archive_runs.main([*map(str, runs), "--out", str(out)]) == 0
    copies = [out / r.name for r in runs]
    assert all(not (c / "checkpoints").exists() and (c / "progress.csv").is_file() for c in copies)
    assert list((copies[0] / "eval").glob("adaptation_iter*_final.npz"))
    options = ReportOptions(reps=200)
    original, archived = build_report(runs, options), build_report(copies, options)
    assert _finals(archived) == _finals(original) and len(archived.groups) == 1
    assert [r.rows for r in archived.runs] == [r.rows for r in original.runs]

    assert archive_runs.main([str(tmp_path), "--out", str(out)]) == 2  # not a run directory
    assert "is not a nacre run directory" in capsys.readouterr().err
