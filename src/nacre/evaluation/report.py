"""``nacre report``: statistics across seeds for groups of runs, as figures, a markdown report and tables.

Run directories are grouped into experiments (:func:`nacre.evaluation.runs.group_key`: same algorithm, task
distribution and config apart from the seed and bookkeeping). Runs of one distribution id built with different
``env_kwargs`` count as different distributions (figures, tables and comparisons apart). For each group:

- learning curves from ``progress.jsonl``: test return (and success rate where the log has it) against
  meta-training env steps (PEARL, MAML-TRPO, ProMP) or outer steps (offline methods), seeds aligned on common x
  points;
- the adaptation curve from each run's newest saved evaluation (``RUN/eval/*.npz``, written by ``nacre eval`` and
  at the end of training): the score of trajectory k (PEARL) or after n test-time steps (offline and on-policy
  methods);
- the final score: the adaptation curve at the reported point (PEARL: the first trajectory after exploration;
  offline: the meta-trained number of test-time steps), or the last logged test value of runs never evaluated.

Curves carry the IQM across seeds with a stratified-bootstrap band; final scores get IQM, median, mean and
optimality gap with intervals, and every pair of groups on the same distribution the probability of improvement
(all from :mod:`nacre.evaluation.metrics`). Where groups learn against env steps (PEARL and the on-policy
methods), their learning curves also share one figure (linear and log x) and the *sample efficiency* is
tabulated: the env steps each group's IQM curve needs to reach a reference group's IQM at a reference point
(the PEARL paper's Fig. 2 comparison). The unit of resampling is the seed; held-out tasks are the strata when
every run on the distribution was evaluated on the same tasks (offline task sets), otherwise each seed's score is
its mean over its own tasks (one stratum). Entry point: :func:`write_report`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from nacre import __version__
from nacre.evaluation import metrics
from nacre.evaluation.runs import (
    IGNORED_FIELDS,
    RunReadError,
    derive_command,
    eval_files,
    git_revision,
    group_key,
    named_eval_tag,
    read_meta,
    recorded_command,
)
from nacre.logging import read_jsonl

#: ``--metric`` -> the array of an evaluation file
METRICS = {"return": "returns", "dense-return": "dense_returns", "success": "success"}
_STAT_NAMES = {"iqm": "IQM", "median": "median", "mean": "mean", "optimality_gap": "optimality gap"}


class ReportError(ValueError):
    """The report cannot be made as asked (the message says why, in one line)."""


@dataclass(frozen=True)
class ReportOptions:
    """What to compute: the score (``metric``), the bootstrap and the optimality-gap threshold."""

    metric: str = "return"
    reps: int = 2000
    seed: int = 0
    confidence: float = 0.95
    #: optimality-gap threshold gamma; ``None``: 1.0 for the success metric, no gap for returns
    threshold: float | None = None
    labels: Sequence[str] | None = None
    #: read ``nacre eval --name NAME``'s evaluations instead of the default ones
    evaluation: str | None = None
    #: label of the sample-efficiency reference group; ``None``: the one PEARL group of each distribution
    reference: str | None = None
    #: env steps at which the reference's return is read; ``None``: its last learning-curve point
    reference_steps: float | None = None
    #: sample efficiency reads every IQM learning curve averaged over its last N logged points (the target and
    #: the crossings alike), so one lucky evaluation neither sets the target nor counts as reaching it
    efficiency_window: int = 3

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ReportError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        if int(self.reps) != self.reps or self.reps <= 0:
            raise ReportError(f"bootstrap repetitions must be a positive integer, got {self.reps}")
        if not 0 < self.confidence < 1:
            raise ReportError(f"confidence must be between 0 and 1 (exclusive), got {self.confidence}")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ReportError(f"threshold must be a finite number, got {self.threshold}")
        if self.evaluation is not None:
            try:
                named_eval_tag(self.evaluation)
            except ValueError as exc:
                raise ReportError(f"evaluation name {exc}") from None
        if self.reference_steps is not None and not (math.isfinite(self.reference_steps)
                                                     and self.reference_steps > 0):  # fmt: skip
            raise ReportError(f"reference steps must be a positive number, got {self.reference_steps}")
        if isinstance(self.efficiency_window, bool) or int(self.efficiency_window) != self.efficiency_window \
                or self.efficiency_window < 1:  # fmt: skip
            raise ReportError(f"efficiency window must be a positive integer, got {self.efficiency_window}")

    @property
    def gamma(self) -> float | None:
        return self.threshold if self.threshold is not None else (1.0 if self.metric == "success" else None)


# ---------------------------------------------------------------------------------------------- reading runs
@dataclass
class Run:
    """One run directory as the report needs it."""

    path: Path
    meta: dict[str, Any]
    rows: list[dict[str, Any]]
    eval_file: Path | None
    eval: dict[str, np.ndarray] | None
    test_tasks: str | None  # JSON of the held-out tasks (tasks.json), for comparing runs' tasks

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    @property
    def algorithm(self) -> str:
        return self.meta["algorithm"]

    @property
    def distribution(self) -> str:
        """The task distribution's id, followed by the run's ``env_kwargs`` where it set any: runs built with
        other keyword arguments (another goal radius, say) are other tasks, reported and compared apart."""
        kwargs = self.config.get("env_kwargs") or {}
        words = [f"{k}={json.dumps(v, separators=(',', ':')) if not isinstance(v, str) else v}"
                 for k, v in sorted(kwargs.items())]  # fmt: skip
        return " ".join([str(self.meta["distribution"]), *words])

    @property
    def seed(self) -> Any:
        return self.config.get("seed", "?")

    @property
    def offline(self) -> bool:
        """Adaptation by test-time steps (the offline methods and the on-policy ones), not by trajectories."""
        return self.algorithm != "pearl"

    @property
    def kind(self) -> str:
        """``online`` (PEARL), ``onpolicy`` (MAML-TRPO, ProMP: env steps and adaptation by steps) or ``offline``
        (no env steps): runs of different kinds go on different figures."""
        from nacre.algos.onpolicy import ON_POLICY_ALGORITHMS

        return "online" if not self.offline else "onpolicy" if self.algorithm in ON_POLICY_ALGORITHMS else "offline"

    @property
    def reported_trajectory(self) -> int:
        """PEARL: index of the trajectory the log reports (the first after exploration)."""
        c = self.config
        return max(0, min(int(c.get("num_exp_traj_eval", 0)), int(c.get("num_eval_trajectories", 1)) - 1))

    def last(self, key: str) -> float | None:
        for row in reversed(self.rows):
            if key in row:
                return _as_float(row[key])
        return None


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def load_run(path: Path, evaluation: str | None = None) -> Run:
    """Read a run directory (config, progress log, newest held-out evaluation, or with ``evaluation`` the newest
    of ``nacre eval --name`` that name, test tasks)."""
    path = Path(path)
    try:
        meta = read_meta(path)
    except RunReadError as exc:
        hint = ""
        if path.is_dir() and not (path / "config.json").exists():
            inner = sorted(p.name for p in path.iterdir() if (p / "config.json").is_file())
            if inner:
                hint = f"; it holds runs ({', '.join(inner[:3])}{', ...' if len(inner) > 3 else ''}): pass {path}/*"
        raise ReportError(f"{exc}{hint}") from None
    rows: list[dict[str, Any]] = []
    log = path / "progress.jsonl"
    if log.is_file():
        try:
            rows = read_jsonl(log)
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"{log} is unreadable: {exc}") from None
    files = eval_files(path, evaluation)
    data = None
    if files:
        try:
            with np.load(files[-1]) as npz:
                data = {k: npz[k] for k in npz.files}
        except Exception as exc:  # noqa: BLE001 - zip, pickle and value errors of a damaged file
            raise ReportError(f"{files[-1]} is unreadable: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
        for key in METRICS.values():
            if key not in data or data[key].ndim != 3:
                raise ReportError(f"{files[-1]} is not a nacre evaluation (no [runs, tasks, points] array {key!r})")
        if "steps" in data and len(data["steps"]) != data["returns"].shape[2]:
            raise ReportError(f"{files[-1]}: 'steps' does not match the returns array")
    test_tasks = None
    tasks_file = path / "tasks.json"
    if tasks_file.is_file():
        try:
            test_tasks = json.dumps(json.loads(tasks_file.read_text()).get("test"), sort_keys=True)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            test_tasks = None
    return Run(path, meta, rows, files[-1] if files else None, data, test_tasks)


# ---------------------------------------------------------------------------------------------- curves
@dataclass
class Curve:
    """Per-seed values ``[seeds, strata, points]`` at ``x``, with the IQM and its bootstrap band once computed."""

    x: np.ndarray
    values: np.ndarray
    interpolated: bool = False
    summary: metrics.Interval | None = None


def _series(run: Run, y_key: str) -> tuple[np.ndarray, np.ndarray] | None:
    x_key = "time/grad_steps" if run.kind == "offline" else "time/env_steps"
    points: dict[float, float] = {}
    for row in run.rows:
        if y_key in row and x_key in row:
            points[_as_float(row[x_key])] = _as_float(row[y_key])  # a repeated x keeps the last row
    points = {x: y for x, y in points.items() if math.isfinite(x)}
    if not points:
        return None
    x = np.array(sorted(points))
    return x, np.array([points[v] for v in x])


def align(series: Sequence[tuple[np.ndarray, np.ndarray]]) -> Curve | None:
    """Seeds' curves ``(x, y)`` (x increasing) on common x points: the x of the seed with the fewest points inside
    the range every seed covers. A seed logged at exactly those x gives its values; otherwise its curve is
    linearly interpolated there (``interpolated`` is then set)."""
    low = max(float(x[0]) for x, _ in series)
    high = min(float(x[-1]) for x, _ in series)
    inside = [x[(x >= low) & (x <= high)] for x, _ in series]
    grid = min(inside, key=len)
    if not len(grid):
        return None
    values, interpolated = [], False
    for x, y in series:
        pos = np.minimum(np.searchsorted(x, grid), len(x) - 1)
        if np.array_equal(x[pos], grid):
            values.append(y[pos])
        else:
            values.append(np.interp(grid, x, y))
            interpolated = True
    return Curve(grid.astype(float), np.stack(values)[:, None, :], interpolated)


def _nanmean(a: np.ndarray, axis: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (every adaptation diverged) stay NaN
        return np.nanmean(a, axis=axis)


def _per_task(run: Run, metric: str) -> np.ndarray:
    """``[tasks, points]``: the metric averaged over the evaluation's independent runs (diverged ones ignored)."""
    assert run.eval is not None
    return _nanmean(run.eval[METRICS[metric]].astype(float), axis=0)


