"""Aggregates over seeds and tasks and their uncertainty, computed the way rliable computes them.

Following Agarwal et al. (2021), "Deep RL at the Edge of the Statistical Precipice". Scores have shape
``[runs, tasks]``: one score per independent run (a seed) and task. Curves have shape ``[runs, tasks, points]``
(a learning curve, an adaptation curve); every aggregate is then computed separately at each point and returns
an array ``[points]`` instead of a float. A 1-D array is ``[runs]`` (one task).

- :func:`iqm`: interquartile mean, the mean of the middle 50% of all ``runs x tasks`` scores (25% trimmed at each
  end, as ``scipy.stats.trim_mean(scores, 0.25, axis=None)``); :func:`median`, :func:`mean`;
- :func:`optimality_gap`: mean of ``max(threshold - score, 0)``, how far the scores fall short of a threshold;
- :func:`stratified_bootstrap_ci`: percentile confidence interval of any of them, resampling runs with replacement
  independently within each task (the stratum); :func:`aggregate_intervals` does all four on the same resamples;
- :func:`probability_of_improvement`: P(X > Y), the probability that a run of method X beats a run of method Y on
  a task (Mann-Whitney U / (n_x n_y), ties count 1/2), averaged over tasks;
  :func:`probability_of_improvement_ci` resamples X's and Y's runs independently, each stratified by task;
- :func:`first_reaching`: the first point of a curve at or above a target (the sample-efficiency comparison of the
  PEARL paper's Fig. 2: the env steps a method needs to reach another's return).

NaN anywhere in the scores gives NaN (never a silently trimmed-away NaN). Randomness comes only from the numpy
``Generator`` (or integer seed) passed in, so equal inputs and seeds give equal intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: the aggregates of :func:`aggregate_intervals`, in order
AGGREGATES = ("iqm", "median", "mean", "optimality_gap")


class Interval(NamedTuple):
    """A point estimate and its confidence interval (floats, or arrays ``[points]`` for curves)."""

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray


def _columns(scores: np.ndarray) -> tuple[np.ndarray, bool]:
    """``[runs * tasks, points]`` and whether the input was a curve (3-D)."""
    a = np.asarray(scores, dtype=float)
    if a.size == 0:
        raise ValueError("aggregate of an empty score array")
    if a.ndim <= 2:
        return a.reshape(-1, 1), False
    if a.ndim == 3:
        return a.reshape(a.shape[0] * a.shape[1], a.shape[2]), True
    raise ValueError(f"scores must be [runs], [runs, tasks] or [runs, tasks, points], got shape {a.shape}")


def _result(values: np.ndarray, curve: bool) -> float | np.ndarray:
    return values if curve else float(values[0])


def trimmed_mean(scores: np.ndarray, proportion: float) -> float | np.ndarray:
    """Mean after removing ``int(proportion * n)`` of the ``n`` scores at each end (``scipy.stats.trim_mean``)."""
    cols, curve = _columns(scores)
    n = len(cols)
    low = int(proportion * n)
    high = n - low
    if not 0 <= proportion < 0.5 or low >= high:
        raise ValueError(f"cannot trim {proportion} of {n} scores at each end")
    values = np.partition(cols, (low, high - 1), axis=0)[low:high].mean(axis=0)
    values[np.isnan(cols).any(axis=0)] = np.nan  # partition would sort NaN to the end and trim it away
    return _result(values, curve)


def iqm(scores: np.ndarray) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of all scores (25% trimmed at each end)."""
    return trimmed_mean(scores, 0.25)


def median(scores: np.ndarray) -> float | np.ndarray:
    """Median over tasks of each task's mean over runs (rliable's ``aggregate_median``); with one task (or a 1-D
    array of runs) it is the mean over runs."""
    a = np.atleast_1d(np.asarray(scores, dtype=float))
    if a.size == 0:
        raise ValueError("aggregate of an empty score array")
    if a.ndim > 3:
        raise ValueError(f"scores must be [runs], [runs, tasks] or [runs, tasks, points], got shape {a.shape}")
    task_means = a.reshape(a.shape[0], -1).mean(axis=0) if a.ndim <= 2 else a.mean(axis=0)
    values = np.median(task_means.reshape(-1, 1) if a.ndim <= 2 else task_means, axis=0)
    return _result(np.atleast_1d(values), a.ndim == 3)


def mean(scores: np.ndarray) -> float | np.ndarray:
    """Mean of all ``runs x tasks`` scores."""
    cols, curve = _columns(scores)
    return _result(cols.mean(axis=0), curve)


def optimality_gap(scores: np.ndarray, threshold: float = 1.0) -> float | np.ndarray:
    """Mean of ``max(threshold - score, 0)``: 0 when every score reaches ``threshold``; lower is better."""
    cols, curve = _columns(scores)
    return _result(np.maximum(threshold - cols, 0.0).mean(axis=0), curve)


def _check_bootstrap(reps: int, confidence: float) -> None:
    if int(reps) != reps or reps <= 0:
        raise ValueError(f"bootstrap repetitions must be a positive integer, got {reps}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _as_runs_tasks(scores: np.ndarray) -> np.ndarray:
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim not in (2, 3) or a.size == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] or [runs, tasks, points] array, got {a.shape}")
    return a


