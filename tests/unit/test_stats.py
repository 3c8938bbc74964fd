"""Statistics across seeds (nacre.evaluation.metrics) against hand computation and hand-written references."""

import math

import numpy as np
import pytest

from nacre.evaluation import metrics as m


# ------------------------------------------------------------------ point estimates
def test_iqm_of_known_arrays():
    scores = np.array([[1.0, 9.0], [2.0, 8.0], [3.0, 7.0], [4.0, 100.0]])  # sorted: 1 2 | 3 4 7 8 | 9 100
    assert m.iqm(scores) == pytest.approx((3 + 4 + 7 + 8) / 4)
    assert m.iqm(np.arange(10.0)) == pytest.approx(np.mean([2, 3, 4, 5, 6, 7]))  # int(0.25 * 10) = 2 cut per end
    assert m.iqm(np.array([5.0, -3.0, 11.0])) == pytest.approx(13 / 3)  # int(0.75) = 0: nothing trimmed
    assert m.iqm(np.array([[7.0]])) == 7.0


def test_iqm_matches_scipy_trim_mean():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for runs in range(1, 13):
        for tasks in (1, 2, 5):
            scores = rng.normal(size=(runs, tasks))
            assert m.iqm(scores) == pytest.approx(stats.trim_mean(scores, 0.25, axis=None))


def test_curves_are_aggregated_per_point():
    curve = np.stack([np.arange(8.0).reshape(4, 2), 10 * np.arange(8.0).reshape(4, 2)], axis=-1)  # [4, 2, 2]
    assert curve.shape == (4, 2, 2)
    np.testing.assert_allclose(m.iqm(curve), [m.iqm(curve[:, :, 0]), m.iqm(curve[:, :, 1])])
    np.testing.assert_allclose(m.iqm(curve), [3.5, 35.0])  # middle four of 0..7 (times 10)
    np.testing.assert_allclose(m.median(curve), [3.5, 35.0])
    np.testing.assert_allclose(m.mean(curve), [3.5, 35.0])


def test_median_mean_and_optimality_gap_by_hand():
    scores = np.array([[0.2, 1.5], [0.5, 1.0]])
    assert m.mean(scores) == pytest.approx(0.8)
    # the median is over tasks of each task's mean over runs (task means 0.35, 1.25, 1.5), not of all 6 scores (0.75)
    assert m.median(np.array([[0.2, 1.5, 3.0], [0.5, 1.0, 0.0]])) == pytest.approx(1.25)
    assert m.median(np.array([1.0, 2.0, 9.0])) == pytest.approx(4.0)  # one task: the mean over runs
    assert m.median(np.float64(3.0)) == 3.0 == m.mean(np.float64(3.0))
    curve = np.array([[[0.2, 0.0], [1.5, 1.0], [3.0, 2.0]], [[0.5, 0.0], [1.0, 1.0], [0.0, 4.0]]])
    assert m.median(curve) == pytest.approx([1.25, 1.0])  # per point: task means (0.35, 1.25, 1.5), (0, 1, 3)
    assert m.optimality_gap(scores, 1.0) == pytest.approx((0.8 + 0.5 + 0 + 0) / 4)
    assert m.optimality_gap(scores, 0.1) == 0.0
    assert m.optimality_gap(np.array([-10.0, -30.0]), threshold=-20.0) == pytest.approx(5.0)


def test_nan_scores_give_nan_and_empty_or_bad_shapes_raise():
    scores = np.array([[1.0, 2.0], [np.nan, 4.0], [5.0, 6.0], [7.0, 8.0]])
    for fn in (m.iqm, m.median, m.mean):
        assert math.isnan(fn(scores))
    assert math.isnan(m.probability_of_improvement(scores, scores))
    curve = np.ones((3, 2, 2))
    curve[0, 0, 1] = np.nan
    iqm = m.iqm(curve)
    assert iqm[0] == 1.0 and math.isnan(iqm[1])
    with pytest.raises(ValueError):
        m.iqm(np.array([]))
    with pytest.raises(ValueError):
        m.iqm(np.ones((2, 2, 2, 2)))