def _eval_x(run: Run) -> np.ndarray:
    assert run.eval is not None
    if run.offline and "steps" in run.eval:
        return run.eval["steps"].astype(float)
    return np.arange(1, run.eval["returns"].shape[2] + 1, dtype=float)


def _final_column(run: Run) -> int:
    """Index of the reported point of the run's evaluation (see the module docstring)."""
    assert run.eval is not None
    points = run.eval["returns"].shape[2]
    if not run.offline:
        return min(run.reported_trajectory, points - 1)
    if "steps" in run.eval:
        steps = run.eval["steps"].tolist()
        wanted = run.config.get("eval_steps")
        if wanted is None and "episodes_per_trial" in run.config:  # RL2: the last episode of a meta-trained trial
            wanted = int(run.config["episodes_per_trial"]) - 1
        return steps.index(wanted) if wanted in steps else int(np.argmax(steps))
    return points - 1


def _eval_iteration(run: Run) -> int | str:
    """The training iteration of the run's saved evaluation (``iteration`` in the file, else its name)."""
    assert run.eval is not None and run.eval_file is not None
    if "iteration" in run.eval:
        return int(run.eval["iteration"])
    match = re.search(r"adaptation_iter(\d+)_", run.eval_file.name)
    return int(match.group(1)) if match else "?"


def _final_label(run: Run) -> str:
    assert run.eval is not None
    j = _final_column(run)
    if not run.offline:
        return f"trajectory {j + 1} (after {j} exploration)"
    n = int(run.eval["steps"][j]) if "steps" in run.eval else j
    if run.algorithm == "rl2-ppo":  # its points are the episodes of one trial (docs/baselines.md)
        return f"episode {n + 1} of the trial"
    k = int(run.eval["num_transitions"]) if "num_transitions" in run.eval else None
    if run.kind == "onpolicy":  # its transitions are its own rollouts on the held-out task
        return f"{n} adaptation step{'s' if n != 1 else ''}" + (f" on {k} sampled transitions" if k else "")
    return f"{n} test-time step{'s' if n != 1 else ''}" + (f" on {k} transitions" if k else "")


