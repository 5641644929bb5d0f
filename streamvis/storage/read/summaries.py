"""Summaries of one run's name: min, max, first, last, mean, count, argmin, argmax.

Computed from the log over every point (nothing extra is stored) and kept current
as points arrive: ``Summary.update`` folds in a batch of new points, so a page that
follows a log pays for the new points only, never for the whole log again.

Definitions (over every index of the name):
- ``count``: points logged. ``first``/``last``: the value at the smallest / largest x
  (among equal x, the first / last logged), NaN included: a run that diverged has a
  NaN ``last``.
- ``min``, ``max``, ``mean``: over the values that are not NaN (NaN when none is).
- ``argmin``, ``argmax``: the x (the step) of the min / max (the first such point).
A point whose x is NaN counts everywhere but in ``first``/``last`` (it has no place).

``summarize`` computes the summaries of many groups at once from their concatenated
points (``group_columns``): a few passes of ``np.*.reduceat`` over all points, so a
first read of 50,000 (run, name)s costs per point, not per group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.run_groups import flatten_config

__all__ = ["STATS", "Summary", "check_stats", "runs_table", "summarize"]

K = TypeVar("K", bound=Hashable)

STATS = ("min", "max", "first", "last", "mean", "count", "argmin", "argmax")


def check_stats(stats: tuple[str, ...] | list[str]) -> None:
    """InvalidArgumentError naming a stat that is not one of ``STATS``."""
    for s in stats:
        if s not in STATS:
            raise InvalidArgumentError(f"unknown stat {s!r}: expected one of {', '.join(STATS)}")


@dataclass
class Summary:
    """The running summary of one (run, name)."""

    count: int = 0
    valid: int = 0  # values that are not NaN
    total: float = 0.0
    min: float = math.nan
    max: float = math.nan
    argmin: float = math.nan
    argmax: float = math.nan
    first_x: float = math.inf
    first: float = math.nan
    last_x: float = -math.inf
    last: float = math.nan

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fold in points (in the order they were logged)."""
        x, y = np.asarray(x), np.asarray(y)
        if x.size:
            self.merge(summarize([None], np.array([0, x.size]), x, y)[None])

    def merge(self, other: Summary) -> None:
        """Fold in the summary of points logged after this one's."""
        if other.count == 0:
            return
        self.count += other.count
        if other.first_x < self.first_x:
            self.first_x, self.first = other.first_x, other.first
        if other.last_x >= self.last_x:
            self.last_x, self.last = other.last_x, other.last
        if other.valid:
            self.valid += other.valid
            self.total += other.total
            if not (other.min >= self.min):
                self.min, self.argmin = other.min, other.argmin
            if not (other.max <= self.max):
                self.max, self.argmax = other.max, other.argmax

    def stat(self, name: str) -> float:
        """One stat by name (``count`` as a float like the rest)."""
        if name == "count":
            return float(self.count)
        if name == "mean":
            return self.total / self.valid if self.valid else math.nan
        if name in ("first", "last") and self.count == 0:
            return math.nan
        if name not in STATS:
            check_stats([name])
        return float(getattr(self, name))


def summarize(keys: Sequence[K], offsets: np.ndarray, x: np.ndarray, y: np.ndarray
              ) -> dict[K, Summary]:
    """The summary of each group: ``keys[k]``'s points are ``x[offsets[k]:offsets[k + 1]]``,
    ``y[...]`` (in log order); groups without points are left out."""
    counts = np.diff(np.asarray(offsets, np.int64))
    starts = np.asarray(offsets[:-1], np.int64)
    if not counts.all():
        keep = counts > 0
        keys = [k for k, c in zip(keys, keep.tolist(), strict=True) if c]
        counts, starts = counts[keep], starts[keep]
    if not len(keys):
        return {}
    ends = starts + counts
    first_at, last_at = _first_last(x, starts, ends, counts)
    y = y if y.dtype == np.float64 else y.astype(np.float64)
    lo = np.minimum.reduceat(y, starts)  # NaN where a group has a NaN
    if np.isnan(lo).any():  # rare (a diverged run): skip its NaNs
        ynan = np.isnan(y)
        valid = counts - np.add.reduceat(ynan, starts, dtype=np.int64)
        total = np.add.reduceat(np.where(ynan, 0.0, y), starts)
        lo = np.fmin.reduceat(y, starts)
    else:
        valid = counts
        total = np.add.reduceat(y, starts)
    hi = np.fmax.reduceat(y, starts)
    width = int(counts[0])
    if valid is counts and (counts == width).all() and starts[-1] - starts[0] == width * (starts.size - 1):
        # groups of one length, one after another (and no NaN): a 2-D argmin / argmax
        block = y[starts[0] : starts[0] + width * starts.size].reshape(starts.size, width)
        lo_at, hi_at = starts + block.argmin(axis=1), starts + block.argmax(axis=1)
    else:
        lo_at, hi_at = _first_at(y, lo, starts, counts), _first_at(y, hi, starts, counts)
    some = valid > 0
    nan = np.nan
    rows = zip(counts.tolist(), valid.tolist(), np.where(some, total, 0.0).tolist(),
               np.where(some, lo, nan).tolist(), np.where(some, hi, nan).tolist(),
               _pick(x, np.where(some, lo_at, -1), nan), _pick(x, np.where(some, hi_at, -1), nan),
               _pick(x, first_at, np.inf), _pick(y, first_at, nan),
               _pick(x, last_at, -np.inf), _pick(y, last_at, nan), strict=True)
    return {k: Summary(*row) for k, row in zip(keys, rows, strict=True)}


