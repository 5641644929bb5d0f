"""``x=NAME``: the value NAME had at each step, exact on its steps, linear between,
nothing outside them."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamvis.storage.read.step_join import x_by_name


@given(st.lists(st.integers(0, 50), min_size=1, max_size=30),
       st.lists(st.tuples(st.integers(0, 50), st.floats(-1e3, 1e3)), max_size=30))
def test_equals_a_per_step_reference(steps: list[int], name_points: list[tuple[int, float]]) -> None:
    ns = np.array([s for s, _ in name_points], float)
    nv = np.array([v for _, v in name_points], float)
    got = x_by_name(np.array(steps, float), ns, nv)
    by_step: dict[float, list[float]] = {}
    for s, v in name_points:
        by_step.setdefault(float(s), []).append(v)
    known = sorted(by_step)
    for s, g in zip(steps, got, strict=True):
        if not known or s < known[0] or s > known[-1]:
            assert np.isnan(g)
        elif s in by_step:
            assert np.isclose(g, np.mean(by_step[s]))
        else:
            lo = max(k for k in known if k < s)
            hi = min(k for k in known if k > s)
            a, b = np.mean(by_step[lo]), np.mean(by_step[hi])
            assert np.isclose(g, a + (b - a) * (s - lo) / (hi - lo))


def test_tokens_as_x_stop_at_the_last_logged_step() -> None:
    tokens = x_by_name(np.arange(0, 12), np.array([0, 5, 10]), np.array([0.0, 5e6, 1e7]))
    assert tokens[:11].tolist() == [i * 1e6 for i in range(11)] and np.isnan(tokens[11])
    nan_skipped = x_by_name(np.array([1.0]), np.array([0, 1, 2]), np.array([0.0, np.nan, 2.0]))
    assert nan_skipped.tolist() == [1.0]
