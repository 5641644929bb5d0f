"""Aggregates across runs: one line and one band per group of runs (``group=``).

Exact over every point, before any decimation (no run and no point is sampled):

- At each x the aggregate is over the runs of the group that have a point at that x.
  A run with several points at one x (a repeated step) counts once, with their mean.
- When the runs share their steps (the distinct x values of all runs together are
  at most ``SHARED_STEPS_SLACK`` times those of the run with most), every x is exact.
  Otherwise (runs logged at different steps, which would leave one run per x) x is
  bucketed on a regular grid, and each run's value in a bucket is its mean there;
  the grid is returned, so that a page can say so.
- NaN values are skipped: a run whose value at x is NaN is not counted at x.

``agg`` is the line (mean, median, min, max); ``band`` the shaded range around it:
``minmax`` (the runs' min and max), ``std`` (the line plus and minus one standard
deviation, ddof=1), ``stderr`` (std / sqrt(n)), ``none`` (lo = hi = the line). Where
one run has a point (n = 1) the std and stderr bands are zero wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = ["AGGS", "BANDS", "Aggregate", "Grid", "aggregate_runs", "band_bounds", "check_agg_band"]

AGGS = ("mean", "median", "min", "max")
BANDS = ("minmax", "std", "stderr", "none")
SHARED_STEPS_SLACK = 1.25
_F8 = np.dtype("<f8")


@dataclass(frozen=True)
class Grid:
    """The buckets x was put in where runs' steps differ: [start + i*width, + width)."""

    start: float
    width: float

    def describe(self) -> str:
        return f"x bucketed every {self.width:g} from {self.start:g} (the runs' steps differ)"


@dataclass
class Aggregate:
    """One group's line: columns of equal length, x ascending."""

    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray
    grid: Grid | None = None  # None: exact at every x

    def __len__(self) -> int:
        return int(self.x.size)


def check_agg_band(agg: str, band: str) -> None:
    """InvalidArgumentError naming a value that is not one of the choices."""
    if agg not in AGGS:
        raise InvalidArgumentError(f"agg={agg!r} is not one of {', '.join(AGGS)}")
    if band not in BANDS:
        raise InvalidArgumentError(f"band={band!r} is not one of {', '.join(BANDS)}")


def _run_means(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One point per distinct x of one run (the mean of its points there), NaNs dropped."""
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        return x, y
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size == x.size:
        order = np.argsort(x, kind="stable")
        return x[order], y[order]
    sums = np.bincount(inv, weights=y, minlength=ux.size)
    counts = np.bincount(inv, minlength=ux.size)
    return ux, sums / counts


def _grid(xs: Sequence[np.ndarray]) -> Grid:
    """A bucket width that gives each run about one point per bucket: the largest of
    the runs' median step spacings."""
    spacings = [float(np.median(np.diff(x))) for x in xs if x.size >= 2]
    width = max(spacings) if spacings else 1.0
    if not np.isfinite(width) or width <= 0:
        width = 1.0
    start = float(min(x[0] for x in xs if x.size))
    return Grid(start, width)


def _bucketed(xs: list[np.ndarray], ys: list[np.ndarray], grid: Grid
              ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each run's mean per bucket (over its points there), at the bucket's start."""
    out_x, out_y = [], []
    for x, y in zip(xs, ys, strict=True):
        b = np.floor((x - grid.start) / grid.width)
        bx, by = _run_means(b, y)
        out_x.append(grid.start + bx * grid.width)
        out_y.append(by)
    return out_x, out_y


def aggregate_runs(runs: Sequence[tuple[np.ndarray, np.ndarray]], *, agg: str = "mean",
                   band: str = "minmax") -> Aggregate:
    """The aggregate line and band of ``runs`` (each an ``(x, y)`` pair of arrays)."""
    check_agg_band(agg, band)
    raw = [(np.asarray(x, dtype=_F8), np.asarray(y, dtype=_F8)) for x, y in runs]
    xs, ys, kept = [], [], []
    for x, y in raw:
        rx, ry = _run_means(x, y)
        if rx.size:
            xs.append(rx)
            ys.append(ry)
            kept.append((x, y))
    if not xs:
        e = np.empty(0, dtype=_F8)
        return Aggregate(e, e, e, e, np.empty(0, dtype=np.int64))
    grid = None
    union = np.unique(np.concatenate(xs))
    if union.size > SHARED_STEPS_SLACK * max(x.size for x in xs):
        grid = _grid(xs)
        xs, ys = _bucketed([x for x, _ in kept], [y for _, y in kept], grid)
        union = np.unique(np.concatenate(xs))
    allx, ally = np.concatenate(xs), np.concatenate(ys)
    slot = np.searchsorted(union, allx)
    order = np.lexsort((ally, slot))  # by x, then by value: medians and extremes by offset
    slot, vals = slot[order], ally[order]
    n = np.bincount(slot, minlength=union.size)
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    mean = np.bincount(slot, weights=vals, minlength=union.size) / n
    lo_v, hi_v = vals[starts], vals[starts + n - 1]
    if agg == "mean":
        line = mean
    elif agg == "median":
        mid = starts + (n - 1) // 2
        line = np.where(n % 2 == 1, vals[mid], (vals[mid] + vals[np.minimum(mid + 1, starts + n - 1)]) / 2)
    elif agg == "min":
        line = lo_v
    else:
        line = hi_v
    ss: np.ndarray | None = None
    if band in ("std", "stderr"):
        dev = vals - mean[slot]
        ss = np.bincount(slot, weights=dev * dev, minlength=union.size)
    lo, hi = band_bounds(band, line, lo_v, hi_v, n, ss)
    return Aggregate(union, line, lo, hi, n.astype(np.int64), grid)


def band_bounds(band: str, line: np.ndarray, lo_v: np.ndarray, hi_v: np.ndarray, n: np.ndarray,
                sum_sq: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of ``band`` at each x: the values' min and max (``lo_v``, ``hi_v``), or the
    line plus and minus the std (ddof=1; ``sum_sq`` the squared deviations from the mean
    summed, ``n`` the values) or std/sqrt(n), zero wide where n = 1; ``none``: the line."""
    if band == "minmax":
        return lo_v, hi_v
    if band in ("std", "stderr"):
        assert sum_sq is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.where(n > 1, np.sqrt(sum_sq / np.maximum(n - 1, 1)), 0.0)
            if band == "stderr":
                sd = sd / np.sqrt(n)
        return line - sd, line + sd
    return line, line