def _pick(a: np.ndarray, at: np.ndarray, missing: float) -> list[float]:
    """``a[at]`` as floats, ``missing`` where ``at`` is -1."""
    values = a[np.maximum(at, 0)].astype(np.float64)
    values[at < 0] = missing
    return values.tolist()


def _first_at(y: np.ndarray, ext: np.ndarray, starts: np.ndarray, counts: np.ndarray
              ) -> np.ndarray:
    """Per group, the row of the first point equal to ``ext`` (meaningless where ``ext`` is
    NaN: a group without a value that is not NaN)."""
    hits = np.flatnonzero(y == np.repeat(ext, counts))
    if hits.size == 0:
        return np.zeros(starts.size, np.int64)
    return hits[np.minimum(np.searchsorted(hits, starts), hits.size - 1)]


def _first_last(x: np.ndarray, starts: np.ndarray, ends: np.ndarray, counts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per group, the row of the first point at its smallest x and of the last at its
    largest (-1 where every x is NaN). Steps usually ascend: then the first and last rows."""
    if x.size > 1:
        up = x[1:] >= x[:-1]  # False next to a NaN
        up[ends[:-1] - 1] = True  # across groups
    edges_nan = x.dtype.kind == "f" and bool(np.isnan(x[starts]).any() or np.isnan(x[ends - 1]).any())
    if not edges_nan and (x.size <= 1 or up.all()):
        return starts, ends - 1
    lo = np.fmin.reduceat(x, starts)
    hits = np.flatnonzero(x == np.repeat(lo, counts))
    at = np.searchsorted(hits, starts)
    first = hits[np.minimum(at, max(hits.size - 1, 0))] if hits.size else starts
    first = np.where((at < hits.size) & (first < ends), first, -1)
    hi = np.fmax.reduceat(x, starts)
    hits = np.flatnonzero(x == np.repeat(hi, counts))
    at = np.searchsorted(hits, ends) - 1
    last = hits[np.maximum(at, 0)] if hits.size else starts
    last = np.where((at >= 0) & (last >= starts), last, -1)
    return first, last


def runs_table(runs: Sequence[str], config_of: Callable[[str], Mapping[str, Any] | None],
               summaries: Mapping[tuple[str, str], Summary], names: Sequence[str],
               stats: Sequence[str]) -> pa.Table:
    """One row per run: ``scope``, its config flattened (``a.b``; a key whose values mix
    kinds as text), then ``NAME.STAT`` per name and stat (NaN where a run lacks NAME)."""
    flat = {s: flatten_config(config_of(s) or {}) for s in runs}
    keys = sorted({k for c in flat.values() for k in c})
    columns: dict[str, Any] = {"scope": pa.array(list(runs), pa.string())}
    for k in keys:
        values = [flat[s].get(k) for s in runs]
        try:
            columns[k] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[k] = pa.array([None if v is None else str(v) for v in values], pa.string())
    empty = Summary()
    for name in names:
        for stat in stats:
            col = f"{name}.{stat}"
            if col in columns:
                raise InvalidArgumentError(
                    f"column {col!r} is both a config key and a summary: rename the config key")
            values = [summaries.get((s, name), empty).stat(stat) for s in runs]
            columns[col] = (pa.array([int(v or 0) for v in values], pa.int64()) if stat == "count"
                            else pa.array(values, pa.float64()))
    return pa.table(columns)
