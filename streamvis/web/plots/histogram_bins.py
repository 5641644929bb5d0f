"""A histogram's buckets redrawn on even bins, as TensorBoard shows them.

TensorBoard's (and torch's) default buckets grow by 10% from 1e-12 outwards, so the
buckets near 0 are narrow and hold few values: drawn as stored, a count per bucket, a
normal distribution dips to nothing at 0. TensorBoard's own view spreads each bucket's
count evenly over its width and sums it into 30 even bins across the values' range;
``even_bins`` does the same, step by step (every count is kept: each step's bins sum
to its buckets' counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["EVEN_BINS", "HIST_EDGES", "even_bins", "even_bin_cols"]

EVEN_BINS = 30  # TensorBoard's default
HIST_EDGES = ("left", "right")  # a histogram's bucket edges (streamvis.tensorboard.histograms)


def even_bin_cols(cols: Mapping[str, Any], count: str, step: str, bins: int) -> dict[str, np.ndarray]:
    """A plot's columns ('x', 'y', 'f') of a histogram group's columns on even bins."""
    x, y, f = even_bins(cols[HIST_EDGES[0]], cols[HIST_EDGES[1]], cols[count], cols[step], bins)
    return {"x": x, "y": y, "f": f}


def even_bins(left: np.ndarray, right: np.ndarray, count: np.ndarray, step: np.ndarray,
              bins: int = EVEN_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, count, step) of ``bins`` even bins per step over the range of that step's
    non-empty buckets (steps in the order they come). A step whose buckets are not
    ordered and apart (not as TensorBoard writes them) keeps its buckets, at their centres."""
    left, right = np.asarray(left, np.float64), np.asarray(right, np.float64)
    count, step = np.asarray(count, np.float64), np.asarray(step, np.float64)
    xs, ys, fs = [], [], []
    _, first = np.unique(step, return_index=True)
    for s in step[np.sort(first)]:
        at = (step == s) & (count > 0) & np.isfinite(left) & np.isfinite(right)
        lo_e, hi_e, c = left[at], right[at], count[at]
        if not c.size:
            continue
        order = np.argsort(lo_e, kind="stable")
        lo_e, hi_e, c = lo_e[order], hi_e[order], c[order]
        edges_at = np.column_stack([lo_e, hi_e]).ravel()
        lo, hi = float(lo_e[0]), float(hi_e.max())
        if not hi > lo or bool((np.diff(edges_at) < 0).any()):
            xs.append((lo_e + hi_e) / 2)
            ys.append(c)
        else:  # the cumulative count, linear within each bucket, read at the even edges
            total = np.cumsum(c)
            cumulative = np.column_stack([total - c, total]).ravel()
            edges = np.linspace(lo, hi, bins + 1)
            xs.append((edges[:-1] + edges[1:]) / 2)
            ys.append(np.maximum(np.diff(np.interp(edges, edges_at, cumulative)), 0.0))
        fs.append(np.full(xs[-1].size, s))
    if not xs:
        e = np.empty(0)
        return e, e, e
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(fs)