# ---------------------------------------------------------------------------------------------- groups
@dataclass
class Group:
    key: str
    runs: list[Run]
    label: str = ""
    learning: dict[str, Curve] = field(default_factory=dict)  # "return", "success"
    adaptation: Curve | None = None
    final: np.ndarray | None = None  # [seeds, strata]
    final_source: str = ""
    final_stats: dict[str, metrics.Interval] = field(default_factory=dict)
    diverged: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: final score per task group (Meta-World's ML10 / ML45 classes): ``[seeds, strata]`` per group name
    final_by_task_group: dict[str, np.ndarray] = field(default_factory=dict)
    by_task_group_stats: dict[str, metrics.Interval] = field(default_factory=dict)  # IQM and CI per task group

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def distribution(self) -> str:
        return self.first.distribution

    @property
    def offline(self) -> bool:
        return self.first.offline

    @property
    def kind(self) -> str:
        return self.first.kind


def group_runs(runs: Sequence[Run], labels: Sequence[str] | None = None) -> list[Group]:
    """Groups in order of first appearance, labelled by ``labels`` (one per group) or automatically."""
    groups: dict[str, Group] = {}
    for run in runs:
        key = group_key(run.meta)
        groups.setdefault(key, Group(key, [])).runs.append(run)
    out = list(groups.values())
    if labels:
        if len(labels) != len(out):
            found = "; ".join(f"{_auto(g, out)} ({len(g.runs)} runs)" for g in out)
            raise ReportError(f"got {len(labels)} --label for {len(out)} groups of runs: {found}")
        if len(set(labels)) != len(labels):
            raise ReportError("--label values must differ from each other")
        names = list(labels)
    else:
        names = [_auto(g, out) for g in out]
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            seen[name] = seen.get(name, 0) + 1
            if names.count(name) > 1:
                names[i] = f"{name} #{seen[name]}"
    for g, name in zip(out, names, strict=True):
        g.label = name
    return out


def _auto(group: Group, groups: Sequence[Group]) -> str:
    """``algorithm [distribution] [field=value ...]``: the fields that set it apart from its siblings."""
    parts = [group.first.algorithm]
    if len({g.distribution for g in groups}) > 1:
        parts.append(_distribution_tag(group, groups))
    parts = [p for p in parts if p]
    siblings = [g for g in groups if g.first.algorithm == group.first.algorithm
                and g.distribution == group.distribution]  # fmt: skip
    if len(siblings) > 1:
        varying = [k for k in group.first.config if k not in IGNORED_FIELDS
                   and len({json.dumps(s.first.config.get(k), sort_keys=True) for s in siblings}) > 1]  # fmt: skip
        for k in varying[:3]:
            v = group.first.config.get(k)
            parts.append(f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}")
    return " ".join(parts)


def _distribution_tag(group: Group, groups: Sequence[Group]) -> str:
    """The part of the group's distribution that tells it from the others': the whole id when the task
    families differ, else only the ``env_kwargs`` words not shared by all (``goal_radius=0.8``)."""
    if len({g.first.meta["distribution"] for g in groups}) > 1:
        return group.distribution
    shared = set.intersection(*(set(g.distribution.split(" ")[1:]) for g in groups))
    return " ".join(w for w in group.distribution.split(" ")[1:] if w not in shared)


def _learning_curves(group: Group) -> None:
    keys = {"return": lambda r: "returns/test", "success": lambda r: _logged_key(r, "success")}
    for name, key_of in keys.items():
        series = [s for r in group.runs if (k := key_of(r)) and (s := _series(r, k)) is not None]
        if not series:
            continue
        if len(series) < len(group.runs):
            group.notes.append(f"learning curve ({name}): {len(group.runs) - len(series)} of {len(group.runs)} "
                               "runs have no logged test evaluation")  # fmt: skip
        curve = align(series)
        if curve is None:
            group.notes.append(f"learning curve ({name}): the seeds' logged x ranges do not overlap")
            continue
        if curve.interpolated:
            group.notes.append(f"learning curve ({name}): seeds logged at different x; interpolated linearly")
        group.learning[name] = curve


def _adaptation_curve(group: Group, metric: str, shared_tasks: bool) -> None:
    runs = [r for r in group.runs if r.eval is not None]
    if not runs:
        return
    if len(runs) < len(group.runs):
        group.notes.append(f"adaptation curve: {len(group.runs) - len(runs)} of {len(group.runs)} runs have no "
                           "saved evaluation (nacre eval RUN)")  # fmt: skip
    xs = [_eval_x(r) for r in runs]
    common = [x for x in xs[0] if all(x in other for other in xs[1:])]
    if not common:
        group.notes.append("adaptation curve: the seeds' evaluations share no adaptation point")
        return
    if any(len(x) != len(common) for x in xs):
        group.notes.append(f"adaptation curve: restricted to the {len(common)} points every seed evaluated")
    per_seed = []
    for run, x in zip(runs, xs, strict=True):
        cols = [int(np.flatnonzero(x == c)[0]) for c in common]
        values = _per_task(run, metric)[:, cols]  # [tasks, points]
        per_seed.append(values if shared_tasks else _nanmean(values, axis=0)[None, :])
    group.adaptation = Curve(np.array(common), np.stack(per_seed))


def _logged_key(run: Run, metric: str) -> str | None:
    """The progress.jsonl key holding ``metric`` at the reported point (the dense return is not logged)."""
    if metric == "return":
        return "returns/test"
    if metric == "success":  # PEARL logs each trajectory's; the others the reported column's (success/test)
        return "success/test" if run.offline else f"success/test_traj_{run.reported_trajectory + 1}"
    return None


def _logged_final(run: Run, metric: str) -> float | None:
    key = _logged_key(run, metric)
    return run.last(key) if key else None


def _scored(runs: Sequence[Run], metric: str) -> list[Run]:
    """Runs with a final score: a saved evaluation or a logged value (a run that never evaluated has none)."""
    return [r for r in runs if r.eval is not None or _logged_final(r, metric) is not None]


def _paths(runs: Sequence[Run]) -> str:
    return ", ".join(str(r.path) for r in runs[:3]) + (" ..." if len(runs) > 3 else "")


def _final_scores(group: Group, metric: str, shared_tasks: bool) -> None:
    runs = _scored(group.runs, metric)
    left_out = [r for r in group.runs if r not in runs]
    if left_out:
        group.notes.append(f"final {metric}: left out {_paths(left_out)} (no saved evaluation, no logged value)")
    if not runs:
        return
    if metric == "success":
        silent = [r for r in runs if r.eval is not None and "reports_success" in r.eval
                  and not bool(r.eval["reports_success"])]  # fmt: skip
        if silent:
            group.notes.append(f"final success: the tasks of {_paths(silent)} report no success (neither a sparse "
                               "goal nor info['success']): their success rates are 0 by construction")  # fmt: skip
    if all(r.eval is not None for r in runs):
        rows, diverged, episodes = [], 0, 0
        for r in runs:
            j = _final_column(r)
            values = _per_task(r, metric)[:, j]
            rows.append(values if shared_tasks else _nanmean(values, axis=0)[None])
            if "diverged" in r.eval:
                diverged += int(r.eval["diverged"][:, :, j].sum())
            episodes += r.eval["returns"][:, :, j].size
        group.final = np.stack(rows)
        group.diverged = diverged / episodes  # of all evaluation episodes at the reported point
        group.final_by_task_group = _by_task_group(runs, metric, shared_tasks)
        iterations = {r.path.name: _eval_iteration(r) for r in runs}
        if len(set(iterations.values())) > 1:
            ends = ", ".join(f"{name} {it}" for name, it in iterations.items())
            group.notes.append(f"final {metric}: the seeds were evaluated after different numbers of iterations "
                               f"({ends}); continue the shorter runs with nacre train --resume RUN "
                               "--num-iterations N to compare equal budgets")  # fmt: skip
        labels = sorted({_final_label(r) for r in runs})
        group.final_source = f"evaluation, {' / '.join(labels)}"
        return
    values = [_logged_final(r, metric) for r in runs]
    missing = [r for r in runs if r.eval is None]
    if all(v is not None for v in values):
        group.final = np.array(values, dtype=float)[:, None]
        group.final_source = "last logged test value (progress.jsonl)"
        group.notes.append(f"final score from the training log: no saved evaluation in {_paths(missing)}")
    else:
        group.notes.append(f"no final {metric} score: no saved evaluation in {_paths(missing)}, and the {metric} "
                           "is not in the training log of the others")  # fmt: skip


def _task_groups(run: Run) -> list[str] | None:
    """The task group (class) of each held-out task of the run's evaluation, if its family has groups."""
    assert run.eval is not None
    if "groups" not in run.eval:
        return None
    names = [str(g) for g in run.eval["groups"].tolist()]
    return names if any(names) else None


def _by_task_group(runs: Sequence[Run], metric: str, shared_tasks: bool) -> dict[str, np.ndarray]:
    """Final scores per task group, ``[seeds, strata]``: the group's tasks are the strata where every run was
    evaluated on the same tasks, else each seed's mean over its tasks of that group. Empty unless every run's
    evaluation names the task group of each task, all runs have the same groups and there are at least two."""
    names = [_task_groups(r) for r in runs]
    if any(n is None for n in names) or len({tuple(sorted(set(n))) for n in names}) != 1 or len(set(names[0])) < 2:
        return {}
    out: dict[str, np.ndarray] = {}
    for task_group in dict.fromkeys(g for g in names[0] if g):
        rows = []
        for r, groups in zip(runs, names, strict=True):
            values = _per_task(r, metric)[[i for i, g in enumerate(groups) if g == task_group], _final_column(r)]
            rows.append(values if shared_tasks else _nanmean(values, axis=0)[None])
        out[task_group] = np.stack(rows)
    return out


# ---------------------------------------------------------------------------------------------- the report
@dataclass
class Comparison:
    x: Group
    y: Group
    interval: metrics.Interval


@dataclass
class Reached:
    """One group's row of a sample-efficiency table: the first env steps at which its (window-averaged) IQM
    learning curve reached the target (``None``: not within ``last``, its last point); ``at_first``: already at
    its first logged point, so the true crossing may be earlier."""

    group: Group
    steps: float | None
    ratio: float | None  # steps over the reference point's env steps
    last: float
    seeds: int
    at_first: bool = False


@dataclass
class Efficiency:
    """The sample-efficiency comparison on one distribution: ``reference``'s IQM test return at env steps ``at``
    is the ``target``; every other env-step group's :class:`Reached` row, ratio = steps / ``at``."""

    reference: Group
    at: float
    target: float
    rows: list[Reached]


@dataclass
class Report:
    """Everything ``write_report`` computed (also written to ``report.json``)."""

    options: ReportOptions
    runs: list[Run]
    groups: list[Group]
    distributions: list[str]
    shared_tasks: dict[str, bool]
    comparisons: dict[str, list[Comparison]]
    efficiency: dict[str, Efficiency] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    _run_table: list[dict[str, Any]] | None = None

    def run_table(self) -> list[dict[str, Any]]:
        """One row per run: path, group, seed, command, git revision, wall-clock, counters, evaluation used."""
        if self._run_table is None:
            self._run_table = _run_rows(self)
        return self._run_table


def build_report(run_dirs: Sequence[Path], options: ReportOptions) -> Report:
    """Read ``run_dirs`` and compute every curve, table and comparison (no files written)."""
    if not run_dirs:
        raise ReportError("no run directories given")
    seen, runs = set(), []
    for path in run_dirs:
        resolved = Path(path).resolve()
        if resolved not in seen:
            seen.add(resolved)
            runs.append(load_run(Path(path), options.evaluation))
    groups = group_runs(runs, options.labels)
    distributions = list(dict.fromkeys(g.distribution for g in groups))
    shared: dict[str, bool] = {}
    for dist in distributions:
        members = [r for g in groups if g.distribution == dist for r in _scored(g.runs, options.metric)]
        shared[dist] = (all(r.eval is not None and r.test_tasks is not None for r in members)
                        and len({r.test_tasks for r in members}) == 1
                        and len({r.eval["returns"].shape[1] for r in members}) == 1)  # fmt: skip
    rng_seed = options.seed
    for g in groups:
        _learning_curves(g)
        _adaptation_curve(g, options.metric, shared[g.distribution])
        _final_scores(g, options.metric, shared[g.distribution])
        for curve in [*g.learning.values(), *([g.adaptation] if g.adaptation else [])]:
            curve.summary = metrics.stratified_bootstrap_ci(curve.values, metrics.iqm, options.reps,
                                                            options.confidence, rng_seed)  # fmt: skip
        if g.final is not None:
            g.final_stats = metrics.aggregate_intervals(g.final, options.gamma, options.reps, options.confidence,
                                                        rng_seed)  # fmt: skip
        g.by_task_group_stats = {name: metrics.stratified_bootstrap_ci(values, metrics.iqm, options.reps,
                                                                       options.confidence, rng_seed)
                                 for name, values in g.final_by_task_group.items()}  # fmt: skip
    comparisons: dict[str, list[Comparison]] = {}
    for dist in distributions:
        scored = [g for g in groups if g.distribution == dist and g.final is not None]
        comparisons[dist] = [
            Comparison(x, y, metrics.probability_of_improvement_ci(x.final, y.final, options.reps,
                                                                   options.confidence, rng_seed))
            for x, y in combinations(scored, 2) if x.final.shape[1] == y.final.shape[1]
        ]  # fmt: skip
    efficiency = _sample_efficiency(groups, distributions, options)
    return Report(options, runs, groups, distributions, shared, comparisons, efficiency)


def _env_step_groups(groups: Sequence[Group], dist: str) -> list[Group]:
    """The groups of ``dist`` whose learning curves are against env steps (PEARL, the on-policy methods)."""
    return [g for g in groups if g.distribution == dist and g.kind != "offline" and "return" in g.learning]


def _sample_efficiency(groups: Sequence[Group], distributions: Sequence[str],
                       options: ReportOptions) -> dict[str, Efficiency]:  # fmt: skip
    """Per distribution with a reference and at least one other env-step group: how many env steps each group
    needs to reach the reference's IQM test return (the reference point: ``options.reference_steps``, or the
    reference's last learning-curve point)."""
    if options.reference is not None and options.reference not in {g.label for g in groups}:
        raise ReportError(f"--reference {options.reference!r} is not a group; the groups are "
                          f"{', '.join(repr(g.label) for g in groups)}")  # fmt: skip
    out: dict[str, Efficiency] = {}
    for dist in distributions:
        candidates = _env_step_groups(groups, dist)
        if options.reference is not None:
            refs = [g for g in candidates if g.label == options.reference]
        else:
            refs = [g for g in candidates if g.first.algorithm == "pearl"]
        if len(refs) > 1:  # e.g. PEARL runs of different budgets or settings: which one is the reference?
            refs[0].notes.append(
                f"sample efficiency on {dist}: {len(refs)} PEARL groups "
                f"({', '.join(repr(g.label) for g in refs)}); choose one with --reference LABEL"
            )
        if len(refs) != 1 or len(candidates) < 2:
            continue
        ref = refs[0]
        curve = ref.learning["return"]
        assert curve.summary is not None
        inside = np.flatnonzero(curve.x <= (options.reference_steps or math.inf))
        if not len(inside):
            ref.notes.append(f"sample efficiency: no learning-curve point at or below {options.reference_steps:g} "
                             f"env steps (the first is at {curve.x[0]:g})")  # fmt: skip
            continue
        i = int(inside[-1])
        window = int(options.efficiency_window)
        smoothed = metrics.trailing_mean(curve.x, np.atleast_1d(curve.summary.estimate), window)
        at, target = float(curve.x[i]), float(smoothed[i])
        rows = []
        for g in candidates:
            if g is ref:
                continue
            c = g.learning["return"]
            assert c.summary is not None
            ys = metrics.trailing_mean(c.x, np.atleast_1d(c.summary.estimate), window)
            steps = metrics.first_reaching(c.x, ys, target)
            rows.append(Reached(g, steps, steps / at if steps is not None else None, float(c.x[-1]),
                                c.values.shape[0], steps is not None and steps == float(np.min(c.x))))  # fmt: skip
        out[dist] = Efficiency(ref, at, target, rows)
    return out


def write_report(run_dirs: Sequence[Path], out: Path, options: ReportOptions | None = None,
                 command: str | None = None) -> Report:  # fmt: skip
    """Compute the report of ``run_dirs`` and write it into ``out``: ``report.md``, figures (PNG and SVG),
    ``final.csv``, ``improvement.csv``, ``curves.csv``, ``runs.csv`` and ``report.json``. ``command`` is shown
    as the command that made the report."""
    options = options or ReportOptions()
    out = Path(out)
    _check_out(out)
    report = build_report(run_dirs, options)
    try:
        out.mkdir(parents=True, exist_ok=True)
        report.files += _write_figures(report, out)
        report.files += _write_tables(report, out)
        (out / "report.md").write_text(_markdown(report, command))
        report.files.append(out / "report.md")
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    return report


def _check_out(out: Path) -> None:
    """Refuse an output directory that cannot be written, before any work (nothing is created here)."""
    if out.exists():
        if not out.is_dir():
            raise ReportError(f"--out {out} exists and is not a directory")
        if not os.access(out, os.W_OK | os.X_OK):
            raise ReportError(f"--out {out} is not writable")
        return
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ReportError(f"cannot create --out {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReportError(f"cannot create --out {out}: {parent} is not writable")


# ---------------------------------------------------------------------------------------------- output helpers
def _num(value: Any) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    v = float(value)
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.3f}"


def _ci(interval: metrics.Interval | None) -> str:
    if interval is None:
        return "-"
    return f"{_num(interval.estimate)} [{_num(interval.low)}, {_num(interval.high)}]"


def _duration(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "runs"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _command(run: Run) -> tuple[str, str]:
    recorded = recorded_command(run.meta)
    if recorded:
        return recorded, "recorded"
    try:
        return derive_command(run.meta), "derived from config.json"
    except Exception as exc:  # noqa: BLE001 - a config the current presets cannot rebuild
        return f"(cannot derive: {str(exc).splitlines()[0][:80]})", "unknown"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _x_label(group: Group) -> str:
    return "meta-training outer steps (no env steps)" if group.kind == "offline" else "meta-training env steps"


def _score_text(report: Report) -> str:
    return {"return": "test return", "dense-return": "dense test return", "success": "success rate"}[
        report.options.metric]  # fmt: skip


# ---------------------------------------------------------------------------------------------- figures
def _write_figures(report: Report, out: Path) -> list[Path]:
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter, MaxNLocator

    written: list[Path] = []
    pct = f"{report.options.confidence:.0%}"
    colors = {id(g): f"C{i % 10}" for i, g in enumerate(report.groups)}  # one colour per group in every figure

    def save(fig: Figure, stem: str) -> None:
        fig.tight_layout()
        for suffix in (".png", ".svg"):
            path = out / f"{stem}{suffix}"
            fig.savefig(path, dpi=110)
            written.append(path)

    for dist in report.distributions:
        for kind in ("online", "offline", "onpolicy"):
            offline = kind != "online"
            groups = [g for g in report.groups if g.distribution == dist and g.kind == kind]
            if not groups or not any(g.learning or g.adaptation for g in groups):
                continue
            panels = [("return", "learning curve: test return", "test return (IQM)")]
            if any("success" in g.learning for g in groups):
                panels.append(("success", "learning curve: success rate", "success rate (IQM)"))
            panels.append(("adaptation", "adaptation curve", f"{_score_text(report)} (IQM)"))
            fig = Figure(figsize=(5 * len(panels), 4))
            axes = fig.subplots(1, len(panels), squeeze=False)[0]
            for ax, (name, title, ylabel) in zip(axes, panels, strict=True):
                for g in groups:
                    curve = g.adaptation if name == "adaptation" else g.learning.get(name)
                    if curve is None or curve.summary is None:
                        continue
                    est, low, high = (np.atleast_1d(v) for v in curve.summary)
                    color = colors[id(g)]
                    ax.plot(
                        curve.x,
                        est,
                        marker="o" if len(curve.x) < 30 else None,
                        ms=3,
                        color=color,
                        label=f"{g.label} ({curve.values.shape[0]} seed{'s' if len(curve.values) > 1 else ''})",
                    )
                    ax.fill_between(curve.x, low, high, alpha=0.2, color=color, linewidth=0)
                if name == "adaptation":
                    ax.set_xlabel("test-time adaptation steps" if offline else "trajectory k (after k-1 of context)")
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                else:
                    ax.set_xlabel(_x_label(groups[0]))
                    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
                ax.set(title=f"{title}\n(band: {pct} bootstrap CI)", ylabel=ylabel)
                ax.grid(alpha=0.3)
                if ax.lines:
                    ax.legend(fontsize=8)
            fig.suptitle(dist, fontsize=10)
            save(fig, f"{_slug(dist)}_{kind}_curves")
        env_groups = _env_step_groups(report.groups, dist)
        if len(env_groups) > 1:
            eff = report.efficiency.get(dist)
            fig = Figure(figsize=(11, 4))
            for ax, scale in zip(fig.subplots(1, 2), ("linear", "log"), strict=True):
                for g in env_groups:
                    curve = g.learning["return"]
                    if curve.summary is None:
                        continue
                    est, low, high = (np.atleast_1d(v) for v in curve.summary)
                    n = curve.values.shape[0]
                    ax.plot(curve.x, est, color=colors[id(g)], label=f"{g.label} ({counted(n, 'seed')})")
                    ax.fill_between(curve.x, low, high, alpha=0.2, color=colors[id(g)], linewidth=0)
                if eff is not None:
                    ax.axhline(eff.target, color="gray", ls="--", lw=1,
                               label=f"{eff.reference.label} at {eff.at:,.0f} steps")  # fmt: skip
                    ax.axvline(eff.at, color="gray", ls=":", lw=1)
                ax.set_xscale(scale)
                if scale == "linear":
                    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
                ax.set(xlabel=f"meta-training env steps ({scale} axis)", ylabel="test return (IQM)",
                       title=f"learning curves (band: {pct} bootstrap CI)")  # fmt: skip
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
            fig.suptitle(f"{dist}: every method that learns from env steps", fontsize=10)
            save(fig, f"{_slug(dist)}_env_steps")
        groups = [g for g in report.groups if g.distribution == dist and g.final_stats]
        if not groups:
            continue
        names = [n for n in metrics.AGGREGATES if n in groups[0].final_stats]
        comps = report.comparisons.get(dist, [])
        n_panels = len(names) + (1 if comps else 0)
        fig = Figure(figsize=(3.2 * n_panels + 1.5, 0.5 * max(len(groups), len(comps) if comps else 0) + 1.8))
        axes = fig.subplots(1, n_panels, squeeze=False)[0]
        ys = np.arange(len(groups))
        for ax, name in zip(axes, names, strict=False):
            for y, g in zip(ys, groups, strict=True):
                est, low, high = g.final_stats[name]
                if np.isfinite(est):
                    ax.errorbar([est], [y], xerr=[[est - low], [high - est]], fmt="o", capsize=4, color=colors[id(g)])
            ax.set_yticks(ys, [g.label for g in groups] if ax is axes[0] else [""] * len(groups))
            gap = name == "optimality_gap"
            title = _STAT_NAMES[name] + (f" (gamma={report.options.gamma:g})" if gap else "")
            ax.set(
                title=title,
                xlabel="shortfall below gamma (lower is better)" if gap else _score_text(report),
                ylim=(len(groups) - 0.3, -0.7),
            )  # first group on top
            ax.grid(alpha=0.3, axis="x")
        if comps:
            ax = axes[-1]
            for y, c in enumerate(comps):
                est, low, high = c.interval
                if np.isfinite(est):
                    ax.errorbar([est], [y], xerr=[[est - low], [high - est]], fmt="o", capsize=4, color="k")
            ax.axvline(0.5, color="gray", ls="--", lw=1)
            ax.set_yticks(range(len(comps)), [f"{c.x.label} > {c.y.label}" for c in comps])
            ax.yaxis.tick_right()
            ax.set(title="P(X > Y)", xlim=(-0.02, 1.02), ylim=(len(comps) - 0.3, -0.7))
            ax.grid(alpha=0.3, axis="x")
        fig.suptitle(f"{dist}: final {_score_text(report)}, {pct} stratified-bootstrap CIs", fontsize=10)
        save(fig, f"{_slug(dist)}_final")
    return written


# ---------------------------------------------------------------------------------------------- tables
def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if isinstance(v, float) and not np.isfinite(v) else v for v in row])
    path.write_text(buf.getvalue())
    return path


