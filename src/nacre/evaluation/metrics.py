"""Aggregates over seeds and tasks: interquartile mean (IQM) and stratified bootstrap confidence intervals.

Following Agarwal et al. (2021), "Deep RL at the Edge of the Statistical Precipice": scores of shape
``[runs, tasks]`` are aggregated with the IQM (mean of the middle 50% of all scores), and the
uncertainty is a percentile bootstrap that resamples runs independently within each task.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def iqm(scores: np.ndarray) -> float:
    """Mean of the scores between the 25th and 75th percentiles (25% trimmed at each end)."""
    flat = np.sort(np.asarray(scores, dtype=float).ravel())
    n = len(flat)
    if n == 0:
        raise ValueError("iqm of an empty array")
    cut = n // 4
    return float(flat[cut : n - cut].mean()) if n - 2 * cut > 0 else float(flat.mean())


def bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = iqm,
    rng: np.random.Generator | None = None,
    reps: int = 2000,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(point estimate, low, high) of ``statistic`` for ``scores[runs, tasks]``, resampling runs per task."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    rng = rng if rng is not None else np.random.default_rng(0)
    runs, tasks = scores.shape
    stats = np.empty(reps)
    for i in range(reps):
        idx = rng.integers(0, runs, size=(runs, tasks))
        stats[i] = statistic(np.take_along_axis(scores, idx, axis=0))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return statistic(scores), float(low), float(high)
