"""Aggregates across runs kept current as the runs append points (a live ``group=`` page).

``LiveAggregates`` starts from every point of every run and then folds in each run's
new points: a fold costs the new points and the x columns they touch, not the runs'
total points. Its lines are ``aggregates.aggregate_runs``'s (the same definitions,
equal up to float rounding: sums in another order), computed from the matrix below
(a one-off computation too: faster than ``aggregate_runs``), or by ``aggregate_runs``
where the matrix would be mostly empty (runs of very different lengths: more than
``DENSE_SLACK`` cells per value) or x is bucketed; such a group is read whole.

What it keeps, per group: the union of its runs' x (ascending) and a matrix of each
run's value at each x (NaN where the run has no point there; a run's value is the
mean of its points at that x, NaN values dropped), one matrix row per x so that
appending x is appending rows. Each x's values are sorted within their row (at the
start too: cheaper than ``aggregate_runs``'s sort of every point by x and value), then
mean, median, extremes and ddof=1 std. New points only ever add values at x where
their run had none, so only the touched x are computed again.

It cannot fold in (``append`` returns False, and the caller starts again from every
point) where exactness would need more than that:

- a run's new points start at or below its largest x so far (out of order, or a
  step repeated across two reads: its mean there would change);
- a run it does not know (the set of runs decides the groups);
- a group whose runs' steps differ (its x would be bucketed on a ``Grid``, whose
  width follows every run's spacing): also when the start already was bucketed, or
  its matrix would be mostly empty (``live`` is False then).

After a False, the object is spent (part of the batch may be folded in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .aggregates import SHARED_STEPS_SLACK, Aggregate, aggregate_runs, band_bounds, check_agg_band

__all__ = ["LiveAggregates"]

_F8 = np.dtype("<f8")
DENSE_SLACK = 4  # a group's matrix at most this many cells per value (else aggregate_runs)
Run = tuple[str, np.ndarray, np.ndarray]  # (scope, x, y): every point of one run, y NaN kept


def _means(x: np.ndarray, y: np.ndarray, rid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One value per distinct (run, x): the mean of its points (in the order logged), NaN
    values dropped; returned as (rid, x, value) sorted by run, then x."""
    if (x.size and not np.isnan(y).any() and bool((x[1:] > x[:-1]).all())
            and bool((rid == rid[0]).all())):
        return rid, x, y  # one run logged in order, no NaN: already one value per x, sorted
    keep = ~np.isnan(y)
    x, y, rid = x[keep], y[keep], rid[keep]
    if x.size == 0:
        return rid, x, y
    order = np.lexsort((x, rid))  # stable: equal (run, x) stay in log order
    x, y, rid = x[order], y[order], rid[order]
    first = np.ones(x.size, dtype=bool)
    first[1:] = (x[1:] != x[:-1]) | (rid[1:] != rid[:-1])
    if first.all():
        return rid, x, y
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, x.size))
    return rid[starts], x[starts], np.add.reduceat(y, starts) / counts