def _percentile_interval(point: np.ndarray, stats: np.ndarray, confidence: float) -> Interval:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha], axis=0)
    if point.ndim == 0:
        return Interval(float(point), float(low), float(high))
    return Interval(point, low, high)


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float | np.ndarray] = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> Interval:
    """``statistic`` of ``scores [runs, tasks(, points)]`` with its percentile bootstrap interval.

    Resample ``i`` (``i = 0 .. reps - 1``, in order) draws ``idx = rng.integers(0, runs, size=(runs, tasks))``
    and evaluates ``statistic(scores[idx, arange(tasks)])``: each task's column gets its own resample of the runs
    (stratified by task) and a curve keeps the resampled run's whole curve. The interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (linear interpolation) of the ``reps`` values.
    ``rng`` is a numpy Generator or a seed for ``np.random.default_rng``.
    """
    _check_bootstrap(reps, confidence)
    a = _as_runs_tasks(scores)
    gen = np.random.default_rng(rng)
    runs, tasks = a.shape[:2]
    cols = np.arange(tasks)
    point = np.asarray(statistic(a), dtype=float)
    stats = np.empty((int(reps), *point.shape))
    for i in range(int(reps)):
        idx = gen.integers(0, runs, size=(runs, tasks))
        stats[i] = statistic(a[idx, cols])
    return _percentile_interval(point, stats, confidence)


def bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = iqm,
    rng: np.random.Generator | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of ``statistic`` for ``scores[runs, tasks]``: :func:`stratified_bootstrap_ci`
    with a generator seeded 0 unless ``rng`` is given."""
    est, low, high = stratified_bootstrap_ci(scores, statistic, reps, confidence, rng if rng is not None else 0)
    return float(est), float(low), float(high)


def aggregates(scores: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """``[IQM, median, mean, optimality gap]`` of ``scores`` (the gap is NaN without a ``threshold``); for a
    curve, shape ``[4, points]``."""
    gap = optimality_gap(scores, threshold) if threshold is not None else np.nan * np.asarray(mean(scores))
    return np.stack([np.asarray(v, dtype=float) for v in (iqm(scores), median(scores), mean(scores), gap)])


def aggregate_intervals(
    scores: np.ndarray,
    threshold: float | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, Interval]:
    """IQM, median, mean and (with a ``threshold``) optimality gap of ``scores`` with their stratified bootstrap
    intervals, all four from the same resamples (the draws of :func:`stratified_bootstrap_ci`)."""
    both = stratified_bootstrap_ci(scores, lambda s: aggregates(s, threshold), reps, confidence, rng)
    names = AGGREGATES if threshold is not None else AGGREGATES[:3]
    out = {}
    for i, name in enumerate(names):
        est, low, high = (np.asarray(v)[i] for v in both)
        out[name] = Interval(*(float(v) if np.ndim(v) == 0 else v for v in (est, low, high)))
    return out


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_runs_tasks(x), _as_runs_tasks(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError("probability of improvement takes [runs, tasks] score arrays")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X has {x.shape[1]} tasks and Y {y.shape[1]}: both need the same tasks")
    return x, y


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) for ``x [runs_x, tasks]`` and ``y [runs_y, tasks]``: per task, the fraction of the
    ``runs_x * runs_y`` pairs where X's score is higher, a tie counting 1/2 (the Mann-Whitney U statistic over
    ``runs_x * runs_y``); then the mean over tasks. 0.5 means neither is better."""
    x, y = _pair(x, y)
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    diff = x[:, None, :] - y[None, :, :]  # [runs_x, runs_y, tasks]
    per_task = (diff > 0).mean(axis=(0, 1)) + 0.5 * (diff == 0).mean(axis=(0, 1))
    return float(per_task.mean())


def probability_of_improvement_ci(
    x: np.ndarray,
    y: np.ndarray,
    reps: int = 2000,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = 0,
) -> Interval:
    """:func:`probability_of_improvement` with its percentile bootstrap interval. Resample ``i`` draws
    ``ix = rng.integers(0, runs_x, size=(runs_x, tasks))`` then ``iy = rng.integers(0, runs_y, size=(runs_y,
    tasks))``: X's and Y's runs are resampled independently, each within every task."""
    _check_bootstrap(reps, confidence)
    x, y = _pair(x, y)
    gen = np.random.default_rng(rng)
    (nx, tasks), ny = x.shape, y.shape[0]
    cols = np.arange(tasks)
    stats = np.empty(int(reps))
    for i in range(int(reps)):
        ix = gen.integers(0, nx, size=(nx, tasks))
        iy = gen.integers(0, ny, size=(ny, tasks))
        stats[i] = probability_of_improvement(x[ix, cols], y[iy, cols])
    return _percentile_interval(np.asarray(probability_of_improvement(x, y)), stats, confidence)


def trailing_mean(x: np.ndarray, y: np.ndarray, window: int) -> np.ndarray:
    """``y`` (a curve at points ``x``) averaged over each point and the ``window - 1`` logged points before it in
    increasing ``x`` (fewer at the start), returned in the order of ``x``; ``window`` 1 returns ``y``. A NaN makes
    every average that includes it NaN."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a positive integer, got {window}")
    order = np.argsort(x, kind="stable")
    ys = y[order]
    smoothed = np.array([ys[max(0, i - int(window) + 1) : i + 1].mean() for i in range(len(ys))])
    out = np.empty_like(smoothed)
    out[order] = smoothed
    return out


def first_reaching(x: np.ndarray, y: np.ndarray, target: float) -> float | None:
    """The first ``x`` (in increasing ``x``) at which the curve ``y`` is at or above ``target``; ``None`` if it never
    is. Only logged points count (no interpolation between them), so the answer is as coarse as the curve's
    evaluation interval; NaN values never reach."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    order = np.argsort(x, kind="stable")
    hits = np.flatnonzero(y[order] >= target)
    return float(x[order][hits[0]]) if len(hits) else None
