"""nacre report's statistics against rliable itself (installed by the `ray` extra): the point estimates equal
rliable's, and the stratified-bootstrap intervals agree within Monte-Carlo error (the two draw different
resamples)."""

from __future__ import annotations

import numpy as np
import pytest

from nacre.evaluation import metrics

rliable_metrics = pytest.importorskip("rliable.metrics", reason="rliable comes with the ray extra")
rliable_library = pytest.importorskip("rliable.library", reason="rliable comes with the ray extra")

pytestmark = pytest.mark.ray


def _scores(seed: int, runs: int = 5, tasks: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # tasks of different difficulty and an outlier run, so that IQM, median and mean all differ
    scores = rng.normal(loc=np.linspace(-1.0, 2.0, tasks), scale=0.6, size=(runs, tasks))
    scores[0, 0] = 8.0
    return scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_rliables(seed):
    x, y = _scores(seed), _scores(seed + 10) + 0.3
    assert metrics.iqm(x) == pytest.approx(rliable_metrics.aggregate_iqm(x), rel=1e-12)
    assert metrics.median(x) == pytest.approx(rliable_metrics.aggregate_median(x), rel=1e-12)
    assert metrics.mean(x) == pytest.approx(rliable_metrics.aggregate_mean(x), rel=1e-12)
    for gamma in (0.5, 1.0, 3.0):
        assert metrics.optimality_gap(x, gamma) == pytest.approx(rliable_metrics.aggregate_optimality_gap(x, gamma))
    assert metrics.probability_of_improvement(y, x) == pytest.approx(
        rliable_metrics.probability_of_improvement(y, x), rel=1e-12
    )
    assert len({metrics.iqm(x), metrics.median(x), metrics.mean(x)}) == 3  # the scores tell the statistics apart


def test_bootstrap_intervals_agree_with_rliables_within_monte_carlo_error():
    x = _scores(3, runs=6, tasks=5)
    reps = 4000
    stats = {"iqm": (metrics.iqm, rliable_metrics.aggregate_iqm),
             "median": (metrics.median, rliable_metrics.aggregate_median),
             "mean": (metrics.mean, rliable_metrics.aggregate_mean)}  # fmt: skip
    for name, (ours, theirs) in stats.items():
        est, low, high = metrics.stratified_bootstrap_ci(x, ours, reps=reps, rng=0)
        points, intervals = rliable_library.get_interval_estimates(
            {"x": x}, lambda s, f=theirs: np.array([f(s)]), reps=reps, random_state=np.random.RandomState(0)
        )
        (ref_low,), (ref_high,) = intervals["x"]
        assert est == pytest.approx(points["x"][0], rel=1e-12), name
        width = ref_high - ref_low
        # quantiles of two independent 4000-resample bootstraps of the same scheme: a few % of the width apart
        assert abs(low - ref_low) < 0.1 * width and abs(high - ref_high) < 0.1 * width, (name, low, high, intervals)
