"""IQM and bootstrap confidence intervals against hand computation."""

import numpy as np
import pytest

from nacre.evaluation.metrics import bootstrap_ci, iqm


def test_iqm_trims_a_quarter_at_each_end():
    assert iqm(np.array([100.0, 1, 2, 3, 4, 5, 6, -100])) == pytest.approx((2 + 3 + 4 + 5) / 4)
    assert iqm(np.arange(4.0).reshape(2, 2)) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        iqm(np.array([]))


def test_bootstrap_interval_contains_estimate_and_shrinks_with_data():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(5, 4))
    large = rng.normal(size=(80, 4))
    est, lo, hi = bootstrap_ci(small, rng=np.random.default_rng(1))
    assert lo <= est <= hi
    _, lo2, hi2 = bootstrap_ci(large, rng=np.random.default_rng(1))
    assert hi2 - lo2 < hi - lo
    const = np.full((6, 3), 2.5)
    assert bootstrap_ci(const, statistic=np.mean) == (2.5, 2.5, 2.5)
