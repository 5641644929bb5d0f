"""Which run was best: summaries per run and aggregates over groups of runs.

Both work over any ``DataSource`` (a local log or a data server) and over every point
of the log, before decimation: groups are exact where other tools sample runs.

- ``SummaryBook`` keeps each (run, name)'s ``Summary`` current from the log: each
  ``refresh`` reads only what was appended since the last (a poll's cost follows the
  new points) and drops what a deletion hides. The first read and each poll are
  computed for all groups at once (``summaries.summarize``) from the store's
  many-groups read where the source has one (``ColumnReader``: a local log), else from
  ``fetch``'s tables (a data server's client).
- ``aggregate_groups`` reads one name of every run, groups the runs by config keys
  and returns one aggregate line with its band per group. ``AggregateBook`` keeps such
  a query current: after its first read it folds in only what was appended
  (``storage.read.live_aggregates``), so a live page's poll costs the new points;
  ``AggregateBooks`` keeps the books of the queries a source is asked again and again.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import pyarrow as pa

from streamvis.columns import STEP_COLUMN, VALUE_COLUMN
from streamvis.errors import CursorResetError, InvalidArgumentError
from streamvis.gc_pause import collector_paused
from streamvis.storage.format.model import ArraysRead, ReadResult
from streamvis.storage.read.aggregates import Aggregate, check_agg_band
from streamvis.storage.read.group_columns import ColumnsRead, GroupColumns
from streamvis.storage.read.live_aggregates import LiveAggregates
from streamvis.storage.read.run_groups import (
    GroupSpec,
    group_order,
    group_runs,
    parse_group,
    run_config,
)
from streamvis.storage.read.smooth import EmaState, check_weight, ema, ema_runs
from streamvis.storage.read.step_join import x_by_name
from streamvis.storage.read.summaries import Summary, check_stats, runs_table, summarize

__all__ = ["AggregateBook", "AggregateBooks", "ArraysReader", "ColumnReader", "GroupAggregates", "PointReader",
           "SummaryBook", "aggregate_groups", "aggregate_tables", "summaries_table"]


MAX_NAMES = 1_000  # names in one summaries call (each a column per stat)
EMA_STEPPED = 256  # new points per run at most for smoothing all runs in one pass


class PointReader(Protocol):
    """What the analysis reads: a ``DataSource`` has both (so does a ``LocalSource``)."""

    def fetch(self, scope: str | None = None, name: str | None = None, *,
              scope_pattern: str | None = None, name_pattern: str | None = None,
              since: str | None = None) -> ReadResult: ...

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]: ...


_T = TypeVar("_T")
_XY = (STEP_COLUMN, VALUE_COLUMN)


@runtime_checkable
class ColumnReader(Protocol):
    """A source that reads many groups' columns at once (a local log: ``LocalSource``)."""

    def read_columns(self, columns: Sequence[str], each: Callable[[GroupColumns], _T], *,
                     scope_pattern: str | None = None, name_pattern: str | None = None,
                     since: str | None = None) -> ColumnsRead[_T]: ...


@runtime_checkable
class ArraysReader(Protocol):
    """A source that reads what came after a cursor as each group's arrays, without a
    table per run (a local log: ``LocalSource``); a live page polls through it."""

    def fetch_arrays(self, since: str, name: str | None = None, *, scope_pattern: str | None = None,
                     name_pattern: str | None = None) -> ArraysRead: ...


@dataclass
class GroupAggregates:
    """``aggregates``: group values (in ``keys`` order) -> its line; ``notes`` for a page."""

    keys: tuple[str, ...]
    aggregates: dict[tuple[Any, ...], Aggregate] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _name_pattern(names: Iterable[str]) -> str:
    return "^(?:" + "|".join(re.escape(n) for n in names) + ")$"


