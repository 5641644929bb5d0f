"""Row selections on a glyph's columns ("x", "y"[, "f"]) as numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Cols", "minmax_thin", "minmax_thin_many", "select_rows"]

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


def minmax_thin_many(many: Sequence[Cols], buckets: int) -> list[Cols]:
    """``minmax_thin`` of each of ``many``, the same rows, in one pass over them all (a
    page's first draw thins a thousand lines: one numpy pass, not a thousand). Lines of
    other columns or dtypes than the first are thinned one by one."""
    out = list(many)
    big = [i for i, c in enumerate(many) if len(c["x"]) > 2 * buckets + 2]
    if big:
        first = many[big[0]]
        same = [i for i in big if many[i].keys() == first.keys()
                and all(many[i][k].dtype == first[k].dtype for k in first)]
        for i in sorted(set(big) - set(same)):
            out[i] = minmax_thin(many[i], buckets)
        big = same
    if len(big) < 2:
        for i in big:
            out[i] = minmax_thin(many[i], buckets)
        return out
    ns = np.array([len(many[i]["x"]) for i in big], np.int64)
    offsets = np.concatenate([[0], np.cumsum(ns)])
    edges = np.arange(buckets + 1) * (ns[:, None] / buckets)  # as np.linspace(0, n, buckets + 1)
    edges[:, -1] = ns
    starts = (edges[:, :-1].astype(np.int64) + offsets[:-1, None]).ravel()
    y = np.concatenate([many[i]["y"] for i in big])
    total = y.size
    nan = np.isnan(y)
    finite, signed = np.where(nan, np.inf, y), np.where(nan, -np.inf, y)
    lengths = np.diff(np.append(starts, total))
    bucket = np.repeat(np.arange(starts.size), lengths)
    idx = np.arange(total)
    keep = np.zeros(total, bool)
    for values, reduce in ((finite, np.minimum), (signed, np.maximum)):
        hit = values == reduce.reduceat(values, starts)[bucket]
        keep[np.minimum.reduceat(np.where(hit, idx, total), starts).clip(max=total - 1)] = True
    keep[offsets[:-1]] = keep[offsets[1:] - 1] = True
    kept = np.concatenate([[0], np.cumsum(np.add.reduceat(keep, offsets[:-1]))])
    columns = {k: np.concatenate([many[i][k] for i in big])[keep] for k in first}
    for j, i in enumerate(big):
        out[i] = {k: v[kept[j] : kept[j + 1]] for k, v in columns.items()}
    return out


def select_rows(cols: Cols, value: float) -> Cols:
    """The rows whose filter value 'f' is the largest one <= ``value``."""
    f = cols["f"]
    below = f[f <= value]
    if len(below) == 0:
        return {k: v[:0] for k, v in cols.items()}
    keep = f == below.max()
    return {k: v[keep] for k, v in cols.items()}
