"""Batched range reads: many groups' visible ranges in one call, consistent with a cursor.

A page of 1,000 runs re-reads every run's visible range on each zoom; one call per
group would be 1,000 round trips. ``read_ranges`` answers a list of requests under
one acquisition of the store's lock, from the shared decoded-group cache, and
returns the cursor of the state it read, so a live reader can follow on with
``read(since=cursor)`` without missing or repeating a point.

Two options make a range read usable for live pages:

- ``upto``: only the group's first ``upto`` points in log order. A page that has
  seen ``n`` points of a group re-reads exactly those, so a zoom never shows points
  that its next poll will deliver again.
- ``smoothing``: TensorBoard's debiased EMA over every point of the group (the full
  resolution, in log order), applied to each non-x column before the x-range cut and
  the decimation; cached per group, column and weight, and extended as points arrive.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError, NotFoundError
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.records import x_column
from streamvis.storage.format.state import LogState
from streamvis.storage.read.decimate import (
    decimate_columns,
    decimate_table,
    is_sorted,
    range_bounds,
    slice_range,
    slice_sorted,
)
from streamvis.storage.read.group_cache import GroupCache
from streamvis.storage.read.smooth import EmaState, check_weight, ema

__all__ = ["AnswerCache", "RangeRequest", "RangesResult", "SmoothCache", "range_table", "read_ranges"]


@dataclass(frozen=True)
class RangeRequest:
    """One group's points with x in [x_min, x_max], at most ``max_points`` of them."""

    scope: str
    name: str
    index: int
    x_min: float | None = None
    x_max: float | None = None
    max_points: int | None = None
    upto: int | None = None  # only the first ``upto`` points (log order)
    smoothing: float = 0.0  # EMA weight in [0, 1); 0: raw values
    x_column: str | None = None  # the column to cut and decimate along (default: x's rule)

    def checked(self) -> RangeRequest:
        """Itself, or InvalidArgumentError naming the bad field."""
        range_bounds(self.x_min, self.x_max, self.max_points)
        if self.upto is not None and (
            isinstance(self.upto, bool) or not isinstance(self.upto, int) or self.upto < 0
        ):
            raise InvalidArgumentError(f"upto must be an int >= 0 or None, got {self.upto!r}")
        check_weight(self.smoothing)
        return self


@dataclass
class RangesResult:
    """Per request (same order): the table, or None for a group that does not exist;
    the group's point count when read; and the cursor of the state read."""

    tables: list[pa.Table | None]
    counts: list[int]
    cursor: str


@dataclass
class _Smoothed:
    values: np.ndarray
    length: int
    state: EmaState
    raw_last: float


class SmoothCache:
    """Smoothed columns per (group key, column, weight), LRU-bounded in bytes."""

    def __init__(self, max_bytes: int = 128 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, _Smoothed] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: tuple, raw: np.ndarray, weight: float) -> np.ndarray:
        """The smoothed ``raw`` (a group column in log order), reusing what was computed."""
        n = raw.size
        hit = self._items.pop(key, None)
        if hit is not None:
            self._bytes -= hit.values.nbytes
            if hit.length >= n:
                self._keep(key, hit)
                return hit.values[:n]
            if hit.length and not _same(raw[hit.length - 1], hit.raw_last):
                hit = None  # the group was rewritten: start over
        # float32 data is smoothed in float64 and kept as float32 (half the memory)
        keep = np.float32 if raw.dtype == np.float32 else np.float64
        if hit is None:
            values, state = ema(raw, weight)
            hit = _Smoothed(values.astype(keep), n, state, float(raw[-1]) if n else np.nan)
        else:
            more, state = ema(raw[hit.length :], weight, hit.state)
            grown = np.concatenate([hit.values, more.astype(keep)])
            hit = _Smoothed(grown, n, state, float(raw[-1]))
        self._keep(key, hit)
        return hit.values

    def _keep(self, key: tuple, hit: _Smoothed) -> None:
        self._items[key] = hit
        self._bytes += hit.values.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.values.nbytes

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