def _xy(table: pa.Table, scope: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    cols = table.column_names
    if STEP_COLUMN not in cols or VALUE_COLUMN not in cols:
        raise InvalidArgumentError(
            f"{name!r} of run {scope!r} has columns {', '.join(c for c in cols if c != 'index')}: "
            f"a summary or aggregate needs {STEP_COLUMN!r} and {VALUE_COLUMN!r}")
    x = table.column(STEP_COLUMN).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    y = table.column(VALUE_COLUMN).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return x, y


class SummaryBook:
    """Summaries of ``names`` for every run, kept current by ``refresh``."""

    def __init__(self, source: PointReader, names: Sequence[str], *,
                 scope_pattern: str | None = None) -> None:
        if not names:
            raise InvalidArgumentError("names is empty: name at least one logged name")
        if len(names) > MAX_NAMES:
            raise InvalidArgumentError(
                f"{len(names):,} names asked for: at most {MAX_NAMES:,} in one summaries call")
        self.source = source
        self.names = tuple(dict.fromkeys(names))
        self.scope_pattern = scope_pattern
        self.summaries: dict[tuple[str, str], Summary] = {}
        self.touched: set[str] = set()  # the runs the last refresh changed (or dropped)
        self._cursor: str | None = None

    def refresh(self) -> int:
        """Fold in what was logged since the last refresh; the number of new points. The
        collector is held off meanwhile (``gc_pause``: a poll's many short-lived objects
        made it run two or three full collections a poll)."""
        with collector_paused():
            return self._refresh()

    def _refresh(self) -> int:
        pattern = _name_pattern(self.names)
        if isinstance(self.source, ColumnReader):
            done = self.source.read_columns(_XY, _summarize, scope_pattern=self.scope_pattern,
                                            name_pattern=pattern, since=self._cursor)
            parts, deleted, cursor = done.results, done.deleted, done.cursor
        else:  # a data server's client: from its tables, all groups at once the same way
            res = self.source.fetch(scope_pattern=self.scope_pattern, name_pattern=pattern,
                                    since=self._cursor)
            parts = [_summarize(GroupColumns.from_tables(res.tables, _XY))]
            deleted, cursor = res.deleted, res.cursor
        self.touched = {scope for scope, _ in deleted}
        for scope, name in deleted:
            for key in [k for k in self.summaries if k[0] == scope and name in (None, k[1])]:
                del self.summaries[key]
        points = 0
        for part in parts:
            for key, new in part.items():
                points += new.count
                old = self.summaries.get(key)
                if old is None:
                    self.summaries[key] = new
                else:
                    old.merge(new)  # the same object: holders of it see the new points
                self.touched.add(key[0])
        self._cursor = cursor
        return points

    def stat(self, scope: str, name: str, stat: str) -> float:
        """``name.stat`` of run ``scope`` (NaN where the run did not log the name)."""
        s = self.summaries.get((scope, name))
        return s.stat(stat) if s is not None else math.nan


def _summarize(cols: GroupColumns) -> dict[tuple[str, str], Summary]:
    return summarize(cols.keys, cols.offsets, cols.columns[STEP_COLUMN], cols.columns[VALUE_COLUMN])


def summaries_table(source: PointReader, names: Sequence[str], *,
                    stats: Sequence[str] = ("min", "max", "last"),
                    scope_pattern: str | None = None) -> pa.Table:
    """One row per run: ``scope``, its config flattened (``a.b``), ``NAME.STAT`` columns."""
    check_stats(list(stats))
    book = SummaryBook(source, names, scope_pattern=scope_pattern)
    book.refresh()
    configs = source.configs(scope_pattern)
    runs = sorted({scope for scope, _ in book.summaries})
    return runs_table(runs, lambda s: run_config(s, configs), book.summaries, book.names, stats)


def aggregate_groups(source: PointReader, name: str, group_by: str | Sequence[str] | GroupSpec, *,
                     agg: str = "mean", band: str = "minmax", scope_pattern: str | None = None,
                     x_name: str | None = None, smoothing: float = 0.0,
                     scopes: Iterable[str] | None = None) -> GroupAggregates:
    """The aggregate of ``name`` per group of runs, over every point of every run; with
    ``x_name``, against the value that name had at the same step (``step_join``).
    ``smoothing``: each run's values smoothed first (the page's EMA, ``smooth.ema``, in
    log order); ``scopes``: only these runs (a page's shown runs). Once: nothing is kept
    (``AggregateBook`` keeps a query current)."""
    return AggregateBook(source, name, group_by, agg=agg, band=band, scope_pattern=scope_pattern,
                         x_name=x_name, smoothing=smoothing, scopes=scopes, keep=False).refresh()


class AggregateBook:
    """One ``aggregate_groups`` query kept current by ``refresh``: the first reads every
    point; each later one reads only what was appended since the last and folds it in
    (``LiveAggregates``), so a poll's cost follows the new points. It reads every point
    again where folding in would not be exact (``live_aggregates``'s list), after a
    deletion, a config written or a run added since, a compaction, and always with
    ``x_name`` (a join on step: a point of x_name moves the points around it)."""

    def __init__(self, source: PointReader, name: str, group_by: str | Sequence[str] | GroupSpec, *,
                 agg: str = "mean", band: str = "minmax", scope_pattern: str | None = None,
                 x_name: str | None = None, smoothing: float = 0.0,
                 scopes: Iterable[str] | None = None, keep: bool = True) -> None:
        check_agg_band(agg, band)
        self.weight = check_weight(smoothing)
        self.spec = group_by if isinstance(group_by, GroupSpec) else parse_group(
            group_by if isinstance(group_by, str) else list(group_by))
        self.source, self.name, self.agg, self.band = source, name, agg, band
        self.scope_pattern, self.x_name = scope_pattern, x_name
        self.only = None if scopes is None else frozenset(scopes)
        self.keep = keep and x_name is None
        self.full_reads = 0  # refreshes that read every point
        self.points_read = 0  # points read by every refresh together
        self._lock = threading.Lock()
        self._live: LiveAggregates | None = None
        self._cursor = ""
        self._configs: dict[str, dict[str, Any]] = {}
        self._ema: dict[str, EmaState] = {}  # each run's smoothing state (and the runs known)
        self._keys: tuple[str, ...] = ()
        self._notes: list[str] = []

    def refresh(self) -> GroupAggregates:
        """Every group's line and band now (thread-safe: one refresh at a time)."""
        with self._lock:
            if self._live is not None and self._live.live:
                got = self._fold()
                if got is not None:
                    return got
            return self._full()

    def _fold(self) -> GroupAggregates | None:
        """The new points folded in; None: read every point instead."""
        assert self._live is not None
        try:
            new = self._new_points()
        except CursorResetError:  # compacted
            return None
        if new is None:
            return None
        scopes, lens, x, y, cursor = new
        if self.weight and scopes:
            if int(lens.max()) <= EMA_STEPPED:  # a few points per run: all runs stepped together
                y, states = ema_runs(y, lens, self.weight, [self._ema[s] for s in scopes])
            else:
                parts = np.split(y, np.cumsum(lens)[:-1])
                done = [ema(p, self.weight, self._ema[s]) for p, s in zip(parts, scopes, strict=True)]
                y, states = np.concatenate([d[0] for d in done]), [d[1] for d in done]
            self._ema.update(zip(scopes, states, strict=True))
        if not self._live.append_columns(scopes, lens, x, y):
            return None
        self._cursor = cursor
        return GroupAggregates(self._keys, dict(self._live.aggregates), list(self._notes))

    def _new_points(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, str] | None:
        """The shown runs' points since the cursor, end to end: (runs, points per run, x,
        y, the new cursor); None where they cannot be folded in (see the class)."""
        if isinstance(self.source, ArraysReader):
            res: ReadResult | ArraysRead = self.source.fetch_arrays(
                self._cursor, self.name, scope_pattern=self.scope_pattern)
        else:
            res = self.source.fetch(name=self.name, scope_pattern=self.scope_pattern, since=self._cursor)
        self.points_read += res.num_points
        if res.deleted or self.source.configs(self.scope_pattern) != self._configs:
            return None
        if isinstance(res, ArraysRead):
            kept, lens, x, y, indexed = _arrays_end_to_end(res, self.name, self.only)
        else:
            tables = [(scope, t) for (scope, _), t in res.tables.items()
                      if t.num_rows and (self.only is None or scope in self.only)]
            kept = [scope for scope, _ in tables]
            indexed = bool(self.weight) and any(_indexed(t) for _, t in tables)
            lens = np.fromiter((t.num_rows for _, t in tables), np.int64, len(tables))
            x, y = _end_to_end(tables, self.name)
        if any(scope not in self._ema for scope in kept):
            return None  # a run that had no points: the groups may change
        if self.weight and indexed:
            return None  # (several glyphs, smoothed: a full read's order is not the log's)
        return kept, lens, x, y, res.cursor

    def _full(self) -> GroupAggregates:
        res = self.source.fetch(name=self.name, scope_pattern=self.scope_pattern)
        configs = self.source.configs(self.scope_pattern)
        self.full_reads += 1
        self.points_read += res.num_points
        series = {scope: _xy(t, scope, self.name) for (scope, _), t in res.tables.items()
                  if t.num_rows and (self.only is None or scope in self.only)}
        self._ema = {}
        for scope, (x, y) in series.items():
            if self.weight:
                y, self._ema[scope] = ema(y, self.weight)
                series[scope] = (x, y)
            else:
                self._ema[scope] = EmaState()
        notes: list[str] = []
        if self.x_name is not None:
            series = _joined(series, _series(self.source, self.x_name, self.scope_pattern), self.x_name, notes)
        grouping = group_runs({s: run_config(s, configs) for s in series}, self.spec)
        ordered = sorted(grouping.groups.items(), key=lambda kv: group_order(kv[0]))
        live = LiveAggregates({gk: [(s, *series[s]) for s in scopes] for gk, scopes in ordered},
                              agg=self.agg, band=self.band, keep=self.keep)
        self._keys, self._notes = grouping.keys, grouping.notes + notes
        self._live, self._cursor, self._configs = (live, res.cursor, configs) if self.keep else (None, "", {})
        return GroupAggregates(self._keys, dict(live.aggregates), list(self._notes))


BOOKS = 8  # queries a source keeps current at most
BOOK_IDLE_S = 600.0  # a query not asked for this long is dropped


class AggregateBooks:
    """The aggregate queries a source keeps current (``LocalSource.aggregate``): a query
    asked a second time gets an ``AggregateBook`` (a script's single call keeps nothing),
    one asked with ``follow`` (a page: it asks again at every poll) gets one at once; at
    most ``BOOKS`` of them (the least recently asked goes), each dropped when not asked
    for ``BOOK_IDLE_S``. Pages asking the same share one."""

    def __init__(self, source: PointReader) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._books: dict[tuple[Any, ...], tuple[AggregateBook, float]] = {}
        self._seen: dict[tuple[Any, ...], float] = {}

    def aggregate(self, name: str, group_by: str | Sequence[str], *, agg: str = "mean",
                  band: str = "minmax", scope_pattern: str | None = None, x_name: str | None = None,
                  smoothing: float = 0.0, scopes: Sequence[str] | None = None,
                  follow: bool = False) -> GroupAggregates:
        """``aggregate_groups``'s answer, from a kept book where the query has one;
        ``follow`` (a page, which polls): keep one from this first call."""
        kw: dict[str, Any] = dict(agg=agg, band=band, scope_pattern=scope_pattern, x_name=x_name,
                                  smoothing=smoothing, scopes=scopes)
        if x_name is not None:  # (joined on step: read whole each time)
            return aggregate_groups(self.source, name, group_by, **kw)
        key = (name, group_by if isinstance(group_by, str) else tuple(group_by), agg, band, scope_pattern,
               smoothing, None if scopes is None else tuple(scopes))
        now = time.monotonic()
        with self._lock:
            for k in [k for k, (_, used) in self._books.items() if now - used > BOOK_IDLE_S]:
                del self._books[k]
            got = self._books.pop(key, None)
            book = got[0] if got is not None else None
            if book is None and (self._seen.pop(key, None) is not None or follow):
                book = AggregateBook(self.source, name, group_by, **kw)
            if book is None:
                self._seen[key] = now
                while len(self._seen) > 4 * BOOKS:
                    del self._seen[next(iter(self._seen))]
            else:
                self._books[key] = (book, now)  # (last: the most recently asked)
                while len(self._books) > BOOKS:
                    del self._books[next(iter(self._books))]
        if book is None:
            return aggregate_groups(self.source, name, group_by, **kw)
        try:
            return book.refresh()
        except Exception:
            self.drop(key)
            raise

    def drop(self, key: tuple[Any, ...] | None = None) -> None:
        """Forget one query's book (every book when None; the queries asked before stay
        known, so a page opened again keeps its query from its first call)."""
        with self._lock:
            if key is None:
                self._seen.update(dict.fromkeys(self._books, time.monotonic()))
                self._books.clear()
                while len(self._seen) > 4 * BOOKS:
                    del self._seen[next(iter(self._seen))]
            else:
                self._books.pop(key, None)

    def books(self) -> list[AggregateBook]:
        """The books kept now (least recently asked first)."""
        with self._lock:
            return [b for b, _ in self._books.values()]


def _end_to_end(tables: Sequence[tuple[str, pa.Table]], name: str) -> tuple[np.ndarray, np.ndarray]:
    """The steps and values of every table, end to end (one conversion for all: a column
    of each of 1,000 tables costs more than the points in them)."""
    if not tables:
        e = np.empty(0)
        return e, e
    try:
        both = pa.concat_tables([t.select([STEP_COLUMN, VALUE_COLUMN]) for _, t in tables])
        return (both.column(STEP_COLUMN).to_numpy().astype(np.float64, copy=False),
                both.column(VALUE_COLUMN).to_numpy().astype(np.float64, copy=False))
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError):  # a column missing; dtypes differ
        xy = [_xy(t, scope, name) for scope, t in tables]
        return np.concatenate([x for x, _ in xy]), np.concatenate([y for _, y in xy])


