"""Aggregates kept current as runs append points (``LiveAggregates``, ``AggregateBook``):
after every batch equal to ``aggregate_runs`` over every point so far; a live refresh
reads only the new points; what cannot be folded in exactly is read whole again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.run_analysis import AggregateBook, aggregate_groups
from streamvis.source import LocalSource
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.storage.read.aggregates import AGGS, BANDS, Aggregate, aggregate_runs
from streamvis.storage.read.live_aggregates import LiveAggregates
from streamvis.storage.read.smooth import EmaState, ema, ema_runs


def _close(got: Aggregate, want: Aggregate, scale: float = 1.0) -> None:
    assert (got.grid is None) == (want.grid is None)
    np.testing.assert_array_equal(got.x, want.x)
    np.testing.assert_array_equal(got.n, want.n)
    for a, b in ((got.y, want.y), (got.lo, want.lo), (got.hi, want.hi)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale)


def _same(got: dict[Any, Aggregate], want: dict[Any, Aggregate], scale: float = 1.0) -> None:
    assert list(got) == list(want)
    for k in want:
        _close(got[k], want[k], scale)


# ---- the fold itself: random batches, shared step grids or not, NaNs, repeated steps ----------
@st.composite
def sweeps(draw: Any) -> tuple[list[int], list[list[tuple[np.ndarray, np.ndarray]]], int]:
    """(group of each run, each run's batches (x, y) in the order appended, groups)."""
    n_runs = draw(st.integers(1, 6))
    n_groups = draw(st.integers(1, min(3, n_runs)))
    group = [draw(st.integers(0, n_groups - 1)) for _ in range(n_runs)]
    shared = draw(st.booleans())
    base = np.arange(0, 60, draw(st.sampled_from([1, 2, 5])), dtype=float)
    value = st.one_of(st.floats(-100, 100, allow_nan=False, allow_subnormal=False), st.just(np.nan))
    runs = []
    for _ in range(n_runs):
        if shared:  # the same steps, each run as far as it got
            steps = base[:draw(st.integers(1, base.size))]
        else:
            steps = np.array(sorted(draw(st.sets(st.integers(0, 80), min_size=1, max_size=30))), dtype=float)
        if draw(st.booleans()):  # some steps logged twice (within a batch: their mean)
            steps = np.sort(np.concatenate([steps, steps[: draw(st.integers(0, 3))]]))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, steps.size - 1)), max_size=4)))
        batches = []
        for part in np.split(steps, cuts):
            if part.size:
                y = np.array([draw(value) for _ in range(part.size)])
                batches.append((part, y))
        runs.append(batches)
    return group, runs, n_groups


@settings(max_examples=150, deadline=None)
@given(sweeps(), st.sampled_from(AGGS), st.sampled_from(BANDS), st.randoms(use_true_random=False))
def test_folding_in_batches_equals_aggregate_runs_over_every_point(
        sweep: Any, agg: str, band: str, rnd: Any) -> None:
    group, runs, n_groups = sweep
    scopes = [f"r{i}" for i in range(len(runs))]
    so_far: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {s: [] for s in scopes}

    def every_point() -> dict[tuple[int], list[tuple[str, np.ndarray, np.ndarray]]]:
        out: dict[tuple[int], list[tuple[str, np.ndarray, np.ndarray]]] = {}
        for s, g in zip(scopes, group, strict=True):
            b = so_far[s]
            x = np.concatenate([x for x, _ in b]) if b else np.empty(0)
            y = np.concatenate([y for _, y in b]) if b else np.empty(0)
            out.setdefault((g,), []).append((s, x, y))
        return dict(sorted(out.items()))

    live = LiveAggregates(every_point(), agg=agg, band=band)
    pending = [(s, b) for s, bs in zip(scopes, runs, strict=True) for b in bs]
    order: list[tuple[str, tuple[np.ndarray, np.ndarray]]] = []
    by_run = {s: [b for ss, b in pending if ss == s] for s in scopes}
    while any(by_run.values()):  # runs advance in a random interleaving, each in its own order
        s = rnd.choice([s for s in scopes if by_run[s]])
        order.append((s, by_run[s].pop(0)))
    folded = 0
    while order:
        k = rnd.randint(1, 3)  # a poll brings several runs' batches
        poll, order = order[:k], order[k:]
        batch: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for s, (x, y) in poll:
            so_far[s].append((x, y))
            if s in batch:
                bx, by = batch[s]
                batch[s] = (np.concatenate([bx, x]), np.concatenate([by, y]))
            else:
                batch[s] = (x, y)
        want = {gk: aggregate_runs([(x, y) for _, x, y in runs_], agg=agg, band=band)
                for gk, runs_ in every_point().items()}
        if live.append(batch):
            folded += 1
            _same(live.aggregates, want, 100.0)
        else:  # not exact by folding in (steps differ, repeated across polls): start again
            live = LiveAggregates(every_point(), agg=agg, band=band)
            _same(live.aggregates, want, 100.0)


