"""The careful path of ``write``: every check with its message, and a name's first write.

``write`` itself only runs a fast check against the cached schema; whenever that
does not pass (a new name, an error, a leniency such as a Python int in a float
column) it calls ``check_write``, which either raises with a message naming scope,
name, column and shapes, or snapshots the values and returns the write's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.errors import InvalidArgumentError, SchemaMismatchError
from streamvis.limits import check_key
from streamvis.logger.tensors import ADAPTERS, F4, F8, I4, I8, _resolve
from streamvis.storage.format.codec import validate_column_name

__all__ = ["check_write", "check_wall_time"]

_I64_LO, _I64_HI = -(2**63), 2**63 - 1
_I32_LO, _I32_HI = -(2**31), 2**31 - 1


def _where(scope: str, name: Any, col: str | None = None) -> str:
    w = f"scope {scope!r}, name {name!r}"
    return f"{w}, column {col!r}: " if col is not None else f"{w}: "


def _shape_str(v: Any) -> str:
    shp = getattr(v, "shape", None)
    if shp is None and isinstance(v, (list, tuple)):
        shp = np.shape(v)
    return str(tuple(shp)) if shp is not None else "()"


def check_write(
    scope: str,
    schemas: dict[str, dict[str, np.dtype]],
    name: Any,
    start_index: Any,
    columns: dict[str, Any],
) -> tuple[int, int, int]:
    """Validate one write; replace ``columns`` values by snapshots; fix the schema of a
    new name in ``schemas``. Returns (start_index, I, P). Raises InvalidArgumentError,
    SchemaMismatchError or ReservedNameError."""
    check_key("name", name, f"scope {scope!r}: ")  # non-empty, no NUL, <= 1,024 bytes
    if type(start_index) is not int and not isinstance(start_index, (int, np.integer)):
        raise InvalidArgumentError(
            f"{_where(scope, name)}start_index must be an int, got {start_index!r}")
    start_index = int(start_index)
    if start_index < 0:
        raise InvalidArgumentError(f"{_where(scope, name)}start_index must be >= 0, got {start_index}")
    if not columns:
        raise InvalidArgumentError(f"{_where(scope, name)}write() needs at least one column")
    schema = schemas.get(name)
    dtypes: dict[str, np.dtype] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for col, v in columns.items():
        validate_column_name(col, where=_where(scope, name))
        sdt = schema.get(col) if schema is not None else None
        if type(v) in (int, bool) and sdt is not None and sdt in (F4, F8, I4, I8):
            lo, hi = (_I32_LO, _I32_HI) if sdt is I4 else (_I64_LO, _I64_HI)
            if sdt.kind == "f" or lo <= v <= hi:  # Python ints take the column's dtype
                dtypes[col], shapes[col] = sdt, ()
                continue
        if type(v) is float and sdt is F8:
            dtypes[col], shapes[col] = sdt, ()
            continue
        try:
            dt, shp, snap = (ADAPTERS.get(type(v)) or _resolve(type(v)))(v)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(
                f"{_where(scope, name, col)}value of shape {_shape_str(v)} {exc}") from None
        if len(shp) > 2:
            raise InvalidArgumentError(
                f"{_where(scope, name, col)}rank {len(shp)} (shape {tuple(shp)}) is not "
                "allowed; columns are rank 0, 1 (points) or 2 (index, point)")
        dtypes[col], shapes[col] = dt, tuple(shp)
        columns[col] = snap
    try:
        bshape = np.broadcast_shapes(*((1, 1), *shapes.values()))
    except ValueError:
        desc = ", ".join(f"{c}={s}" for c, s in shapes.items())
        raise InvalidArgumentError(
            f"{_where(scope, name)}column shapes do not broadcast together: {desc}") from None
    if schema is None:
        schema = schemas.setdefault(name, dtypes)
    if set(schema) != set(dtypes) or any(schema[c] != dtypes[c] for c in dtypes):
        want = {c: str(d) for c, d in schema.items()}
        got = {c: str(d) for c, d in dtypes.items()}
        raise SchemaMismatchError(
            f"{_where(scope, name)}columns/dtypes {got} differ from the name's schema "
            f"{want} (fixed by its first write; shapes {dict(shapes)})")
    return start_index, int(bshape[0]), int(bshape[1])


def check_wall_time(
    scope: str, name: str, value: Any, ni: int, np_: int, stored_without: bool
) -> float | Any:
    """A caller's own ``wall_time`` (seconds since the epoch): a float for one time per
    write, or a snapshot broadcasting to the write's (I, P) for one per point.
    Raises InvalidArgumentError, or SchemaMismatchError for a name stored without."""
    col = WALL_TIME_COLUMN
    if stored_without:
        raise SchemaMismatchError(
            f"{_where(scope, name, col)}this name was stored without wall times (by an "
            "older streamvis); write it without wall_time, or under a new name")
    if type(value) in (int, float) or (isinstance(value, np.generic) and value.dtype.kind in "iuf"):
        return float(value)
    try:
        dt, shp, snap = (ADAPTERS.get(type(value)) or _resolve(type(value)))(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{_where(scope, name, col)}{exc}") from None
    if len(shp) > 2 or dt.kind not in "iuf":
        raise InvalidArgumentError(
            f"{_where(scope, name, col)}expected seconds since the epoch: a number, or "
            f"numbers of rank <= 2; got {dt} of shape {tuple(shp)}")
    try:
        fits = np.broadcast_shapes(tuple(shp), (ni, np_)) == (ni, np_)
    except ValueError:
        fits = False
    if not fits:
        raise InvalidArgumentError(
            f"{_where(scope, name, col)}shape {tuple(shp)} does not broadcast to the "
            f"write's (index, point) shape {(ni, np_)}")
    return snap
