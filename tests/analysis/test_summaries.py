"""Run summaries equal a numpy reference, and folding points in batch by batch gives
what one pass over every point gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.summaries import STATS, Summary, check_stats

values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")))


def reference(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    ok = ~np.isnan(y)
    order = np.argsort(x, kind="stable")
    out = {"count": float(x.size), "first": y[order[0]] if x.size else math.nan,
           "last": y[order[::-1][np.argmax(x[order[::-1]])]] if x.size else math.nan}
    # last: the last logged point among those at the largest x
    if x.size:
        at_max = np.flatnonzero(x == x.max())
        out["last"] = y[at_max[-1]]
        out["first"] = y[np.flatnonzero(x == x.min())[0]]
    if ok.any():
        yv, xv = y[ok], x[ok]
        out.update(min=yv.min(), max=yv.max(), mean=yv.mean(),
                   argmin=xv[np.argmin(yv)], argmax=xv[np.argmax(yv)])
    else:
        out.update(min=math.nan, max=math.nan, mean=math.nan, argmin=math.nan, argmax=math.nan)
    return out


@st.composite
def points_in_batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n = draw(st.integers(0, 40))
    x = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), float)
    y = np.array(draw(st.lists(values, min_size=n, max_size=n)), float)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return x, y, cuts


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@given(points_in_batches())
def test_batches_equal_one_pass_and_the_reference(case: tuple[np.ndarray, np.ndarray, list[int]]) -> None:
    x, y, cuts = case
    whole, parts, merged = Summary(), Summary(), Summary()
    whole.update(x, y)
    for a, b in zip([0, *cuts], [*cuts, x.size], strict=True):
        parts.update(x[a:b], y[a:b])
        piece = Summary()
        piece.update(x[a:b], y[a:b])
        merged.merge(piece)
    want = reference(x, y) if x.size else {s: (0.0 if s == "count" else math.nan) for s in STATS}
    for s in STATS:
        for got in (whole, parts, merged):
            assert _same(got.stat(s), float(want[s])), (s, got.stat(s), want[s])


def test_a_diverged_run_keeps_its_nan_last_but_not_a_nan_min() -> None:
    s = Summary()
    s.update(np.arange(4.0), np.array([3.0, 1.0, 2.0, np.nan]))
    assert math.isnan(s.stat("last")) and s.stat("min") == 1.0 and s.stat("argmin") == 1.0


def test_unknown_stat_names_it_and_the_choices() -> None:
    with pytest.raises(InvalidArgumentError, match=r"'median'.*argmax"):
        check_stats(["min", "median"])