def _arrays_end_to_end(res: ArraysRead, name: str, only: frozenset[str] | None
                       ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, bool]:
    """``_end_to_end`` of a read into arrays (``only`` these runs, if given): the runs,
    their points each, x, y, and whether a glyph index other than 0 is among them."""
    xs: dict[str, list[np.ndarray]] = {}
    ys: dict[str, list[np.ndarray]] = {}
    indexed = False
    for (scope, _, index), cols in res.groups.items():
        if only is not None and scope not in only:
            continue
        if STEP_COLUMN not in cols or VALUE_COLUMN not in cols:
            raise InvalidArgumentError(
                f"{name!r} of run {scope!r} has columns {', '.join(cols)}: "
                f"a summary or aggregate needs {STEP_COLUMN!r} and {VALUE_COLUMN!r}")
        xs.setdefault(scope, []).append(cols[STEP_COLUMN])
        ys.setdefault(scope, []).append(cols[VALUE_COLUMN])
        indexed |= index != 0
    lens = np.fromiter((sum(len(a) for a in parts) for parts in xs.values()), np.int64, len(xs))
    x, y = ([a for parts in d.values() for a in parts] for d in (xs, ys))
    if not x:
        e = np.empty(0)
        return [], lens, e, e, indexed
    return (list(xs), lens, np.concatenate(x).astype(np.float64, copy=False),
            np.concatenate(y).astype(np.float64, copy=False), indexed)


