"""Decimation that never hides a spike.

A screen shows a few thousand points; a group may hold millions. ``decimate_table``
cuts the x range into buckets and keeps, for every y column, the minimum and the
maximum of each bucket (tsdownsample's MinMax, in Rust), plus the first and last
point. Every local extreme at screen resolution survives, which sampling (what
TensorBoard, MLflow and Aim do) cannot promise. Below the budget nothing is dropped.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pyarrow as pa
from tsdownsample import MinMaxDownsampler, NaNMinMaxDownsampler

from streamvis.errors import InvalidArgumentError
from streamvis.storage.format.records import x_column

try:  # the compiled kernels behind MinMaxDownsampler (see _rust_kernel)
    from tsdownsample._rust._tsdownsample_rs import minmax as _minmax_mod

    _RUST: Any = _minmax_mod.sequential
except (ImportError, AttributeError):  # pragma: no cover - another tsdownsample layout
    _RUST = None
_KERNELS: dict[tuple[str, str, bool], Any] = {}

__all__ = [
    "decimate_table",
    "decimate_columns",
    "decimate_rows",
    "is_sorted",
    "range_bounds",
    "select_range",
    "slice_range",
    "slice_sorted",
]


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


def is_sorted(x: np.ndarray) -> bool:
    """Whether ``x`` is in non-decreasing order with no NaN (a NaN x has no place on the
    axis, so binary search over it would keep a point that a cut must drop)."""
    if x.size < 2:
        return bool(x.size == 0 or x[0] == x[0])
    return bool((x[1:] >= x[:-1]).all())  # False wherever a NaN is compared


def _bound(value: float, dtype: np.dtype, *, up: bool) -> np.generic:
    """``value`` in x's own dtype (a float bound would make numpy convert all of x)."""
    if dtype.kind != "i":
        return dtype.type(value)
    info = np.iinfo(dtype)
    rounded = np.ceil(value) if up else np.floor(value)
    return dtype.type(min(max(rounded, info.min), info.max))


def slice_sorted(
    columns: dict[str, np.ndarray], xcol: str, lo: float, hi: float
) -> dict[str, np.ndarray]:
    """Views of the rows of ``columns`` (x sorted) with x in [lo, hi]."""
    x = columns[xcol]
    start = 0 if np.isneginf(lo) else int(np.searchsorted(x, _bound(lo, x.dtype, up=True), "left"))
    stop = (
        x.size
        if np.isposinf(hi)
        else int(np.searchsorted(x, _bound(hi, x.dtype, up=False), side="right"))
    )
    return {c: a[start:stop] for c, a in columns.items()}


def slice_range(
    columns: dict[str, np.ndarray], xcol: str, lo: float, hi: float, x_sorted: bool
) -> pa.Table:
    """Rows of ``columns`` with x in [lo, hi]: a zero-copy slice when x is sorted."""
    if x_sorted:
        return pa.table(slice_sorted(columns, xcol, lo, hi))
    return select_range(pa.table(columns), lo, hi)


def _rust_kernel(x: np.ndarray, y: np.ndarray, nan: bool) -> Any:
    """tsdownsample's compiled MinMax kernel for these dtypes, or None.

    Its Python wrapper checks dtypes with string matching on every call (~60 us,
    longer than the kernel on a few thousand points); a page of 1,000 lines calls
    it 1,000 times per zoom, so the kernel is looked up once per dtype pair.
    """
    key = (x.dtype.str, y.dtype.str, nan)
    if key not in _KERNELS:
        names = {"i": "i", "u": "u", "f": "f"}
        xk, yk = names.get(x.dtype.kind), names.get(y.dtype.kind)
        fn = None
        if xk and yk and _RUST is not None:
            name = (
                f"downsample_{'nan_' if nan else ''}{xk}{x.dtype.itemsize * 8}_"
                f"{yk}{y.dtype.itemsize * 8}"
            )
            fn = getattr(_RUST, name, None)
        _KERNELS[key] = fn
    return _KERNELS[key]


def _minmax(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    nan = y.dtype.kind == "f" and bool(np.isnan(y).any())
    fn = _rust_kernel(x, y, nan)
    if fn is not None:
        try:
            return np.asarray(fn(x, y, n_out))
        except (TypeError, ValueError):
            pass
    ds = NaNMinMaxDownsampler() if nan else MinMaxDownsampler()
    return np.asarray(ds.downsample(x, y, n_out=n_out))


def decimate_rows(x: np.ndarray, ys: list[np.ndarray], max_points: int) -> np.ndarray:
    """Row numbers keeping every bucket's min and max of each of ``ys`` (x sorted),
    plus the first and last row: at most about ``max_points``."""
    n = x.size
    x = np.ascontiguousarray(x)
    per_col = max(4, (max_points - 2) // max(1, len(ys)))
    per_col -= per_col % 2  # min and max per bucket
    keep = [np.array([0, n - 1], dtype=np.int64)]
    for y in ys:
        keep.append(_minmax(x, np.ascontiguousarray(y), per_col).astype(np.int64))
    rows = np.concatenate(keep)
    rows.sort()
    return rows[np.concatenate([[True], rows[1:] != rows[:-1]])]


def decimate_columns(
    columns: dict[str, np.ndarray], xcol: str, max_points: int | None
) -> dict[str, np.ndarray]:
    """``decimate_table`` for a dict of x-sorted numpy columns."""
    n = len(columns[xcol])
    if max_points is None or n <= max_points:
        return columns
    ycols = [c for c in columns if c != xcol] or [xcol]
    rows = decimate_rows(columns[xcol], [columns[c] for c in ycols], max_points)
    return {c: a[rows] for c, a in columns.items()}


def decimate_table(table: pa.Table, max_points: int | None) -> pa.Table:
    """At most ``max_points`` rows of an x-sorted ``table``, every bucket's min and max kept."""
    n = table.num_rows
    if max_points is None or n <= max_points:
        return table
    xcol = x_column(table.column_names)
    ycols = [c for c in table.column_names if c != xcol] or [xcol]
    rows = decimate_rows(
        table.column(xcol).to_numpy(), [table.column(c).to_numpy() for c in ycols], max_points
    )
    return table.take(pa.array(rows))