@settings(max_examples=150, deadline=None)
@given(sweeps(), st.sampled_from(AGGS), st.sampled_from(BANDS))
def test_a_start_from_every_point_equals_aggregate_runs(sweep: Any, agg: str, band: str) -> None:
    """The start alone (its union of x found without a sort where runs share steps, each
    run's values taken as they are where logged in order without NaN)."""
    group, runs, _ = sweep
    groups: dict[tuple[int], list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for i, (g, batches) in enumerate(zip(group, runs, strict=True)):
        x = np.concatenate([x for x, _ in batches])
        y = np.concatenate([y for _, y in batches])
        groups.setdefault((g,), []).append((f"r{i}", x, y))
    groups = dict(sorted(groups.items()))
    want = {gk: aggregate_runs([(x, y) for _, x, y in rs], agg=agg, band=band) for gk, rs in groups.items()}
    _same(LiveAggregates(groups, agg=agg, band=band).aggregates, want, 100.0)


def test_shared_steps_fold_in_and_a_lagging_run_fills_old_columns() -> None:
    x = np.arange(10.0)
    runs = {("a",): [("r0", x, x * 2), ("r1", x[:4], x[:4] + 1)], ("b",): [("r2", x, -x)]}
    live = LiveAggregates(runs, agg="median", band="std")
    assert live.live
    batch = {"r0": (np.arange(10.0, 13.0), np.array([1.0, np.nan, 3.0])),
             "r1": (np.arange(4.0, 8.0), np.array([5.0, 6.0, 7.0, 8.0])),
             "r2": (np.array([10.0, 10.0]), np.array([4.0, 6.0]))}
    assert live.append(batch)
    assert live.points_folded == 9
    want = aggregate_runs([(np.arange(13.0), np.concatenate([x * 2, [1.0, np.nan, 3.0]])),
                           (np.arange(8.0), np.concatenate([x[:4] + 1, [5.0, 6.0, 7.0, 8.0]]))],
                          agg="median", band="std")
    _close(live.aggregates[("a",)], want)
    assert live.aggregates[("a",)].n.tolist() == [2] * 8 + [1] * 4  # x=11 is NaN: not a column
    assert live.aggregates[("b",)].y[-1] == 5.0
    assert not live.append({"r0": (np.array([12.0]), np.array([0.0]))})  # a step again: not exact


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-1e3, 1e3), st.sampled_from([np.nan, np.inf])), min_size=1,
                         max_size=12), min_size=1, max_size=8),
       st.sampled_from([0.0, 0.3, 0.9, 0.999]), st.lists(st.integers(0, 5), min_size=8, max_size=8))
def test_smoothing_many_runs_together_equals_each_alone(series: list[list[float]], w: float,
                                                         counts: list[int]) -> None:
    states = [EmaState(float(c) * 0.5, c) for c in counts[: len(series)]]
    got, got_states = ema_runs(np.concatenate([np.array(s) for s in series]),
                               np.array([len(s) for s in series]), w, states)
    want = [ema(np.array(s), w, st_) for s, st_ in zip(series, states, strict=True)]
    np.testing.assert_allclose(got, np.concatenate([v for v, _ in want]), rtol=1e-9, atol=1e-9)
    for a, (_, b) in zip(got_states, want, strict=True):
        assert a.count == b.count and np.isclose(a.last, b.last, rtol=1e-9, atol=1e-9)


def test_runs_of_very_different_lengths_are_computed_whole() -> None:
    """One long run and many short ones: a matrix of runs x steps would be mostly empty,
    so the group is ``aggregate_runs``'s (and not folded into: ``live`` is False)."""
    long_x = np.arange(5000.0)
    runs = [("long", long_x, np.sin(long_x))] + [(f"s{i}", long_x[:10], np.full(10, float(i))) for i in range(50)]
    live = LiveAggregates({("g",): runs}, agg="median", band="stderr")
    assert not live.live
    _close(live.aggregates[("g",)], aggregate_runs([(x, y) for _, x, y in runs], agg="median", band="stderr"))
    assert not live.append({"long": (np.array([5000.0]), np.array([1.0]))})
    short = LiveAggregates({("g",): [(s, x, y) for s, x, y in runs[1:]] + [("long", long_x[:20], long_x[:20])]})
    assert short.live  # the long run grows away from the others: read whole from then on
    assert not short.append({"long": (np.arange(20.0, 5000.0), np.zeros(4980))})


