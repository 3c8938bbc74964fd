"""``nacre reproduce NAME --scale cpu|paper|...``: a paper figure's sweep (a spec shipped in ``nacre/scale/specs``),
then ``nacre report`` over its finished runs."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from nacre.scale import ScaleError
from nacre.scale.spec import SweepSpec, load_spec, select_trials
from nacre.scale.sweep import Echo, SweepResult, _stderr, plan, run_sweep


def specs_dir() -> Path:
    """The directory of the shipped specs."""
    return Path(str(resources.files("nacre.scale").joinpath("specs")))


def available_specs() -> list[str]:
    """Names of the shipped specs (``pearl-fig3``, ...)."""
    return sorted(p.stem for p in specs_dir().glob("*.yaml"))


def spec_path(name: str) -> Path:
    path = specs_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ScaleError(f"no shipped spec {name!r}; choose one of {', '.join(available_specs())}")
    return path


def load_shipped(name: str, scale: str, data_root: str | Path | None = None, check_datasets: bool = True) -> SweepSpec:
    return load_spec(spec_path(name), scale=scale, data_root=data_root, label=name, check_datasets=check_datasets)


@dataclass
class Reproduction:
    spec: SweepSpec
    sweep: SweepResult
    report_dir: Path | None


def write_sweep_report(run_dirs: Sequence[Path], out: Path, options: dict[str, Any], command: str | None,
                       echo: Echo = _stderr) -> Path | None:  # fmt: skip
    """``nacre report`` over ``run_dirs`` into ``out`` (its Python API); None if there is nothing to report."""
    if not run_dirs:
        echo("nacre: no finished runs to report on yet")
        return None
    try:
        from nacre.evaluation.report import ReportError, ReportOptions, counted, write_report
    except ImportError:  # pragma: no cover - nacre report ships with nacre now; kept for partial installs
        words = " ".join(shlex.quote(str(p)) for p in run_dirs)
        echo(f"nacre: this nacre has no report module; run later: nacre report {words} --out {out}")
        return None
    try:
        kwargs = {("reps" if key == "bootstrap_reps" else key): value for key, value in options.items()}
        report = write_report(list(run_dirs), out, ReportOptions(**kwargs), command=command)
    except ReportError as exc:
        raise ScaleError(f"report: {exc}") from None
    except TypeError as exc:
        raise ScaleError(f"report options {options}: {exc}") from None
    echo(
        f"nacre: report on {counted(len(report.runs), 'run')} in {counted(len(report.groups), 'group')}: "
        f"{out / 'report.md'}"
    )
    return out


def reproduce(name: str, scale: str, *, root: str | Path | None = None, data_root: str | Path | None = None,
              address: str | None = None, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
              max_concurrent: int | None = None, retries: int = 0, report: bool = True,
              seeds: Sequence[int] | None = None, algorithms: Sequence[str] | None = None,
              distributions: Sequence[str] | None = None, echo: Echo = _stderr) -> Reproduction:  # fmt: skip
    """Run the shipped spec ``name`` at ``scale`` under ``root`` (default ``runs/<name>-<scale>``), then write
    its report to ``ROOT/report``.

    ``seeds``, ``algorithms`` and ``distributions`` run only those trials (the rest can run later into the same
    root); the report covers every trial of the spec that is trained to the end under ``root``.
    """
    full = load_shipped(name, scale, data_root)
    spec = select_trials(full, seeds=seeds, algorithms=algorithms, distributions=distributions)
    root = Path(root) if root is not None else Path("runs") / f"{name}-{scale}"
    result = run_sweep(spec, root, address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                       max_concurrent=max_concurrent, retries=retries, echo=echo, name=f"{name}-{scale}")  # fmt: skip
    out = None
    if report:
        runs = result.run_dirs()
        if spec.trials != full.trials:  # the other trials' finished runs too
            runs = [p.run_dir for p in plan(full, root) if p.state == "done"]
        words = ["nacre", "report", *map(str, runs), "--out", str(root / "report")]
        for key, value in spec.report.items():
            words += [f"--{key.replace('_', '-')}", str(value)]
        out = write_sweep_report(runs, root / "report", spec.report, shlex.join(words), echo)
    return Reproduction(spec, result, out)
