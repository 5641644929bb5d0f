"""Packed scalar records: how the write fast path queues one point of Python numbers.

A fast-path write of ``write("loss", x=step, y=loss)`` is queued as ``(name, packed)``:
its values in the name's schema order, then the call's wall time, packed by
``struct`` as little-endian 8-byte numbers (int64 for an int64 column, float64 for a
float column, cast to float32 in the flush where the schema says so). Against
queueing the kwargs dict: the call costs about the same (the dict is freed at once,
while still in cache), the queue holds no dicts for the garbage collector to walk (a
second of 1M writes/s is 1M of them) and 24 bytes of payload per point instead of a
dict, two numbers and a float, and the flush copies a whole drain into one array of
rows with one ``np.fromiter`` into fixed-width bytes, read back as ``record_dtype``.
``struct`` also range-checks int64 in C (``struct.error``). benchmarks/RESULTS.md has
the figures.

The layout follows from the schema alone (its column order), so the writer and the
flush thread agree without sharing state; a name's schema never changes once set.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.logger.tensors import F4, F8, I8

__all__ = ["Packing", "packing_of", "unpack_record"]

_WALL_FIELD = "wall"


class Packing:
    """The packed form of one schema: ``pack(*values, wall_time)`` and the numpy
    record dtype that reads an array of packed records back."""

    __slots__ = ("columns", "dtypes", "pack", "unpack", "record_dtype", "row_bytes", "types")

    def __init__(self, schema: Mapping[str, np.dtype]) -> None:
        self.columns = tuple(schema)
        self.dtypes = tuple(schema.values())
        # the Python type each column takes on the fast path (anything else: full method)
        self.types = tuple(int if dt == I8 else float for dt in self.dtypes)
        codes = "".join("q" if dt == I8 else "d" for dt in self.dtypes)
        s = struct.Struct("<" + codes + "d")
        self.pack, self.unpack = s.pack, s.unpack
        fields = [(f"c{i}", "<i8" if dt == I8 else "<f8") for i, dt in enumerate(self.dtypes)]
        self.record_dtype = np.dtype([*fields, (_WALL_FIELD, "<f8")])
        self.row_bytes = np.dtype(f"S{self.record_dtype.itemsize}")  # one packed record

    def columns_of(self, rec: np.ndarray, wall_time: bool) -> dict[str, np.ndarray]:
        """The columns (schema dtypes, contiguous) of packed records read as
        ``record_dtype``, with a ``wall_time`` column when asked."""
        with np.errstate(invalid="ignore"):  # a signalling NaN cast to float32 warns
            out = {col: rec[f"c{i}"].astype(dt) for i, (col, dt) in
                   enumerate(zip(self.columns, self.dtypes, strict=True))}
        if wall_time:
            out[WALL_TIME_COLUMN] = rec[_WALL_FIELD].copy()
        return out


def packing_of(schema: Mapping[str, np.dtype] | None) -> Packing | None:
    """The packing of a name's schema, or None when the fast path does not take it
    (no schema yet, or a column that is not float32, float64 or int64). Cached: the
    flush asks once per name per drain."""
    if not schema:
        return None
    return _packing(tuple(schema.items()))


@functools.lru_cache(maxsize=4096)
def _packing(items: tuple[tuple[str, np.dtype], ...]) -> Packing | None:
    if not all(dt in (F4, F8, I8) for _, dt in items):  # equality, as the cache's key
        return None
    return Packing(dict(items))


def unpack_record(packing: Packing, packed: bytes) -> tuple[dict[str, Any], float]:
    """One packed record as ``({column: number}, wall_time)`` (the flush's general path,
    when a name's drain mixes packed and other records)."""
    *values, wall = packing.unpack(packed)
    return dict(zip(packing.columns, values, strict=True)), wall