# ---- the book over a real log: reads only the new points, smoothing, what reads whole ------
def _append(path: Path, runs: list[str], x: np.ndarray, rng: np.random.Generator, *,
            configs: bool = False, nan: float = 0.0) -> None:
    with Store.open(str(path), mode="a") as st_:
        batch: list[Any] = []
        for i, r in enumerate(runs):
            if configs:
                batch.append(ConfigUpdate(r, {"lr": [0.1, 0.01][i % 2], "seed": i}))
            y = rng.normal(size=x.size)
            y[rng.random(x.size) < nan] = np.nan
            batch.append(Points(r, "loss", 0, {"x": x, "y": y}))
        st_.append(batch)


class _TablesOnly:
    """A source that reads only tables (as a data server's client does): no
    ``fetch_arrays``, no ``read_columns``."""

    def __init__(self, src: LocalSource) -> None:
        self.fetch, self.configs = src.fetch, src.configs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(AGGS), st.sampled_from(BANDS), st.sampled_from([0.0, 0.6, 0.95]),
       st.lists(st.integers(1, 7), min_size=1, max_size=5), st.integers(0, 2 ** 16), st.booleans())
def test_book_over_a_log_equals_the_full_aggregate_at_every_poll(
        tmp_path_factory: Any, agg: str, band: str, smoothing: float, sizes: list[int], seed: int,
        tables: bool) -> None:
    """Folded in from reads into arrays (a local log) or from tables (``tables``)."""
    path = tmp_path_factory.mktemp("book") / "g.svl"
    rng = np.random.default_rng(seed)
    runs = [f"run{i}" for i in range(5)]
    _append(path, runs, np.arange(3.0), rng, configs=True, nan=0.2)
    top = 3
    with LocalSource.open(str(path)) as src:
        reader: Any = _TablesOnly(src) if tables else src
        book = AggregateBook(reader, "loss", "lr", agg=agg, band=band, smoothing=smoothing)
        got = book.refresh()
        bucketed = any(a.grid is not None for a in got.aggregates.values())
        for k in sizes:
            some = runs[: 1 + k % len(runs)]  # not every run gets points at every poll
            _append(path, some, np.arange(top, top + k, dtype=float), rng, nan=0.2)
            top += k
            got = book.refresh()
            want = aggregate_groups(src, "loss", "lr", agg=agg, band=band, smoothing=smoothing)
            assert got.keys == want.keys and got.notes == want.notes
            _same(got.aggregates, want.aggregates, 10.0)
            bucketed |= any(a.grid is not None for a in want.aggregates.values())
        if not bucketed:  # (NaNs can leave a run's steps apart from the others': a grid)
            assert book.full_reads == 1  # the runs share their steps: every poll folded in


@pytest.mark.parametrize("tables", [False, True])
def test_a_name_of_several_indices_folds_in_unsmoothed_and_is_read_whole_smoothed(
        tmp_path: Path, tables: bool) -> None:
    """A run's indices go end to end, index by index (a full read's order): folded in
    while unsmoothed; smoothed, each poll reads every point again (the EMA runs in log
    order, which is not that order)."""
    path = tmp_path / "g.svl"
    runs = ["a", "b", "c"]
    with Store.open(str(path), mode="a") as st_:
        st_.append([ConfigUpdate(r, {"lr": 0.1, "seed": i}) for i, r in enumerate(runs)])
    with LocalSource.open(str(path)) as src:
        reader: Any = _TablesOnly(src) if tables else src
        books = [AggregateBook(reader, "loss", "lr"), AggregateBook(reader, "loss", "lr", smoothing=0.6)]
        for k in range(4):
            with Store.open(str(path), mode="a") as st_:
                st_.append([Points(r, "loss", index, {"x": np.arange(3.0 * k, 3.0 * k + 3),
                                                      "y": np.full(3, 10.0 * i + index + k)})
                            for i, r in enumerate(runs) for index in (0, 1)])
            for book in books:
                got = book.refresh()
                want = aggregate_groups(src, "loss", "lr", smoothing=book.weight and 0.6)
                _same(got.aggregates, want.aggregates)
        assert books[0].full_reads == 1  # the first refresh; every poll after folded in
        assert books[1].full_reads == 4


