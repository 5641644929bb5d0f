"""Row selections on a glyph's columns ("x", "y"[, "f"]) as numpy arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["Cols", "minmax_thin", "select_rows"]

Cols = dict[str, np.ndarray]  # "x", "y"[, "f"]: what a plot draws


def minmax_thin(cols: Cols, buckets: int) -> Cols:
    """At most ~2 * ``buckets`` + 2 rows of x-sorted ``cols``: per bucket the rows holding
    the smallest and largest y, plus the first and last row (so no extreme is lost)."""
    n = len(cols["x"])
    if n <= 2 * buckets + 2:
        return cols
    y = cols["y"]
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts = edges[:-1]
    finite = np.where(np.isnan(y), np.inf, y)
    mins = np.minimum.reduceat(finite, starts)
    maxs = np.maximum.reduceat(np.where(np.isnan(y), -np.inf, y), starts)
    bucket = np.repeat(np.arange(buckets), np.diff(edges))
    is_min = finite == mins[bucket]
    is_max = np.where(np.isnan(y), -np.inf, y) == maxs[bucket]
    first_min = np.zeros(n, bool)
    first_max = np.zeros(n, bool)
    idx = np.arange(n)
    first_min[np.minimum.reduceat(np.where(is_min, idx, n), starts).clip(max=n - 1)] = True
    first_max[np.minimum.reduceat(np.where(is_max, idx, n), starts).clip(max=n - 1)] = True
    keep = first_min | first_max
    keep[0] = keep[-1] = True
    return {k: v[keep] for k, v in cols.items()}


def select_rows(cols: Cols, value: float) -> Cols:
    """The rows whose filter value 'f' is the largest one <= ``value``."""
    f = cols["f"]
    below = f[f <= value]
    if len(below) == 0:
        return {k: v[:0] for k, v in cols.items()}
    keep = f == below.max()
    return {k: v[keep] for k, v in cols.items()}
