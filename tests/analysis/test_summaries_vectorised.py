"""Summaries of many groups at once (``summarize`` over concatenated columns, the
store's many-groups read behind a first ``SummaryBook.refresh``) equal a per-group
pandas reference, and points appended later fold in to what a fresh full read gives."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.errors import InvalidArgumentError
from streamvis.run_analysis import ColumnReader, SummaryBook
from streamvis.source import LocalSource
from streamvis.storage import Points, Store
from streamvis.storage.read.group_columns import plan_group_columns, read_group_columns
from streamvis.storage.read.summaries import STATS, Summary, summarize

NAN = float("nan")
values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, width=32), st.just(NAN))


def reference(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """One group's stats from pandas, by their definitions (README, summaries.py)."""
    df = pd.DataFrame({"x": x.astype(float), "y": y.astype(float), "order": np.arange(x.size)})
    by_x = df[df.x.notna()].sort_values(["x", "order"], kind="stable")  # a NaN x has no place
    ok = df[df.y.notna()]
    out = {"count": float(len(df)), "first": by_x.y.iloc[0] if len(by_x) else NAN,
           "last": by_x.y.iloc[-1] if len(by_x) else NAN,
           "min": ok.y.min(), "max": ok.y.max(), "mean": ok.y.mean()}
    out["argmin"] = ok.x.loc[ok.y.idxmin()] if len(ok) else NAN
    out["argmax"] = ok.x.loc[ok.y.idxmax()] if len(ok) else NAN
    return {k: float(v) for k, v in out.items()}


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def assert_equal(got: Summary, want: dict[str, float], what: Any) -> None:
    for s in STATS:
        assert same(got.stat(s), want[s]), (what, s, got.stat(s), want[s])


@st.composite
def groups(draw: st.DrawFn) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of 0 to 12 points: steps ascending (as logged) or shuffled with repeats,
    sometimes a NaN step, values with NaNs (some groups all NaN), one-point groups."""
    out = []
    for _ in range(draw(st.integers(0, 8))):
        n = draw(st.integers(0, 12))
        if draw(st.booleans()):
            x = np.arange(n, dtype=float) * draw(st.integers(1, 3)) + draw(st.integers(-5, 5))
        else:
            x = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), float)
        y = np.array(draw(st.lists(values, min_size=n, max_size=n)), float)
        if n and draw(st.integers(0, 5)) == 0:  # a step that is NaN (a float x column)
            x[draw(st.integers(0, n - 1))] = NAN
        out.append((x, y))
    return out


@given(groups())
def test_summarize_equals_the_per_group_reference(gs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    keys = [f"g{i}" for i in range(len(gs))]
    offsets = np.concatenate([[0], np.cumsum([x.size for x, _ in gs])]).astype(np.int64)
    x = np.concatenate([x for x, _ in gs]) if gs else np.empty(0)
    y = np.concatenate([y for _, y in gs]) if gs else np.empty(0)
    got = summarize(keys, offsets, x, y)
    assert set(got) == {k for k, (gx, _) in zip(keys, gs, strict=True) if gx.size}  # empty left out
    for k, (gx, gy) in zip(keys, gs, strict=True):
        if gx.size:
            assert_equal(got[k], reference(gx, gy), k)


def test_a_point_whose_step_is_nan_is_neither_first_nor_last() -> None:
    x = np.array([NAN, 0.0, 1.0, 2.0, NAN])  # groups: [NaN], [0, 1, 2], [NaN]
    y = np.array([5.0, 1.0, 2.0, 3.0, 7.0])
    got = summarize(["a", "b", "c"], np.array([0, 1, 4, 5]), x, y)
    for k, rows in (("a", slice(0, 1)), ("b", slice(1, 4)), ("c", slice(4, 5))):
        assert_equal(got[k], reference(x[rows], y[rows]), k)
    assert math.isnan(got["a"].stat("first")) and got["a"].stat("min") == 5.0


def test_equal_length_groups_take_the_2d_path_and_agree_with_the_general_one() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 60).astype(float)  # ties: the first of equal extremes wins
    x = np.tile(np.arange(10.0), 6)
    offsets = np.arange(0, 61, 10)
    uniform = summarize(list(range(6)), offsets, x, y)
    for k in range(6):
        assert_equal(uniform[k], reference(x[k * 10:(k + 1) * 10], y[k * 10:(k + 1) * 10]), k)
    y[5] = NAN  # a NaN sends every group through the general path
    general = summarize(list(range(6)), offsets, x, y)
    for k in range(1, 6):
        assert general[k] == uniform[k]


class FetchOnly:
    """A reader with only ``fetch`` and ``configs`` (as a data server's client): the book
    takes its tables, not the store's many-groups read."""

    def __init__(self, src: LocalSource) -> None:
        self.src = src

    def fetch(self, *args: Any, **kw: Any) -> Any:
        return self.src.fetch(*args, **kw)

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        return self.src.configs(scope_pattern)


DTYPES = ("float64", "float32", "int64")


@st.composite
def batches(draw: st.DrawFn, indices: int = 1) -> list[list[Points]]:
    """Batches of points for runs r0..r5 and names n0..n3 (each name's dtype fixed),
    up to ``indices`` indices per name, one point runs, NaNs, steps out of order."""
    dtypes = [draw(st.sampled_from(DTYPES)) for _ in range(4)]
    out = []
    for _ in range(draw(st.integers(1, 4))):
        batch = []
        for _ in range(draw(st.integers(1, 6))):
            run, name = draw(st.integers(0, 5)), draw(st.integers(0, 3))
            n = draw(st.integers(1, 9))
            x = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), np.int64)
            if draw(st.booleans()):
                x = np.sort(x)
            y = np.array(draw(st.lists(values, min_size=n, max_size=n)), np.float64)
            if dtypes[name] == "int64":
                y = np.nan_to_num(y).astype(np.int64)
            batch.append(Points(f"r{run}", f"n{name}", draw(st.integers(0, indices - 1)),
                                {"x": x, "y": y.astype(dtypes[name])}))
        out.append(batch)
    return out