def test_a_live_refresh_reads_only_the_new_points(tmp_path: Path) -> None:
    path = tmp_path / "g.svl"
    rng = np.random.default_rng(1)
    runs = [f"run{i}" for i in range(6)]
    _append(path, runs, np.arange(500.0), rng, configs=True)
    with LocalSource.open(str(path)) as src:
        book = AggregateBook(src, "loss", "lr", agg="mean", band="std", smoothing=0.5)
        book.refresh()
        assert (book.full_reads, book.points_read) == (1, 3000)
        for k in range(3):
            _append(path, runs, np.arange(500.0 + 10 * k, 510.0 + 10 * k), rng)
            got = book.refresh()
        assert (book.full_reads, book.points_read) == (1, 3000 + 3 * 60)
        want = aggregate_groups(src, "loss", "lr", agg="mean", band="std", smoothing=0.5)
        _same(got.aggregates, want.aggregates)
        _append(path, runs, np.arange(530.0, 830.0), rng)  # a long poll: each run smoothed alone
        got = book.refresh()
        assert (book.full_reads, book.points_read) == (1, 3000 + 3 * 60 + 1800)
        want = aggregate_groups(src, "loss", "lr", agg="mean", band="std", smoothing=0.5)
        _same(got.aggregates, want.aggregates)
        # a config written again (the groups may change): read whole
        with Store.open(str(path), mode="a") as st_:
            st_.append([ConfigUpdate("run0", {"lr": 0.5, "seed": 0})])
        got = book.refresh()
        assert book.full_reads == 2 and (0.5,) in got.aggregates
        # a step below a run's last: read whole, and the result is still the full one
        _append(path, runs[:1], np.array([3.0]), rng)
        got = book.refresh()
        assert book.full_reads == 3
        want = aggregate_groups(src, "loss", "lr", agg="mean", band="std", smoothing=0.5)
        _same(got.aggregates, want.aggregates)
        # a run deleted: read whole, the run gone from its group
        src.delete("run1")
        got = book.refresh()
        assert book.full_reads == 4 and int(got.aggregates[(0.01,)].n.max()) == 2


def test_a_source_keeps_the_queries_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "g.svl"
    rng = np.random.default_rng(2)
    runs = [f"run{i}" for i in range(4)]
    _append(path, runs, np.arange(100.0), rng, configs=True)
    with LocalSource.open(str(path)) as src:
        src.aggregate("loss", "lr")
        assert src.books.books() == []  # asked once (a script): nothing kept
        src.aggregate("loss", "lr")
        (book,) = src.books.books()
        _append(path, runs, np.arange(100.0, 110.0), rng)
        got = src.aggregate("loss", "lr")
        assert book.full_reads == 1 and book.points_read == 400 + 40
        want = aggregate_groups(src, "loss", "lr")
        _same(got.aggregates, want.aggregates)
        src.aggregate("loss", "lr", x_name="loss")  # joined on step: never kept
        assert src.books.books() == [book]
        src.release_cache()  # (no page open)
        assert src.books.books() == []
        src.aggregate("loss", "lr")  # asked before: kept from its next call
        assert len(src.books.books()) == 1 and src.books.books()[0] is not book


def test_a_followed_query_is_kept_from_its_first_call(tmp_path: Path) -> None:
    """A page asks with ``follow``: its first poll folds in the new points instead of
    reading every point again (the book would otherwise be made at that poll)."""
    path = tmp_path / "g.svl"
    rng = np.random.default_rng(3)
    runs = [f"run{i}" for i in range(4)]
    _append(path, runs, np.arange(100.0), rng, configs=True)
    with LocalSource.open(str(path)) as src:
        src.aggregate("loss", "lr", band="std", follow=True)
        (book,) = src.books.books()
        _append(path, runs, np.arange(100.0, 110.0), rng)
        got = src.aggregate("loss", "lr", band="std", follow=True)
        assert (book.full_reads, book.points_read) == (1, 400 + 40)
        _same(got.aggregates, aggregate_groups(src, "loss", "lr", band="std").aggregates)


def test_a_book_after_a_poll_takes_the_polls_read(tmp_path: Path) -> None:
    """A page's poll reads its names since its cursor (into arrays: ``fetch_arrays``);
    the book that follows asks for one of them since the same cursor: answered from the
    poll's read while nothing was appended in between, read from the log otherwise (and
    equal either way). A read of tables is never answered from a read into arrays."""
    path = tmp_path / "g.svl"
    rng = np.random.default_rng(4)
    runs = [f"run{i}" for i in range(4)]
    _append(path, runs, np.arange(100.0), rng, configs=True)
    with LocalSource.open(str(path)) as src:
        book = AggregateBook(src, "loss", "lr", band="std")
        book.refresh()
        cursor = src.cursor()
        for k in range(3):
            _append(path, runs, np.arange(100.0 + 10 * k, 110.0 + 10 * k), rng)
            poll = src.fetch_arrays(cursor, name_pattern="^(loss|acc)$")  # the page's poll
            cursor = poll.cursor
            if k == 2:  # points appended between the poll and the book: the log is read
                _append(path, runs, np.arange(130.0, 135.0), rng)
            got = book.refresh()
            assert src.last_read.hits == min(k + 1, 2)
            want = aggregate_groups(src, "loss", "lr", band="std")
            _same(got.aggregates, want.aggregates)
        assert book.full_reads == 1 and book.points_read == 400 + 3 * 40 + 20
        narrower = src.fetch(name="loss", since=cursor)
        assert src.last_read.hits == 2 and narrower.num_points == 20  # not the poll's span
