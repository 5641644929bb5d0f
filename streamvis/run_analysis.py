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
  and returns one aggregate line with its band per group.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import pyarrow as pa

from streamvis.columns import STEP_COLUMN, VALUE_COLUMN
from streamvis.errors import InvalidArgumentError
from streamvis.storage.format.model import ReadResult
from streamvis.storage.read.aggregates import Aggregate, aggregate_runs, check_agg_band
from streamvis.storage.read.group_columns import ColumnsRead, GroupColumns
from streamvis.storage.read.run_groups import (
    GroupSpec,
    group_order,
    group_runs,
    parse_group,
    run_config,
)
from streamvis.storage.read.smooth import check_weight, ema
from streamvis.storage.read.step_join import x_by_name
from streamvis.storage.read.summaries import Summary, check_stats, runs_table, summarize

__all__ = ["ColumnReader", "GroupAggregates", "PointReader", "SummaryBook", "aggregate_groups",
           "aggregate_tables", "summaries_table"]


MAX_NAMES = 1_000  # names in one summaries call (each a column per stat)


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
        """Fold in what was logged since the last refresh; the number of new points."""
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
    log order); ``scopes``: only these runs (a page's shown runs)."""
    check_agg_band(agg, band)
    weight = check_weight(smoothing)
    spec = group_by if isinstance(group_by, GroupSpec) else parse_group(
        group_by if isinstance(group_by, str) else list(group_by))
    series = _series(source, name, scope_pattern)
    if scopes is not None:
        only = set(scopes)
        series = {s: xy for s, xy in series.items() if s in only}
    if weight:
        series = {s: (x, ema(y, weight)[0]) for s, (x, y) in series.items()}
    notes: list[str] = []
    if x_name is not None:
        xs = _series(source, x_name, scope_pattern)
        lacking = sorted(set(series) - set(xs))
        if lacking:
            notes.append(f"{len(lacking)} run(s) without {x_name!r} left out")
        joined = {}
        for scope in set(series) & set(xs):
            x = x_by_name(series[scope][0], *xs[scope])
            keep = ~np.isnan(x)
            joined[scope] = (x[keep], series[scope][1][keep])
        series = joined
    configs = source.configs(scope_pattern)
    grouping = group_runs({s: run_config(s, configs) for s in series}, spec)
    out = {gk: aggregate_runs([series[s] for s in scopes], agg=agg, band=band)
           for gk, scopes in sorted(grouping.groups.items(), key=lambda kv: group_order(kv[0]))}
    return GroupAggregates(grouping.keys, out, grouping.notes + notes)


def _series(source: PointReader, name: str, scope_pattern: str | None
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    res = source.fetch(scope_pattern=scope_pattern, name=name)
    return {scope: _xy(t, scope, name) for (scope, _), t in res.tables.items() if t.num_rows}


def aggregate_tables(aggs: Mapping[tuple[Any, ...], Aggregate]) -> dict[tuple[Any, ...], pa.Table]:
    """The aggregates as Arrow tables: ``x``, ``y``, ``lo``, ``hi``, ``n``."""
    return {gk: pa.table({"x": a.x, "y": a.y, "lo": a.lo, "hi": a.hi, "n": a.n})
            for gk, a in aggs.items()}