# ------------------------------------------------------------------ stratified bootstrap
def _hand_percentile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default 'linear' method), written out."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def _hand_iqm(values: list[float]) -> float:
    ordered = sorted(values)
    cut = len(ordered) // 4
    kept = ordered[cut : len(ordered) - cut]
    return sum(kept) / len(kept)


def _reference_bootstrap(scores, reps, confidence, seed, statistic=_hand_iqm):
    """The documented resampling order: per resample, one rng.integers(0, runs, (runs, tasks)) draw; task t's
    column of the resample takes the runs idx[:, t] of task t."""
    rng = np.random.default_rng(seed)
    runs, tasks = scores.shape
    values = []
    for _ in range(reps):
        idx = rng.integers(0, runs, size=(runs, tasks))
        sample = [scores[idx[r, t], t] for r in range(runs) for t in range(tasks)]
        values.append(statistic(sample))
    alpha = (1 - confidence) / 2
    return _hand_percentile(values, alpha), _hand_percentile(values, 1 - alpha)


def test_stratified_bootstrap_ci_equals_hand_written_reference():
    scores = np.array([[1.0, 10.0, -3.0], [2.0, 12.0, -1.0], [4.0, 11.0, -2.0], [8.0, 15.0, 0.5], [3.0, 9.0, 2.0]])
    for seed, reps, confidence in ((0, 500, 0.95), (7, 301, 0.9)):
        est, low, high = m.stratified_bootstrap_ci(scores, m.iqm, reps=reps, confidence=confidence, rng=seed)
        ref_low, ref_high = _reference_bootstrap(scores, reps, confidence, seed)
        assert est == pytest.approx(_hand_iqm(scores.ravel().tolist()))
        assert low == pytest.approx(ref_low) and high == pytest.approx(ref_high)
        assert low < est < high
    mean_ci = m.stratified_bootstrap_ci(scores, m.mean, reps=200, rng=np.random.default_rng(5))
    ref = _reference_bootstrap(scores, 200, 0.95, 5, statistic=lambda v: sum(v) / len(v))
    assert (mean_ci.low, mean_ci.high) == pytest.approx(ref)


def test_bootstrap_resamples_runs_within_each_task():
    scores = np.array([[1.0, 100.0], [2.0, 200.0], [3.0, 300.0]])
    seen = []

    def spy(sample: np.ndarray) -> float:
        seen.append(sample.copy())
        return float(sample.mean())

    m.stratified_bootstrap_ci(scores, spy, reps=50, rng=1)
    for sample in seen[1:]:  # the first call is the point estimate on the original scores
        assert sample.shape == scores.shape
        assert set(sample[:, 0]) <= {1.0, 2.0, 3.0} and set(sample[:, 1]) <= {100.0, 200.0, 300.0}
    assert any(len(set(s[:, 0])) < 3 for s in seen[1:])  # with replacement


def test_curve_bootstrap_uses_the_same_resample_at_every_point():
    rng = np.random.default_rng(0)
    curve = rng.normal(size=(5, 3, 4))
    whole = m.stratified_bootstrap_ci(curve, m.iqm, reps=200, rng=11)
    for j in range(4):
        point = m.stratified_bootstrap_ci(curve[:, :, j], m.iqm, reps=200, rng=11)
        assert (whole.estimate[j], whole.low[j], whole.high[j]) == pytest.approx(tuple(point))


def test_aggregate_intervals_share_one_set_of_resamples():
    scores = np.array([[0.1, 0.9], [0.4, 0.7], [0.8, 1.0], [0.3, 0.2]])
    out = m.aggregate_intervals(scores, threshold=0.75, reps=300, rng=4)
    assert list(out) == ["iqm", "median", "mean", "optimality_gap"]
    for name, fn in (("iqm", m.iqm), ("median", m.median), ("mean", m.mean),
                     ("optimality_gap", lambda s: m.optimality_gap(s, 0.75))):  # fmt: skip
        alone = m.stratified_bootstrap_ci(scores, fn, reps=300, rng=4)
        assert tuple(out[name]) == pytest.approx(tuple(alone))
    assert "optimality_gap" not in m.aggregate_intervals(scores, reps=10)


