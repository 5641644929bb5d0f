"""Turning appended items into record payloads, and validating them first.

Validation happens before anything is written: a batch with one bad item writes
nothing. Large point sets are split into several records so no record exceeds the
framing cap.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamvis.errors import InvalidArgumentError
from streamvis.limits import check_config, check_key, preview
from streamvis.proto import data_pb2 as pb
from streamvis.storage.format.codec import encode_column, normalize_array, validate_column_name
from streamvis.storage.format.framing import MAX_PAYLOAD
from streamvis.storage.format.media import check_media, media_record_body
from streamvis.storage.format.model import ConfigUpdate, Deletion, Image, Item, Points, Text

__all__ = [
    "FORMAT_VERSION",
    "NormalizedPoints",
    "normalize_items",
    "x_column",
    "encode_batch",
    "header_payload",
]

FORMAT_VERSION = 1
_RECORD_TARGET_BYTES = MAX_PAYLOAD // 4  # split points so records stay well under the cap
_INT64 = np.iinfo(np.int64)


@dataclass(frozen=True)
class NormalizedPoints:
    """A validated ``Points``: stored dtypes, 1-D, equal lengths."""

    scope: str
    name: str
    index: int
    columns: dict[str, np.ndarray]

    @property
    def count(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def schema(self) -> dict[str, np.dtype]:
        return {k: v.dtype for k, v in self.columns.items()}


def _check_key(kind: str, value: object, limits: bool = True) -> str:
    if not limits:  # data already stored (compaction): kept as it is
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(f"{kind} must be a non-empty string, got {value!r}")
        return value
    return check_key(kind, value)


def _check_index(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgumentError(f"{where}index must be an int, got {value!r}")
    if not _INT64.min <= int(value) <= _INT64.max:
        raise InvalidArgumentError(f"{where}index {value} is outside int64")
    return int(value)


def normalize_points(p: Points, limits: bool = True) -> NormalizedPoints:
    """Validate one ``Points`` and convert its columns to stored dtypes (``limits``:
    check keys against ``streamvis.limits``; off only to rewrite stored data)."""
    scope = _check_key("scope", p.scope, limits)
    name = _check_key("name", p.name, limits)
    where = f"scope {scope!r}, name {name!r}: "
    index = _check_index(p.index, where)
    if not isinstance(p.columns, Mapping) or not p.columns:
        raise InvalidArgumentError(f"{where}needs at least one column, got {p.columns!r}")
    columns: dict[str, np.ndarray] = {}
    length = None
    for col, value in p.columns.items():
        validate_column_name(col, where=where, limits=limits)
        arr = normalize_array(value, column=col, where=where)
        if arr.ndim != 1:
            raise InvalidArgumentError(
                f"{where}column {col!r} has shape {arr.shape}; storage takes 1-D columns"
            )
        if length is None:
            length = arr.shape[0]
        elif arr.shape[0] != length:
            shapes = {c: np.shape(v) for c, v in p.columns.items()}
            raise InvalidArgumentError(f"{where}columns have different lengths: {shapes}")
        columns[col] = arr
    return NormalizedPoints(scope, name, index, columns)


def normalize_items(items: Sequence[Item], *, limits: bool = True) -> list[Item | NormalizedPoints]:
    """Validate a batch; points come back normalised, configs checked for JSON and, with
    ``limits`` (off only when compaction rewrites stored data), against
    ``streamvis.limits``: key sizes, config size, depth and numbers. Deletions are only
    checked for NUL, so a scope stored before the limits can still be deleted."""
    if isinstance(items, Points | ConfigUpdate | Deletion | Image | Text):
        items = [items]
    out: list[Item | NormalizedPoints] = []
    for item in items:
        if isinstance(item, Points):
            out.append(normalize_points(item, limits))
        elif isinstance(item, ConfigUpdate):
            _check_key("scope", item.scope, limits)
            if limits:
                check_config(item.config, f"scope {preview(item.scope)}: ")
            elif not isinstance(item.config, Mapping):
                raise InvalidArgumentError(
                    f"config of scope {item.scope!r} must be a dict, got {type(item.config).__name__}"
                )
            out.append(item)
        elif isinstance(item, Deletion):
            _check_deleted("scope", item.scope)
            if item.name is not None:
                _check_deleted("name", item.name)
            out.append(item)
        elif isinstance(item, Image | Text):
            check_media(item, limits)
            out.append(item)
        else:
            raise InvalidArgumentError(
                f"cannot append {type(item).__name__}; expected Points, ConfigUpdate, Deletion, "
                "Image or Text"
            )
    return out


def _check_deleted(kind: str, value: object) -> None:
    """A deleted scope or name: any that could have been stored (no size limit)."""
    _check_key(kind, value, limits=False)
    if "\x00" in str(value):
        raise InvalidArgumentError(f"{kind} {preview(str(value))} contains a NUL character")


def x_column(columns: Mapping[str, object]) -> str:
    """The column that orders a group: 'x' if present, else the first one."""
    return "x" if "x" in columns else next(iter(columns))


def x_bounds(arr: np.ndarray) -> tuple[float, float]:
    """(min, max) of an x column ignoring NaN; NaN when there is no number."""
    if arr.size == 0:
        return math.nan, math.nan
    if arr.dtype.kind == "f":
        finite = arr[~np.isnan(arr)]
        if finite.size == 0:
            return math.nan, math.nan
        return float(finite.min()), float(finite.max())
    return float(arr.min()), float(arr.max())


def _split(p: NormalizedPoints) -> Iterator[NormalizedPoints]:
    row_bytes = sum(a.dtype.itemsize for a in p.columns.values())
    rows = max(1, _RECORD_TARGET_BYTES // row_bytes)
    if p.count <= rows:
        yield p
        return
    for start in range(0, p.count, rows):
        cols = {k: v[start : start + rows] for k, v in p.columns.items()}
        yield NormalizedPoints(p.scope, p.name, p.index, cols)


@dataclass(frozen=True)
class EncodedRecord:
    """One record payload and what the index needs to know about it."""

    payload: bytes
    points: NormalizedPoints | None  # set for points records
    x_min: float
    x_max: float
    other: ConfigUpdate | Deletion | Image | Text | None = None  # the item of other records


def encode_batch(
    items: Sequence[Item | NormalizedPoints], writer_id: bytes, seq: int, *, compress: bool = True
) -> list[EncodedRecord]:
    """Record payloads for a validated batch, ending with its commit record."""
    now = time.time()
    out: list[EncodedRecord] = []
    for item in items:
        if isinstance(item, NormalizedPoints):
            for part in _split(item):
                cols = [encode_column(k, v, compress=compress) for k, v in part.columns.items()]
                lo, hi = x_bounds(part.columns[x_column(part.columns)])
                body = pb.Points(
                    scope=part.scope,
                    name=part.name,
                    index=part.index,
                    columns=cols,
                    count=part.count,
                    x_min=lo,
                    x_max=hi,
                )
                rec = pb.Record(wall_time=now, writer_id=writer_id, seq=seq, points=body)
                out.append(EncodedRecord(rec.SerializeToString(), part, lo, hi))
        elif isinstance(item, ConfigUpdate):
            body = pb.Config(scope=item.scope, json=json.dumps(dict(item.config)))
            rec = pb.Record(wall_time=now, writer_id=writer_id, seq=seq, config=body)
            out.append(EncodedRecord(rec.SerializeToString(), None, math.nan, math.nan, item))
        elif isinstance(item, Deletion):
            body = pb.Delete(scope=item.scope, name=item.name or "")
            rec = pb.Record(wall_time=now, writer_id=writer_id, seq=seq, delete=body)
            out.append(EncodedRecord(rec.SerializeToString(), None, math.nan, math.nan, item))
        elif isinstance(item, Image | Text):
            media = media_record_body(item)
            rec = pb.Record()  # the commit names the batch; the body has its own wall time
            (rec.image if isinstance(item, Image) else rec.text).CopyFrom(media)
            out.append(EncodedRecord(rec.SerializeToString(), None, math.nan, math.nan, item))
        else:  # pragma: no cover - normalize_items guarantees the types
            raise TypeError(type(item))
    commit = pb.Record(
        wall_time=now, writer_id=writer_id, seq=seq, commit=pb.Commit(record_count=len(out))
    )
    out.append(EncodedRecord(commit.SerializeToString(), None, math.nan, math.nan))
    return out


def header_payload(log_id: bytes, generation: int) -> bytes:
    """The first record of a log."""
    rec = pb.Record(
        wall_time=time.time(),
        header=pb.Header(format_version=FORMAT_VERSION, log_id=log_id, generation=generation),
    )
    return rec.SerializeToString()
