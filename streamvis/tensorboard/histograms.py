"""Histograms as drawable columns, shared by the writer and the importer.

A histogram of one step becomes one group of points, one point per bucket:
``bucket`` (the centre, clipped to the data's [min, max]), ``count``, ``left`` and
``right`` (the bucket's edges), ``step`` (the filter column a schema's slider moves
over) and the wall time. Its min, max and mean are logged as lines of their own.

``make_histogram`` is TensorBoard's bucketing as torch's writer does it
(torch/utils/tensorboard/summary.py: ``make_histogram``), so that our writer
stores exactly what torch's writer followed by ``import-tb`` stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = ["Histogram", "default_bins", "make_histogram", "from_proto_fields", "from_v2_tensor"]

BUCKET, COUNT, LEFT, RIGHT, STEP = "bucket", "count", "left", "right", "step"


def default_bins() -> list[float]:
    """TensorBoard's default bucket edges: +-1e-12 growing by 10% to +-1e20, and 0."""
    v = 1e-12
    buckets: list[float] = []
    neg: list[float] = []
    while v < 1e20:
        buckets.append(v)
        neg.append(-v)
        v *= 1.1
    return neg[::-1] + [0] + buckets


_DEFAULT_BINS: list[float] | None = None


@dataclass(frozen=True)
class Histogram:
    """One step's histogram: bucket edges and counts plus the data's min, max, mean."""

    left: np.ndarray
    right: np.ndarray
    count: np.ndarray
    min: float
    max: float
    mean: float

    def columns(self) -> dict[str, np.ndarray]:
        """The per-bucket columns (float64), without step and wall time."""
        lo = np.clip(self.left, self.min, self.max)
        hi = np.clip(self.right, self.min, self.max)
        return {BUCKET: (lo + hi) / 2, COUNT: self.count, LEFT: self.left, RIGHT: self.right}


def from_proto_fields(bucket_limit: Any, bucket: Any, vmin: float, vmax: float,
                      num: float, vsum: float) -> Histogram:
    """A Histogram from HistogramProto's fields: right edges and counts, with the
    first bucket's left edge at the data's minimum (as TensorBoard draws it)."""
    right = np.asarray(bucket_limit, dtype=np.float64)
    count = np.asarray(bucket, dtype=np.float64)
    if right.shape != count.shape:
        raise InvalidArgumentError(
            f"a histogram needs as many bucket limits as counts, got {right.size} and {count.size}")
    left = np.empty_like(right)
    if right.size:
        left[1:] = right[:-1]
        left[0] = min(float(vmin), float(right[0]))
    mean = float(vsum) / float(num) if num else float("nan")
    return Histogram(left, right, count, float(vmin), float(vmax), mean)


def from_v2_tensor(arr: np.ndarray) -> Histogram:
    """A Histogram from a TensorBoard v2 histogram tensor: rows of (left, right, count)."""
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise InvalidArgumentError(f"a v2 histogram tensor has shape (k, 3), got {a.shape}")
    left, right, count = (np.ascontiguousarray(a[:, i]) for i in range(3))
    if not a.shape[0]:
        nan = float("nan")
        return Histogram(left, right, count, nan, nan, nan)
    total = float(count.sum())
    mean = float(((left + right) / 2 * count).sum() / total) if total else float("nan")
    return Histogram(left, right, count, float(left[0]), float(right[-1]), mean)


def make_histogram(values: np.ndarray, bins: Any = "tensorflow",
                   max_bins: int | None = None) -> Histogram:
    """Bucket ``values`` as torch's ``SummaryWriter.add_histogram`` does (the same
    edges, the same trimming of empty buckets, the same float64 arithmetic)."""
    global _DEFAULT_BINS
    if isinstance(bins, str) and bins == "tensorflow":
        if _DEFAULT_BINS is None:
            _DEFAULT_BINS = default_bins()
        bins = _DEFAULT_BINS
    values = np.asarray(values).astype(float).reshape(-1)
    if values.size == 0:
        raise InvalidArgumentError("add_histogram needs at least one value, got none")
    counts, limits = np.histogram(values, bins=bins)
    num_bins = len(counts)
    if max_bins is not None and num_bins > max_bins:
        sub = num_bins // max_bins
        rem = num_bins % sub
        if rem != 0:
            counts = np.pad(counts, pad_width=[[0, sub - rem]], mode="constant",
                            constant_values=0)
        counts = counts.reshape(-1, sub).sum(axis=-1)
        new_limits = np.empty((counts.size + 1,), limits.dtype)
        new_limits[:-1] = limits[:-1:sub]
        new_limits[-1] = limits[-1]
        limits = new_limits
    cum = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum, [0, cum[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise InvalidArgumentError(
            "add_histogram: no value falls in any bucket (are they all NaN or infinite?)")
    # the same float64 values torch puts into HistogramProto (lists of Python floats)
    bucket_limit = [float(v) for v in limits.tolist()]
    bucket = [float(v) for v in counts.tolist()]
    return from_proto_fields(bucket_limit, bucket, float(values.min()), float(values.max()),
                             float(len(values)), float(values.sum()))