def test_bootstrap_of_constant_scores_and_argument_checks():
    assert m.bootstrap_ci(np.full((6, 3), 2.5), statistic=np.mean) == (2.5, 2.5, 2.5)
    one_run = m.stratified_bootstrap_ci(np.array([[3.0, 5.0]]), reps=20)
    assert tuple(one_run) == (4.0, 4.0, 4.0)
    for bad in ({"reps": 0}, {"confidence": 1.0}, {"confidence": 0.0}):
        with pytest.raises(ValueError):
            m.stratified_bootstrap_ci(np.ones((3, 2)), **bad)


def test_same_seed_same_interval_other_seed_other_interval():
    scores = np.random.default_rng(2).normal(size=(6, 2))
    a = m.stratified_bootstrap_ci(scores, reps=100, rng=3)
    assert a == m.stratified_bootstrap_ci(scores, reps=100, rng=3)
    assert a != m.stratified_bootstrap_ci(scores, reps=100, rng=4)


# ------------------------------------------------------------------ probability of improvement
def test_probability_of_improvement_hand_built_cases():
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[2.0], [2.0]])
    # pairs: 1<2, 1<2, 2=2, 2=2, 3>2, 3>2 -> (2 + 0.5 * 2) / 6
    assert m.probability_of_improvement(x, y) == pytest.approx(0.5)
    assert m.probability_of_improvement(x + 10, y) == 1.0
    assert m.probability_of_improvement(y, x + 10) == 0.0
    assert m.probability_of_improvement(np.full((3, 2), 4.0), np.full((5, 2), 4.0)) == 0.5  # all ties
    # two tasks: task 0 as above (0.5); task 1: X = (5, 6, 7) vs Y = (6, 0): pairs won 0+1, tie 1, won 2 of 2
    x2 = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0]])
    y2 = np.array([[2.0, 6.0], [2.0, 0.0]])
    task1 = (1 + 0.5 + 1 + 1 + 1) / 6  # 5>0, 6=6, 6>0, 7>6, 7>0; 5<6
    assert m.probability_of_improvement(x2, y2) == pytest.approx((0.5 + task1) / 2)
    assert m.probability_of_improvement(x2, y2) + m.probability_of_improvement(y2, x2) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        m.probability_of_improvement(np.ones((2, 3)), np.ones((2, 2)))


def test_probability_of_improvement_matches_mann_whitney():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(8)
    x = rng.integers(0, 4, size=(5, 3)).astype(float)  # many ties
    y = rng.integers(0, 4, size=(7, 3)).astype(float)
    expected = np.mean([stats.mannwhitneyu(x[:, t], y[:, t]).statistic / (5 * 7) for t in range(3)])
    assert m.probability_of_improvement(x, y) == pytest.approx(expected)


def test_probability_of_improvement_ci_equals_hand_written_reference():
    x = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0], [2.5, 5.5]])
    y = np.array([[2.0, 6.0], [2.0, 0.0], [1.5, 6.5]])
    reps, seed = 400, 9

    def hand_poi(a, b):
        per_task = []
        for t in range(len(a[0])):
            wins = sum((ai[t] > bi[t]) + 0.5 * (ai[t] == bi[t]) for ai in a for bi in b)
            per_task.append(wins / (len(a) * len(b)))
        return sum(per_task) / len(per_task)

    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):  # documented order: X's indices, then Y's, per resample
        ix = rng.integers(0, len(x), size=x.shape)
        iy = rng.integers(0, len(y), size=y.shape)
        xs = [[x[ix[r, t], t] for t in range(2)] for r in range(len(x))]
        ys = [[y[iy[r, t], t] for t in range(2)] for r in range(len(y))]
        values.append(hand_poi(xs, ys))
    est, low, high = m.probability_of_improvement_ci(x, y, reps=reps, rng=seed)
    assert est == pytest.approx(hand_poi(x.tolist(), y.tolist()))
    assert low == pytest.approx(_hand_percentile(values, 0.025))
    assert high == pytest.approx(_hand_percentile(values, 0.975))
    assert 0 <= low <= est <= high <= 1
