"""Aggregates across runs equal a pandas reference, on random step grids with NaNs,
repeated steps and runs of one point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.aggregates import AGGS, BANDS, aggregate_runs

values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")))


@st.composite
def runs(draw: st.DrawFn) -> list[tuple[np.ndarray, np.ndarray]]:
    """1-6 runs; either on one shared step grid (some runs shorter) or on steps of their
    own; points at a step repeated now and then; NaNs."""
    shared = draw(st.booleans())
    out = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(1, 25))
        if shared:
            x = np.arange(n, dtype=float) * 10
        else:
            x = np.sort(np.array(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)), float))
        y = np.array(draw(st.lists(values, min_size=n, max_size=n)), float)
        out.append((x, y))
    return out


def reference(rs: list[tuple[np.ndarray, np.ndarray]], agg: str, band: str,
              bucket: tuple[float, float] | None) -> pd.DataFrame:
    df = pd.concat([pd.DataFrame({"run": i, "x": x, "y": y}) for i, (x, y) in enumerate(rs)])
    df = df.dropna(subset=["y"])
    if bucket is not None:
        start, width = bucket
        df["x"] = start + np.floor((df["x"] - start) / width) * width
    per_run = df.groupby(["run", "x"])["y"].mean().reset_index()
    g = per_run.groupby("x")["y"]
    out = pd.DataFrame({"y": g.agg(agg), "n": g.count(), "mean": g.mean(), "min": g.min(),
                        "max": g.max(), "std": g.std(ddof=1).fillna(0.0)})
    if band == "minmax":
        out["lo"], out["hi"] = out["min"], out["max"]
    elif band in ("std", "stderr"):
        sd = out["std"] / (np.sqrt(out["n"]) if band == "stderr" else 1)
        out["lo"], out["hi"] = out["y"] - sd, out["y"] + sd
    else:
        out["lo"] = out["hi"] = out["y"]
    return out.reset_index()


@given(runs(), st.sampled_from(AGGS), st.sampled_from(BANDS))
def test_aggregate_equals_pandas(rs: list[tuple[np.ndarray, np.ndarray]], agg: str, band: str) -> None:
    got = aggregate_runs(rs, agg=agg, band=band)
    bucket = None if got.grid is None else (got.grid.start, got.grid.width)
    want = reference(rs, agg, band, bucket)
    np.testing.assert_array_equal(got.x, want["x"].to_numpy())
    np.testing.assert_array_equal(got.n, want["n"].to_numpy())
    for col in ("y", "lo", "hi"):
        np.testing.assert_allclose(getattr(got, col), want[col].to_numpy(), rtol=1e-9, atol=1e-6)
    assert (got.lo <= got.y + 1e-6).all() and (got.y <= got.hi + 1e-6).all()


def test_runs_sharing_steps_are_exact_at_every_step() -> None:
    a = (np.arange(100.0), np.full(100, 1.0))
    b = (np.arange(0.0, 100.0, 10.0), np.full(10, 3.0))  # every 10th step only
    got = aggregate_runs([a, b])
    assert got.grid is None
    assert got.x.tolist() == list(range(100))
    assert got.n[::10].tolist() == [2] * 10 and set(got.n[1::10].tolist()) == {1}
    assert got.y[10] == 2.0 and got.y[11] == 1.0


def test_runs_on_different_steps_are_bucketed_and_the_grid_is_said() -> None:
    a = (np.arange(0.0, 100.0, 10.0), np.arange(10.0))
    b = (np.arange(5.0, 105.0, 10.0), np.arange(10.0) + 100)
    got = aggregate_runs([a, b])
    assert got.grid is not None and got.grid.width == 10.0
    assert "every 10" in got.grid.describe()
    assert got.n.tolist() == [2] * 10  # each bucket holds one point of each run
    np.testing.assert_allclose(got.y, np.arange(10.0) + 50)


def test_no_points_is_an_empty_line() -> None:
    got = aggregate_runs([(np.arange(3.0), np.full(3, np.nan))])
    assert len(got) == 0


@pytest.mark.parametrize("kw, bad", [({"agg": "avg"}, "avg"), ({"band": "iqr"}, "iqr")])
def test_unknown_agg_or_band_names_it_and_the_choices(kw: dict, bad: str) -> None:
    with pytest.raises(InvalidArgumentError) as e:
        aggregate_runs([], **kw)
    msg = str(e.value)
    assert repr(bad) in msg and "\n" not in msg
    assert ("median" in msg) if "agg" in kw else ("stderr" in msg)