def _indexed(table: pa.Table) -> bool:
    """Whether a (scope, name) table holds points of a glyph index other than 0."""
    if "index" not in table.column_names:
        return False
    return bool(np.any(table.column("index").to_numpy(zero_copy_only=False)))


def _joined(series: dict[str, tuple[np.ndarray, np.ndarray]], xs: dict[str, tuple[np.ndarray, np.ndarray]],
            x_name: str, notes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each run's points against ``x_name``'s value at their step (runs lacking it left out)."""
    lacking = sorted(set(series) - set(xs))
    if lacking:
        notes.append(f"{len(lacking)} run(s) without {x_name!r} left out")
    joined = {}
    for scope in set(series) & set(xs):
        x = x_by_name(series[scope][0], *xs[scope])
        keep = ~np.isnan(x)
        joined[scope] = (x[keep], series[scope][1][keep])
    return joined


def _series(source: PointReader, name: str, scope_pattern: str | None
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    res = source.fetch(scope_pattern=scope_pattern, name=name)
    return {scope: _xy(t, scope, name) for (scope, _), t in res.tables.items() if t.num_rows}


def aggregate_tables(aggs: Mapping[tuple[Any, ...], Aggregate]) -> dict[tuple[Any, ...], pa.Table]:
    """The aggregates as Arrow tables: ``x``, ``y``, ``lo``, ``hi``, ``n``."""
    return {gk: pa.table({"x": a.x, "y": a.y, "lo": a.lo, "hi": a.hi, "n": a.n})
            for gk, a in aggs.items()}