def _provenance(run: Run) -> dict[str, str]:
    """Where a run's numbers come from: CPU, matmul precision and the library versions its ``config.json`` records
    (machines the run was resumed on are joined with " then "); "not recorded" for runs older than the record."""
    machines = [run.meta.get("machine")] + [e.get("machine") for e in run.meta.get("resumed_with", [])
                                            if isinstance(e, dict) and "machine" in e]  # fmt: skip

    def joined(key: str) -> str:
        return " then ".join(dict.fromkeys(str((m or {}).get(key, "not recorded")) for m in machines))

    versions = run.meta.get("versions") or {}
    out = {"cpu": joined("cpu"), "precision": joined("precision")}
    for name in ("torch", "mujoco", "metaworld"):
        out[name] = str(versions.get(name, "not recorded" if name != "metaworld" else "-"))
    # offline runs: the fingerprint of the data they trained on (runs older than the record: "not recorded")
    fingerprint = (run.meta.get("dataset") or {}).get("fingerprint")
    offline = bool((run.meta.get("config") or {}).get("dataset"))
    out["dataset"] = fingerprint[:12] if fingerprint else "not recorded" if offline else "-"
    return out


def _run_rows(report: Report) -> list[dict[str, Any]]:
    group_of = {id(r): g for g in report.groups for r in g.runs}
    out = []
    for run in report.runs:
        command, source = _command(run)
        out.append({
            "run": str(run.path), "group": group_of[id(run)].label, "algorithm": run.algorithm,
            "distribution": run.distribution, "seed": run.seed, "command": command, "command_source": source,
            "git_revision": git_revision(run.meta), "wall_clock_s": run.last("time/wall_clock"),
            "iterations": _count(run.last("iteration")), "env_steps": _count(run.last("time/env_steps")),
            "grad_steps": _count(run.last("time/grad_steps")),
            "evaluation": str(run.eval_file.relative_to(run.path)) if run.eval_file else None,
            **_provenance(run),
        })  # fmt: skip
    return out