class AnswerCache:
    """Answers of range reads per (request, state of its group), LRU-bounded in bytes.

    A page opened again, and every viewer of one page, ask the same reads of groups that
    did not change since (a finished run): the answer is the table decimated before,
    not a slice and a decimation of the group's points again (~0.2 ms a group of 10,000
    points, 0.2 s a card of 1,000 runs). A group's state is its point count and where
    its last record is: a group that grows, or was deleted and logged again, has
    another key (entries of an old state are evicted as the least used). Tables are
    immutable, so one kept answer is handed to every asker."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: tuple) -> pa.Table | None:
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
        return hit

    def put(self, key: tuple, table: pa.Table) -> None:
        """Keep a copy of ``table``: an answer that was not decimated is a view of the
        decoded group (~10 us a copy; a view would keep the whole group's arrays)."""
        if key in self._items or table.nbytes > self.max_bytes // 4:
            return  # (an answer of a quarter of the bound is kept by no one)
        table = table.take(np.arange(table.num_rows))
        self._items[key] = table
        self._bytes += table.nbytes
        while self._bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= dropped.nbytes

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0


def _same(a: float, b: float) -> bool:
    return bool(a == b or (a != a and b != b))


def range_table(
    columns: dict[str, np.ndarray],
    xcol: str,
    x_sorted: bool,
    req: RangeRequest,
    smooth_cache: SmoothCache,
    cache_key: tuple,
) -> pa.Table:
    """Answer ``req`` from a group's decoded columns (log order)."""
    lo, hi = range_bounds(req.x_min, req.x_max, req.max_points)
    if req.upto is not None:
        columns = {c: a[: req.upto] for c, a in columns.items()}
    if req.x_column is not None and req.x_column in columns and req.x_column != xcol:
        xcol = req.x_column  # e.g. wall_time, in log order as logged: checked here
        x = columns[xcol]
        x_sorted = is_sorted(x)
    if req.smoothing:  # over every point in log order, before any cut
        columns = {
            c: a
            if c == xcol or a.dtype.kind not in "fiu"
            else smooth_cache.get((*cache_key, c, req.smoothing), a, req.smoothing)
            for c, a in columns.items()
        }
    if not x_sorted and xcol != x_column(columns):  # the fallback below sorts by x's rule
        keep = ~np.isnan(columns[xcol]) if columns[xcol].dtype.kind == "f" else slice(None)
        columns = {c: a[keep] for c, a in columns.items()}
        order = np.argsort(columns[xcol], kind="stable")
        columns, x_sorted = {c: a[order] for c, a in columns.items()}, True
    if not x_sorted:
        return decimate_table(slice_range(columns, xcol, lo, hi, x_sorted), req.max_points)
    return pa.table(decimate_columns(slice_sorted(columns, xcol, lo, hi), xcol, req.max_points))


def check_requests(requests: Sequence[RangeRequest]) -> list[RangeRequest]:
    """The requests, each checked (InvalidArgumentError names the first bad one)."""
    out = []
    for i, r in enumerate(requests):
        if not isinstance(r, RangeRequest):
            raise InvalidArgumentError(f"request {i}: a RangeRequest is required, got {r!r}")
        out.append(r.checked())
    return out


def read_ranges(
    backend: LogBackend,
    state: LogState,
    group_cache: GroupCache,
    smooth_cache: SmoothCache,
    generation: int,
    requests: Sequence[RangeRequest],
    answers: AnswerCache | None = None,
) -> tuple[list[pa.Table | None], list[int]]:
    """Tables and counts for checked ``requests`` (the caller holds the store's lock);
    ``answers``: the answers kept from earlier reads (``AnswerCache``)."""
    found: list[tuple[int, tuple, dict[str, str], Any]] = []
    counts = [0] * len(requests)
    tables: list[pa.Table | None] = [None] * len(requests)
    asked: dict[int, tuple] = {}  # request -> its answer's key
    for k, r in enumerate(requests):
        try:
            ns = state.name(r.scope, r.name)
        except NotFoundError:
            continue
        grp = ns.groups.get(int(r.index))
        if grp is None:
            continue
        counts[k] = grp.count
        if answers is not None and len(grp):
            last = grp.entry(len(grp) - 1)
            asked[k] = (generation, r, grp.count, last.key, last.offset)
            tables[k] = answers.get(asked[k])
            if tables[k] is not None:
                continue
        # a group deleted and logged again is another group: its first record is elsewhere
        # (its smoothed columns must not be the old group's)
        first = grp.entry(0) if len(grp) else None
        born = (first.key, first.offset) if first is not None else None
        found.append((k, (generation, r.scope, r.name, int(r.index), born), dict(ns.schema), grp))
    unique: dict[tuple, tuple[tuple, dict[str, str], list[Any]]] = {}
    for _, key, schema, grp in found:
        unique.setdefault(key, (key, schema, grp.entries))
    cols = dict(zip(unique, group_cache.columns_many(backend, list(unique.values())), strict=True))
    for k, key, schema, _ in found:
        columns, x_sorted = cols[key]
        table = range_table(columns, x_column(schema), x_sorted, requests[k], smooth_cache, key)
        tables[k] = table
        if answers is not None and k in asked:
            answers.put(asked[k], table)
    return tables, counts
