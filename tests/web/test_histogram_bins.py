"""A histogram's buckets on even bins (``web/plots/histogram_bins``): every count kept,
step by step, and even buckets left as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.tensorboard.histograms import make_histogram
from streamvis.web.plots.histogram_bins import EVEN_BINS, even_bins


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False), min_size=1,
                         max_size=200), min_size=1, max_size=4),
       st.integers(1, 60), st.randoms(use_true_random=False))
def test_each_steps_bins_sum_to_its_counts(steps: list[list[float]], bins: int, rnd: Any) -> None:
    """TensorBoard's buckets (``make_histogram``, as torch writes them) of random values,
    the rows of every step in any order: each step's bins are non-negative and sum to
    its values' count."""
    cols = [make_histogram(np.array(v)) for v in steps]
    left = np.concatenate([h.left for h in cols])
    right = np.concatenate([h.right for h in cols])
    count = np.concatenate([h.count for h in cols])
    step = np.concatenate([np.full(h.count.size, float(k)) for k, h in enumerate(cols)])
    order = list(range(step.size))
    rnd.shuffle(order)  # (a log's rows come step by step; the bins must not depend on it)
    left, right, count, step = left[order], right[order], count[order], step[order]
    x, y, f = even_bins(left, right, count, step, bins)
    assert (y >= 0).all() and np.isfinite(x).all()
    for k, v in enumerate(steps):
        at = f == k
        assert np.isclose(y[at].sum(), len(v), rtol=1e-9)
        assert at.sum() in (bins, np.count_nonzero(count[step == k]))  # even bins, or kept as they are
        assert (np.diff(x[at]) > 0).all() or at.sum() == 1


def test_a_normal_distribution_has_no_dip_at_zero() -> None:
    """TensorBoard's buckets narrow towards 0 (10% steps from 1e-12): drawn as stored, a
    normal distribution's counts fall to nothing at 0; on even bins its peak is there."""
    values = np.random.default_rng(0).normal(size=100_000)
    h = make_histogram(values)
    stored_at_zero = h.count[np.argmin(np.abs((h.left + h.right) / 2))]
    x, y, _ = even_bins(h.left, h.right, h.count, np.zeros(h.count.size))
    assert x.size == EVEN_BINS
    assert stored_at_zero < 0.01 * h.count.max()  # the dip, as stored
    assert abs(x[np.argmax(y)]) < (x[1] - x[0])  # the peak at 0 on even bins
    ref, _ = np.histogram(values, bins=np.linspace(x[0] - (x[1] - x[0]) / 2, x[-1] + (x[1] - x[0]) / 2, EVEN_BINS + 1))
    assert np.abs(y - ref).max() < 0.02 * ref.max()  # close to binning the values themselves


def test_even_buckets_stay_and_odd_ones_are_kept_as_they_are() -> None:
    edges = np.arange(0.0, 31.0)
    c = np.arange(1.0, 31.0)
    x, y, f = even_bins(edges[:-1], edges[1:], c, np.full(30, 5.0), 30)
    np.testing.assert_allclose(x, edges[:-1] + 0.5)
    np.testing.assert_allclose(y, c)
    assert (f == 5.0).all()
    # overlapping buckets (not as TensorBoard writes them): drawn at their centres
    x, y, _ = even_bins(np.array([0.0, 0.5]), np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.zeros(2))
    np.testing.assert_allclose(x, [0.5, 1.25])
    np.testing.assert_allclose(y, [3.0, 4.0])
    assert [a.size for a in even_bins(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))] == [0, 0, 0]