def counted(n: int, noun: str) -> str:
    """``"1 run"``, ``"2 runs"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _count(value: float | None) -> int | None:
    return int(value) if value is not None and np.isfinite(value) else None


def _write_tables(report: Report, out: Path) -> list[Path]:
    opts = report.options
    final_rows, improvement_rows, curve_rows = [], [], []
    for g in report.groups:
        for name, iv in g.final_stats.items():
            final_rows.append([g.distribution, g.label, opts.metric, name, iv.estimate, iv.low, iv.high,
                               g.final.shape[0], g.final.shape[1], g.final_source,
                               opts.gamma if name == "optimality_gap" else ""])  # fmt: skip
        named = [(f"learning_{k}", c) for k, c in g.learning.items()] + [("adaptation", g.adaptation)]
        for kind, curve in named:
            if curve is None or curve.summary is None:
                continue
            est, low, high = (np.atleast_1d(v) for v in curve.summary)
            for i, x in enumerate(curve.x):
                curve_rows.append([g.distribution, g.label, kind, float(x), est[i], low[i], high[i],
                                   curve.values.shape[0]])  # fmt: skip
    task_group_rows = [[g.distribution, g.label, opts.metric, name, iv.estimate, iv.low, iv.high,
                        g.final_by_task_group[name].shape[0], g.final_by_task_group[name].shape[1]]
                       for g in report.groups for name, iv in g.by_task_group_stats.items()]  # fmt: skip
    efficiency_rows = [[dist, e.reference.label, e.at, e.target, r.group.label, r.seeds, r.steps,
                        "" if r.ratio is None else r.ratio, r.last]
                       for dist, e in report.efficiency.items() for r in e.rows]  # fmt: skip
    for dist, comps in report.comparisons.items():
        for c in comps:
            improvement_rows.append([dist, c.x.label, c.y.label, c.interval.estimate, c.interval.low,
                                     c.interval.high, c.x.final.shape[0], c.y.final.shape[0],
                                     c.x.final.shape[1]])  # fmt: skip
    runs = report.run_table()
    files = [
        _csv(out / "final.csv", ["distribution", "group", "metric", "statistic", "estimate", "low", "high",
                                 "seeds", "strata", "score", "threshold"], final_rows),
        _csv(out / "improvement.csv", ["distribution", "x", "y", "probability", "low", "high", "seeds_x",
                                       "seeds_y", "strata"], improvement_rows),
        _csv(out / "curves.csv", ["distribution", "group", "curve", "x", "iqm", "low", "high", "seeds"], curve_rows),
        _csv(out / "runs.csv", list(runs[0]), [list(r.values()) for r in runs]),
        _csv(out / "task_groups.csv", ["distribution", "group", "metric", "task_group", "iqm", "low", "high",
                                       "seeds", "strata"], task_group_rows),
        _csv(out / "efficiency.csv", ["distribution", "reference", "reference_env_steps", "target_return", "group",
                                      "seeds", "env_steps_to_reach", "ratio", "last_env_steps"], efficiency_rows),
    ]  # fmt: skip
    doc = {
        "nacre_version": __version__,
        "options": {"metric": opts.metric, "bootstrap_reps": opts.reps, "seed": opts.seed,
                    "confidence": opts.confidence, "threshold": opts.gamma},
        "groups": [{"label": g.label, "algorithm": g.first.algorithm, "distribution": g.distribution,
                    "runs": [str(r.path) for r in g.runs], "config": g.first.config,
                    "final_score": g.final_source or None, "diverged_fraction": g.diverged,
                    "final": {k: iv._asdict() for k, iv in g.final_stats.items()},
                    "final_iqm_by_task_group": {k: iv._asdict() for k, iv in g.by_task_group_stats.items()},
                    "curves": {kind: {"x": c.x, "iqm": c.summary.estimate, "low": c.summary.low,
                                      "high": c.summary.high, "seeds": c.values.shape[0]}
                               for kind, c in [*((f"learning_{k}", c) for k, c in g.learning.items()),
                                               ("adaptation", g.adaptation)] if c is not None and c.summary},
                    "notes": g.notes} for g in report.groups],
        "probability_of_improvement": [{"distribution": d, "x": c.x.label, "y": c.y.label,
                                        **c.interval._asdict()} for d, cs in report.comparisons.items() for c in cs],
        "sample_efficiency": [{"distribution": d, "reference": e.reference.label, "reference_env_steps": e.at,
                               "target_return": e.target,
                               "groups": [{"group": r.group.label, "seeds": r.seeds, "env_steps_to_reach": r.steps,
                                           "ratio": r.ratio,
                                           "last_env_steps": r.last} for r in e.rows]}
                              for d, e in report.efficiency.items()],
        "runs": runs,
    }  # fmt: skip
    (out / "report.json").write_text(json.dumps(_json_safe(doc), indent=1) + "\n")
    return [*files, out / "report.json"]


# ---------------------------------------------------------------------------------------------- markdown
def _task_group_table(groups: Sequence[Group], pct: str) -> list[str]:
    """Final score per task group (ML10 / ML45 class), one column per group of runs that has them."""
    having = [g for g in groups if g.by_task_group_stats]
    if not having:
        return []
    names = list(dict.fromkeys(n for g in having for n in g.by_task_group_stats))
    lines = ["", "### Per task group", "",
             f"The final score of each task group's held-out tasks (Meta-World: each class), IQM over seeds [{pct} "
             "CI], the same reported point as above.", "",
             "| task group | " + " | ".join(_cell(g.label) for g in having) + " |",
             "|---|" + "---|" * len(having)]  # fmt: skip
    for name in names:
        cells = [_ci(g.by_task_group_stats.get(name)) for g in having]
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return lines


def _markdown(report: Report, command: str | None) -> str:
    opts = report.options
    pct = f"{opts.confidence:.0%}"
    lines = ["# nacre report", ""]
    if command:
        lines += [f"Made by `{command}` (nacre {__version__}, "
                  f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}).", ""]  # fmt: skip
    lines += [
        f"{counted(len(report.runs), 'run')} in {counted(len(report.groups), 'group')} on "
        f"{counted(len(report.distributions), 'task distribution')}. Score: {_score_text(report)} on the held-out "
        f"tasks. Every aggregate is over seeds (and held-out tasks where all runs share them) with its {pct} "
        f"percentile stratified-bootstrap confidence interval ({opts.reps} resamples of the seeds, numpy seed "
        f"{opts.seed}); curves show the IQM with that interval as a band. Definitions: docs/report.md in the nacre "
        "repository.",
        "",
        "Machine-readable: `final.csv`, `improvement.csv`, `curves.csv`, `efficiency.csv`, `task_groups.csv`, "
        "`runs.csv`, `report.json`.",
        "",
        "## Groups",
        "",
        "| group | algorithm | distribution | seeds | runs |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for g in report.groups:
        seeds = ", ".join(str(r.seed) for r in g.runs)
        lines.append(f"| {_cell(g.label)} | {g.first.algorithm} | {_cell(g.distribution)} | {seeds} | "
                     f"{_cell(', '.join(r.path.name for r in g.runs))} |")  # fmt: skip
    for dist in report.distributions:
        groups = [g for g in report.groups if g.distribution == dist]
        lines += ["", f"## {dist}", ""]
        strata = ("held-out tasks are the strata (every run was evaluated on the same tasks)"
                  if report.shared_tasks[dist] else
                  "one stratum: each seed's score is its mean over its held-out tasks (the runs' test tasks "
                  "differ, or some runs have no saved evaluation)")  # fmt: skip
        lines += ["### Final performance", "", f"Bootstrap: {strata}.", ""]
        gap = opts.gamma is not None
        head = ["group", "seeds", "score", f"IQM [{pct} CI]", "median", "mean"]
        head += [f"optimality gap (gamma={opts.gamma:g})"] if gap else []
        show_div = any(g.diverged > 0 for g in groups)
        head += ["diverged"] if show_div else []
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for g in groups:
            s = g.final_stats
            seeds = len(g.final) if g.final is not None else 0
            cells = [_cell(g.label), str(seeds), _cell(g.final_source or "none"), _ci(s.get("iqm")),
                     _ci(s.get("median")), _ci(s.get("mean"))]  # fmt: skip
            cells += [_ci(s.get("optimality_gap"))] if gap else []
            cells += [f"{g.diverged:.0%}"] if show_div else []
            lines.append("| " + " | ".join(cells) + " |")
        if not gap:
            lines += ["", "Optimality gap: pass `--threshold GAMMA` (the score counted as solving a task)."]
        lines += _task_group_table(groups, pct)
        comps = report.comparisons.get(dist, [])
        if comps:
            lines += ["", "### Probability of improvement", "",
                      "P(X > Y): probability that a seed of X scores higher than a seed of Y on a task (ties count "
                      "1/2), averaged over tasks.", "",
                      f"| X | Y | P(X > Y) [{pct} CI] |", "|---|---|---|"]  # fmt: skip
            for c in comps:
                lines.append(f"| {_cell(c.x.label)} | {_cell(c.y.label)} | {_ci(c.interval)} |")
        eff = report.efficiency.get(dist)
        if eff is not None:
            lines += ["", "### Sample efficiency", "",
                      f"Target: {_cell(eff.reference.label)}'s IQM test return at {eff.at:,.0f} env steps, "
                      f"{_num(eff.target)}, averaged over its last {report.options.efficiency_window} logged "
                      "points. For each other group, the first logged point at which its IQM learning curve, "
                      "averaged the same way, reaches the target (as coarse as its evaluation interval; '<=' when "
                      "already at its first point), and that many env steps over the reference's. Each method is "
                      "scored by its own test protocol (the return after its adaptation); with fewer than 4 seeds "
                      "the IQM trims nothing and is the mean.", "",
                      "| group | seeds | env steps to reach the target | ratio |", "|---|---|---|---|"]  # fmt: skip
            for r in eff.rows:
                if r.steps is None:
                    lines.append(f"| {_cell(r.group.label)} | {r.seeds} | not reached within {r.last:,.0f} | "
                                 f"> {r.last / eff.at:.3g}x |")  # fmt: skip
                else:
                    le = "<= " if r.at_first else ""
                    lines.append(f"| {_cell(r.group.label)} | {r.seeds} | {le}{r.steps:,.0f} | {le}{r.ratio:.3g}x |")
        kinds = ("online", "offline", "onpolicy")
        stems = ([f"{_slug(dist)}_{kind}_curves" for kind in kinds] + [f"{_slug(dist)}_env_steps"]
                 + [f"{_slug(dist)}_final"])  # fmt: skip
        figures = [s for s in stems if any(f.name == f"{s}.png" for f in report.files)]
        if figures:
            lines += ["", "### Figures", ""]
            for stem in figures:
                lines += [f"![{stem}]({stem}.png)", "", f"SVG: [{stem}.svg]({stem}.svg)", ""]
        notes = [f"{g.label}: {n}" for g in groups for n in g.notes]
        if notes:
            lines += ["", "Notes:", ""] + [f"- {_cell(n)}" for n in notes]
    lines += ["", "## Runs", "", "| run | group | seed | command | git revision | wall-clock | iterations | "
              "evaluation used |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in report.run_table():
        it = "-" if row["iterations"] is None else row["iterations"]
        lines.append(f"| {_cell(row['run'])} | {_cell(row['group'])} | {row['seed']} | `{_cell(row['command'])}` "
                     f"({row['command_source']}) | {_cell(row['git_revision'])} | {_duration(row['wall_clock_s'])} "
                     f"| {it} | {_cell(row['evaluation'] or 'none')} |")  # fmt: skip
    lines += _machines_table(report)
    return "\n".join(lines) + "\n"


def _machines_table(report: Report) -> list[str]:
    """The machines, versions and (offline runs) data the runs were computed on, one row per distinct combination
    (MuJoCo versions change trajectories at equal seeds; ``precision auto`` is fp32 or bf16 by CPU; regenerated
    data may differ byte for byte from the data it replaces)."""
    keys = ("cpu", "precision", "torch", "mujoco", "metaworld", "dataset")
    combos: dict[tuple[str, ...], list[str]] = {}
    for row in report.run_table():
        combos.setdefault(tuple(row[k] for k in keys), []).append(Path(row["run"]).name)
    lines = ["", "## Machines and versions", "",
             "| CPU | precision | torch | MuJoCo | metaworld | dataset fingerprint | runs |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for combo, names in combos.items():
        lines.append("| " + " | ".join(_cell(v) for v in combo) + f" | {_cell(', '.join(names))} |")
    return lines
