"""Decimation that never hides a spike.

A screen shows a few thousand points; a group may hold millions. ``decimate_table``
cuts the x range into buckets and keeps, for every y column, the minimum and the
maximum of each bucket (tsdownsample's MinMax, in Rust), plus the first and last
point. Every local extreme at screen resolution survives, which sampling (what
TensorBoard, MLflow and Aim do) cannot promise. Below the budget nothing is dropped.
"""

from __future__ import annotations

import numbers

import numpy as np
import pyarrow as pa
from tsdownsample import MinMaxDownsampler, NaNMinMaxDownsampler

from streamvis.errors import InvalidArgumentError
from streamvis.storage.records import x_column

__all__ = ["decimate_table", "range_bounds", "select_range", "slice_range"]


def select_range(table: pa.Table, lo: float, hi: float) -> pa.Table:
    """Rows with x in [lo, hi], sorted by x (stable: log order breaks ties)."""
    if table.num_rows == 0:
        return table
    x = table.column(x_column(table.column_names)).to_numpy()
    unbounded = np.isneginf(lo) and np.isposinf(hi)
    if unbounded and x.dtype.kind == "f" and np.isnan(x).any():
        keep = ~np.isnan(x)  # a point without an x has no place on the axis
        table, x = table.filter(pa.array(keep)), x[keep]
    elif not unbounded:
        keep = (x >= lo) & (x <= hi)
        if not keep.all():
            table, x = table.filter(pa.array(keep)), x[keep]
    if x.size > 1 and not (x[1:] >= x[:-1]).all():
        order = np.argsort(x, kind="stable")
        table = table.take(pa.array(order))
    return table


def range_bounds(
    x_min: float | None, x_max: float | None, max_points: int | None
) -> tuple[float, float]:
    """Checked arguments of a range read: (lo, hi), infinite where not given."""
    if max_points is not None and (not isinstance(max_points, int) or max_points < 4):
        raise InvalidArgumentError(f"max_points must be an int >= 4, got {max_points!r}")
    for label, bound in (("x_min", x_min), ("x_max", x_max)):
        if bound is not None and (not isinstance(bound, numbers.Real) or bound != bound):
            raise InvalidArgumentError(f"{label} must be a number or None, got {bound!r}")
    return (-np.inf if x_min is None else float(x_min), np.inf if x_max is None else float(x_max))


def _bound(value: float, dtype: np.dtype, *, up: bool) -> np.generic:
    """``value`` in x's own dtype (a float bound would make numpy convert all of x)."""
    if dtype.kind != "i":
        return dtype.type(value)
    info = np.iinfo(dtype)
    rounded = np.ceil(value) if up else np.floor(value)
    return dtype.type(min(max(rounded, info.min), info.max))


def slice_range(
    columns: dict[str, np.ndarray], xcol: str, lo: float, hi: float, x_sorted: bool
) -> pa.Table:
    """Rows of ``columns`` with x in [lo, hi]: a zero-copy slice when x is sorted."""
    if x_sorted:
        x = columns[xcol]
        start = (
            0
            if np.isneginf(lo)
            else int(np.searchsorted(x, _bound(lo, x.dtype, up=True), side="left"))
        )
        stop = (
            x.size
            if np.isposinf(hi)
            else int(np.searchsorted(x, _bound(hi, x.dtype, up=False), side="right"))
        )
        return pa.table({c: a[start:stop] for c, a in columns.items()})
    return select_range(pa.table(columns), lo, hi)


def decimate_table(table: pa.Table, max_points: int | None) -> pa.Table:
    """At most ``max_points`` rows of an x-sorted ``table``, every bucket's min and max kept."""
    n = table.num_rows
    if max_points is None or n <= max_points:
        return table
    xcol = x_column(table.column_names)
    ycols = [c for c in table.column_names if c != xcol] or [xcol]
    x = np.ascontiguousarray(table.column(xcol).to_numpy())
    per_col = max(4, (max_points - 2) // len(ycols))
    per_col -= per_col % 2  # min and max per bucket
    keep = [np.array([0, n - 1], dtype=np.int64)]
    for c in ycols:
        y = np.ascontiguousarray(table.column(c).to_numpy())
        ds = (
            NaNMinMaxDownsampler()
            if y.dtype.kind == "f" and np.isnan(y).any()
            else MinMaxDownsampler()
        )
        keep.append(ds.downsample(x, y, n_out=per_col).astype(np.int64))
    rows = np.unique(np.concatenate(keep))
    return table.take(pa.array(rows))