def _reference_all(src: LocalSource, names: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    res = src.fetch(name_pattern="^(?:" + "|".join(names) + ")$")
    return {k: reference(t.column("x").to_numpy(), t.column("y").to_numpy())
            for k, t in res.tables.items() if t.num_rows}


@settings(max_examples=30, deadline=None)
@given(batches(indices=3))
def test_a_first_read_of_several_indices_equals_the_reference(bs: list[list[Points]]) -> None:
    """A name's indices in index order, each in log order: the rows of ``fetch``'s table
    (among equal x in different indices, ``first``/``last`` follow that order)."""
    names = ["n0", "n1", "n2", "n3"]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "log.svl")
        with Store.open(path, mode="a", fsync=False) as st_:
            for b in bs:
                st_.append(b)
        with LocalSource(Store.open(path, mode="r")) as src:
            book, plain = SummaryBook(src, names), SummaryBook(FetchOnly(src), names)
            assert book.refresh() == plain.refresh() == sum(len(p.columns["x"]) for b in bs for p in b)
            want = _reference_all(src, names)
            assert set(book.summaries) == set(plain.summaries) == set(want)
            for k, w in want.items():
                assert_equal(book.summaries[k], w, k)
                assert_equal(plain.summaries[k], w, k)


@settings(max_examples=30, deadline=None)
@given(batches(), st.integers(0, 3))
def test_a_book_equals_the_reference_first_and_after_every_poll(bs: list[list[Points]],
                                                                 first: int) -> None:
    """Points appended after the first read fold into the same ``Summary`` objects, to
    what a full read of the log gives (one index per name: log order is the rows' order)."""
    names = ["n0", "n1", "n2", "n3", "never"]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "log.svl")
        with Store.open(path, mode="a", fsync=False) as st_, \
                LocalSource(Store.open(path, mode="r")) as src:
            for b in bs[:first]:
                st_.append(b)
            src.store.refresh()
            assert isinstance(src, ColumnReader)
            book, plain = SummaryBook(src, names), SummaryBook(FetchOnly(src), names)
            book.refresh(), plain.refresh()
            held = dict(book.summaries)
            for b in bs[first:]:  # later points fold into the same objects
                st_.append(b)
                src.store.refresh()
                book.refresh(), plain.refresh()
            want = _reference_all(src, names)
            assert set(book.summaries) == set(plain.summaries) == set(want)
            for k, w in want.items():
                assert_equal(book.summaries[k], w, k)
                assert_equal(plain.summaries[k], w, k)
                if k in held:
                    assert book.summaries[k] is held[k]
            fresh = SummaryBook(src, names)
            fresh.refresh()
            assert fresh.summaries.keys() == book.summaries.keys()


def test_chunks_of_a_few_points_give_the_same_summaries(tmp_path: Path) -> None:
    path = str(tmp_path / "log.svl")
    rng = np.random.default_rng(1)
    with Store.open(path, mode="a") as st_:
        for r in range(20):
            n = int(rng.integers(1, 30))
            st_.append([Points(f"r{r}", "loss", 0, {"x": np.arange(n), "y": rng.random(n)}),
                        Points(f"r{r}", "loss", 1, {"x": np.arange(3), "y": rng.random(3)}),
                        Points(f"r{r}", "acc", 0, {"x": np.arange(n), "y": rng.random(n),
                                                   "wall_time": rng.random(n)})])
        plan = plan_group_columns(st_.log.state, lambda s: True, lambda n: True, ("x", "y"))
        small = {}
        chunks = list(read_group_columns(st_.backend, plan, ("x", "y"), chunk_points=25))
        assert len(chunks) > 10
        for c in chunks:
            small.update(summarize(c.keys, c.offsets, c.columns["x"], c.columns["y"]))
    with LocalSource(Store.open(path, mode="r")) as src:
        book = SummaryBook(src, ["loss", "acc"])
        assert book.refresh() == sum(s.count for s in small.values())
        want = _reference_all(src, ["loss", "acc"])
        assert book.summaries == small and set(small) == set(want)
        for k, w in want.items():
            assert_equal(small[k], w, k)


def test_a_name_without_y_is_one_line_naming_it(tmp_path: Path) -> None:
    path = str(tmp_path / "log.svl")
    with Store.open(path, mode="a") as st_:
        st_.append([Points("run", "cloud", 0, {"x": np.arange(3), "z": np.ones(3)})])
    with LocalSource(Store.open(path, mode="r")) as src:
        for reader in (src, FetchOnly(src)):
            with pytest.raises(InvalidArgumentError, match=r"^'cloud' of run 'run' has columns "
                                                           r"x, z: [^\n]*'y'$"):
                SummaryBook(reader, ["cloud"]).refresh()