def _union(xs: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted union of ascending, distinct arrays. Runs that share their steps (the
    usual sweep: some further along than others) are each a prefix of the longest,
    found with one comparison per value instead of a sort of every value."""
    if not xs:
        return np.empty(0)
    longest = max(xs, key=lambda a: a.size)
    if all(a is longest or np.array_equal(a, longest[: a.size]) for a in xs):
        return longest.copy()  # (its own: the input may be a read-only view)
    return np.unique(np.concatenate(xs))


def _columns(vals: np.ndarray, agg: str, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(line, lo, hi, n) of each row of ``vals`` (one x per row, one run per column, NaN
    where a run has no value): ``aggregate_runs``'s definitions."""
    s = np.sort(vals, axis=1)  # NaN last
    n = np.count_nonzero(~np.isnan(s), axis=1)
    rows = np.arange(s.shape[0])
    last = np.maximum(n - 1, 0)
    lo_v, hi_v = s[:, 0], s[rows, last]
    z = np.where(np.isnan(s), 0.0, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = z.sum(axis=1) / n
        if agg == "mean":
            line = mean
        elif agg == "median":
            mid = (n - 1) // 2
            line = np.where(n % 2 == 1, s[rows, mid], (s[rows, mid] + s[rows, np.minimum(mid + 1, last)]) / 2)
        else:
            line = lo_v if agg == "min" else hi_v
        ss: np.ndarray | None = None
        if band in ("std", "stderr"):
            dev = np.where(np.isnan(s), 0.0, s - mean[:, None])
            ss = (dev * dev).sum(axis=1)
    lo, hi = band_bounds(band, line, lo_v, hi_v, n, ss)
    return line, lo, hi, n.astype(np.int64)


class _Group:
    """One group's x, its runs' values there (rows: x, columns: runs) and its line."""

    def __init__(self, runs: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray, agg: str, band: str) -> None:
        """``runs``: each run's distinct x (ascending) and its value there; ``x``: their union."""
        self.counts = np.array([rx.size for rx, _ in runs], dtype=np.int64)  # distinct x per run
        self.x = x  # (never written in place: a new x is a new array)
        u = x.size
        vals = np.full((len(runs), self._capacity(u)), np.nan)
        for r, (rx, ry) in enumerate(runs):
            if rx.size == u:  # every x of the group (runs that share their steps)
                vals[r, :u] = ry
            else:
                vals[r, np.searchsorted(x, rx)] = ry
        self.vals = np.ascontiguousarray(vals.T)
        line, lo, hi, n = _columns(self.vals[:u], agg, band)
        self.line = Aggregate(x, line, lo, hi, n)

    @staticmethod
    def _capacity(u: int) -> int:
        return u + max(64, u // 8)

    def unfit(self) -> bool:
        """Whether ``aggregate_runs`` would bucket x (the runs' steps differ), or the
        matrix is mostly empty (see the module doc)."""
        u, k = self.x.size, self.counts.size
        return u > SHARED_STEPS_SLACK * int(self.counts.max()) or u * k > DENSE_SLACK * int(self.counts.sum()) + 4096

    def add(self, rows: np.ndarray, x: np.ndarray, v: np.ndarray, agg: str, band: str) -> None:
        """Values ``v`` of runs ``rows`` at ``x``, where they had none."""
        old_x, u = self.x, self.x.size
        new_x = np.unique(x)
        pos = np.searchsorted(old_x, new_x)
        fresh = new_x[(pos >= u) | (old_x[np.minimum(pos, max(u - 1, 0))] != new_x)] if u else new_x
        old_pos: Any = slice(0, u)
        if fresh.size:
            self.x = np.union1d(old_x, fresh)
            if fresh[0] > (old_x[-1] if u else -np.inf) and self.x.size <= self.vals.shape[0]:
                pass  # appended, and there is room: the rows past u are NaN already
            else:
                vals = np.full((self._capacity(self.x.size), self.vals.shape[1]), np.nan)
                if fresh[0] > (old_x[-1] if u else -np.inf):
                    vals[:u] = self.vals[:u]
                else:
                    old_pos = np.searchsorted(self.x, old_x)
                    vals[old_pos] = self.vals[:u]
                self.vals = vals
        cols = np.searchsorted(self.x, x)
        self.vals[cols, rows] = v
        self.counts += np.bincount(rows, minlength=self.counts.size)
        touched = np.unique(cols)
        got = _columns(self.vals[touched], agg, band)
        out = []
        for old, new in zip((self.line.y, self.line.lo, self.line.hi, self.line.n), got, strict=True):
            a = np.empty(self.x.size, dtype=old.dtype)
            a[old_pos] = old
            a[touched] = new
            out.append(a)
        self.line = Aggregate(self.x, out[0], out[1], out[2], out[3])


class LiveAggregates:
    """Each group's line and band (``aggregate_runs``), kept current by ``append``."""

    def __init__(self, groups: Mapping[tuple[Any, ...], Sequence[Run]], *, agg: str = "mean",
                 band: str = "minmax", keep: bool = True) -> None:
        """``groups``: each group's runs, every point of them (y after any smoothing);
        ``keep``: keep what ``append`` needs (False: the lines once, nothing kept)."""
        check_agg_band(agg, band)
        self.agg, self.band = agg, band
        self.points_folded = 0  # points ``append`` was given, in all
        self.aggregates: dict[tuple[Any, ...], Aggregate] = {}
        self._groups: list[_Group] = []
        self._keys: list[tuple[Any, ...]] = []
        self._run: dict[str, int] = {}
        last: list[float] = []
        where: list[tuple[int, int]] = []
        for gk, runs in groups.items():
            raw = [(np.asarray(x, dtype=_F8), np.asarray(y, dtype=_F8)) for _, x, y in runs]
            means = [_means(x, y, np.zeros(x.size, dtype=np.int64))[1:] for x, y in raw]
            most = max(mx.size for mx, _ in means)
            union = _union([mx for mx, _ in means])
            if (union.size > SHARED_STEPS_SLACK * most  # bucketed: aggregate_runs's grid
                    or union.size * len(raw) > DENSE_SLACK * sum(mx.size for mx, _ in means) + 4096):
                self.aggregates[gk] = aggregate_runs(raw, agg=agg, band=band)  # (and read whole)
                continue
            group = _Group(means, union, agg, band)  # (its columns sorted row by row: no lexsort)
            self.aggregates[gk] = group.line
            if not keep:
                continue
            g = len(self._groups)
            for r, ((scope, _, _), (x, _)) in enumerate(zip(runs, raw, strict=True)):
                self._run[scope] = len(last)
                last.append(float(x.max()) if x.size else -np.inf)
                where.append((g, r))
            self._groups.append(group)
            self._keys.append(gk)
        self.live = keep and len(self._groups) == len(self.aggregates)
        self._last = np.array(last, dtype=_F8)  # each run's largest x (NaN values too)
        where_a = np.array(where, dtype=np.int64).reshape(-1, 2)
        self._group_of, self._row_of = where_a[:, 0], where_a[:, 1]

    def append(self, batches: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> bool:
        """Fold in each run's new points ``{scope: (x, y)}`` (y after any smoothing, NaN
        kept); False where it cannot (see the module doc: start again from every point)."""
        batches = {s: xy for s, xy in batches.items() if np.size(xy[0])}
        if not batches:
            return self.live
        lens = np.fromiter((np.size(x) for x, _ in batches.values()), dtype=np.int64, count=len(batches))
        return self.append_columns(list(batches), lens, np.concatenate([x for x, _ in batches.values()]),
                                   np.concatenate([y for _, y in batches.values()]))

    def append_columns(self, scopes: Sequence[str], lengths: np.ndarray, x: np.ndarray, y: np.ndarray) -> bool:
        """``append`` with the runs' points end to end: run ``scopes[i]`` has the next
        ``lengths[i]`` (at least 1) of ``x`` and ``y``."""
        if not self.live:
            return False
        if not len(scopes):
            return True
        ids = np.fromiter((self._run.get(s, -1) for s in scopes), dtype=np.int64, count=len(scopes))
        if (ids < 0).any():
            return False  # a run that was not there at the start
        lens = np.asarray(lengths, dtype=np.int64)
        x, y = np.asarray(x, dtype=_F8), np.asarray(y, dtype=_F8)
        self.points_folded += int(x.size)
        starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
        if not (np.minimum.reduceat(x, starts) > self._last[ids]).all():
            return False  # out of order, or a step repeated across reads
        self._last[ids] = np.maximum.reduceat(x, starts)
        rid, x, v = _means(x, y, np.repeat(ids, lens))
        if rid.size == 0:
            return True
        grp = self._group_of[rid]
        order = np.argsort(grp, kind="stable")
        rid, x, v, grp = rid[order], x[order], v[order], grp[order]
        bounds = np.flatnonzero(np.diff(grp)) + 1
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [grp.size])), strict=True):
            g = self._groups[int(grp[lo])]
            g.add(self._row_of[rid[lo:hi]], x[lo:hi], v[lo:hi], self.agg, self.band)
            if g.unfit():
                self.live = False
                return False
            self.aggregates[self._keys[int(grp[lo])]] = g.line
        return True
