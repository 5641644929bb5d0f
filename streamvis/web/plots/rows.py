"""Row selections on a glyph's columns ("x", "y"[, "f"]) as numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Cols", "minmax_thin", "minmax_thin_many", "select_rows"]

Cols = dict[str, np.ndarray]  # "x", "y"[, "f"]: what a plot draws


def minmax_thin(cols: Cols, buckets: int) -> Cols:
    """At most ~2 * ``buckets`` + 2 rows of x-sorted ``cols``: per bucket the rows holding
    the smallest and largest y, plus the first and last row (so no extreme is lost)."""
    return minmax_thin_many([cols], buckets)[0]


def minmax_thin_many(many: Sequence[Cols], buckets: int) -> list[Cols]:
    """``minmax_thin`` of each of ``many``, in one pass over all the lines that share the
    first long line's columns and dtypes (a page's first draw thins a thousand lines:
    one numpy pass, not a thousand); the others one by one. Short lines stay whole."""
    out = list(many)
    long = [i for i, c in enumerate(many) if len(c["x"]) > 2 * buckets + 2]
    while long:
        first = many[long[0]]
        same = [i for i in long if many[i].keys() == first.keys()
                and all(many[i][k].dtype == first[k].dtype for k in first)]
        for i, thinned in zip(same, _thin([many[i] for i in same], buckets), strict=True):
            out[i] = thinned
        done = set(same)
        long = [i for i in long if i not in done]
    return out


def _thin(many: Sequence[Cols], buckets: int) -> list[Cols]:
    """``minmax_thin_many`` of lines longer than 2 * ``buckets`` + 2 with the same
    columns and dtypes: each line's buckets are ``np.linspace(0, n, buckets + 1)``'s."""
    ns = np.array([len(c["x"]) for c in many], np.int64)
    offsets = np.concatenate([[0], np.cumsum(ns)])
    edges = np.arange(buckets + 1) * (ns[:, None] / buckets)  # as np.linspace(0, n, buckets + 1)
    edges[:, -1] = ns
    starts = (edges[:, :-1].astype(np.int64) + offsets[:-1, None]).ravel()
    y = np.concatenate([c["y"] for c in many])
    total = y.size
    nan = np.isnan(y)
    finite, signed = np.where(nan, np.inf, y), np.where(nan, -np.inf, y)
    bucket = np.repeat(np.arange(starts.size), np.diff(np.append(starts, total)))
    idx = np.arange(total)
    keep = np.zeros(total, bool)
    for values, reduce in ((finite, np.minimum), (signed, np.maximum)):
        hit = values == reduce.reduceat(values, starts)[bucket]  # the bucket's first extreme
        keep[np.minimum.reduceat(np.where(hit, idx, total), starts).clip(max=total - 1)] = True
    keep[offsets[:-1]] = keep[offsets[1:] - 1] = True
    kept = np.concatenate([[0], np.cumsum(np.add.reduceat(keep, offsets[:-1]))])
    columns = {k: np.concatenate([c[k] for c in many])[keep] for k in many[0]}
    return [{k: v[kept[j] : kept[j + 1]] for k, v in columns.items()} for j in range(len(many))]


def select_rows(cols: Cols, value: float) -> Cols:
    """The rows whose filter value 'f' is the largest one <= ``value``."""
    f = cols["f"]
    below = f[f <= value]
    if len(below) == 0:
        return {k: v[:0] for k, v in cols.items()}
    keep = f == below.max()
    return {k: v[keep] for k, v in cols.items()}
