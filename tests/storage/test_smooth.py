"""The vectorised debiased EMA equals TensorBoard's loop, also resumed in pieces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.smooth import ema


def tensorboard_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing loop (tensorboard/webapp: debiased, non-finite passed through)."""
    out, last, k = np.empty(len(values)), 0.0, 0
    for i, v in enumerate(values):
        if not np.isfinite(v):
            out[i] = v
            continue
        last = last * weight + (1 - weight) * v
        k += 1
        out[i] = last / (1 - weight**k)
    return out


values = arrays(
    np.float64,
    st.integers(0, 3000),
    elements=st.one_of(
        st.floats(-1e6, 1e6), st.sampled_from([np.nan, np.inf, -np.inf])
    ),
)


@given(values, st.sampled_from([0.0, 0.01, 0.3, 0.6, 0.9, 0.99, 0.999]), st.data())
def test_matches_tensorboard_and_resumes(v, weight, data):
    want = tensorboard_ema(v, weight)
    got, _ = ema(v, weight)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * (1 + np.nanmax(np.abs(v[np.isfinite(v)]), initial=0)))
    cut = data.draw(st.integers(0, len(v)))
    a, state = ema(v[:cut], weight)
    b, _ = ema(v[cut:], weight, state)
    np.testing.assert_allclose(np.concatenate([a, b]), got, rtol=1e-9, atol=1e-6)


def test_long_series_stays_finite_and_exact():
    v = np.random.default_rng(0).standard_normal(200_000) + 5
    for w in (0.5, 0.999):
        got, _ = ema(v, w)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got[-100:], tensorboard_ema(v, w)[-100:], rtol=1e-9)


@pytest.mark.parametrize("bad", [1.0, -0.1, "0.5", True, float("nan")])
def test_bad_weight_named(bad):
    with pytest.raises(InvalidArgumentError, match="smoothing"):
        ema(np.ones(3), bad)
