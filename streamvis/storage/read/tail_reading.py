"""Reading what was appended after a cursor: the log's records scanned in order from
the cursor's positions (``format.scan``), the matching points collected per
(scope, name) and index, tombstones passed on the way dropping what they cover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa

from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LogBackend
from streamvis.storage.read.reading import arrow_table, decode_points, index_column

__all__ = ["RecordSink", "TableBuilder", "read_between", "scan_between"]


@dataclass
class _NameParts:
    schema: list[str]
    dtypes: dict[str, np.dtype]
    by_index: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)


class TableBuilder:
    """Collects decoded records per (scope, name) and builds one table for each."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], _NameParts] = {}

    def add(self, scope: str, name: str, index: int, columns: dict[str, np.ndarray]) -> None:
        parts = self._names.get((scope, name))
        if parts is None:
            parts = self._names[(scope, name)] = _NameParts(
                list(columns), {c: a.dtype for c, a in columns.items()}
            )
        elif {c: a.dtype for c, a in columns.items()} != parts.dtypes:
            return  # lost a schema race (object stores): the first schema in log order wins
        parts.by_index.setdefault(index, []).append(columns)

    def add_record(self, body: pb.Points, where: str = "") -> None:
        self.add(body.scope, body.name, body.index, decode_points(body, where))

    def drop(self, scope: str, name: str | None) -> None:
        """Forget collected data a tombstone covers."""
        for key in [k for k in self._names if k[0] == scope and (name is None or k[1] == name)]:
            del self._names[key]

    def build(self) -> dict[tuple[str, str], pa.Table]:
        tables = {}
        for key, parts in self._names.items():
            counts = []
            indices = []
            per_col: dict[str, list[np.ndarray]] = {c: [] for c in parts.schema}
            for index, chunks in parts.by_index.items():
                n = 0
                for cols in chunks:
                    for c in parts.schema:
                        per_col[c].append(cols[c])
                    n += len(cols[parts.schema[0]])
                indices.append(index)
                counts.append(n)
            data: dict[str, np.ndarray | pa.Array] = {"index": index_column(indices, counts)}
            for c, arrays in per_col.items():
                data[c] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            tables[key] = arrow_table(data)
        return tables


class RecordSink(Protocol):
    """What ``scan_between`` feeds: points records, and tombstones to forget by."""

    def add_record(self, body: pb.Points, where: str = "") -> None: ...

    def drop(self, scope: str, name: str | None) -> None: ...


def read_between(
    backend: LogBackend,
    start: dict[str, int],
    end: dict[str, int],
    match_scope: Callable[[str], bool],
    match_name: Callable[[str], bool],
    skip_damaged: bool = False,
) -> tuple[dict[tuple[str, str], pa.Table], list[tuple[str, str | None]]]:
    """Tables of the points appended between two cursors' positions, and the tombstones
    passed on the way (data a tombstone covers is dropped from the tables)."""
    builder = TableBuilder()
    deleted = scan_between(backend, start, end, match_scope, match_name, builder, skip_damaged)
    return builder.build(), deleted


def scan_between(
    backend: LogBackend,
    start: dict[str, int],
    end: dict[str, int],
    match_scope: Callable[[str], bool],
    match_name: Callable[[str], bool],
    builder: RecordSink,
    skip_damaged: bool = False,
) -> list[tuple[str, str | None]]:
    """Feed ``builder`` the matching points records appended between two cursors'
    positions (tombstones as ``drop``s); the tombstones passed. Batches the backend's
    ``batch_filter`` refuses (object stores' bases) are skipped."""
    from streamvis.storage.format.scan import (  # scan imports backend only
        ScannedRecord,
        scan_chunks,
    )

    deleted: list[tuple[str, str | None]] = []

    keep = backend.batch_filter(start, end)

    def on_batch(batch: list[ScannedRecord]) -> None:
        commit = batch[-1].record
        if keep is not None and not keep(commit.writer_id, commit.seq):
            return
        for r in batch[:-1]:
            kind = r.record.WhichOneof("body")
            if kind == "points":
                body = r.record.points
                if match_scope(body.scope) and match_name(body.name):
                    builder.add_record(body, f"at offset {r.offset}")
            elif kind == "delete":
                d = r.record.delete
                if match_scope(d.scope) and (not d.name or match_name(d.name)):
                    builder.drop(d.scope, d.name or None)
                    deleted.append((d.scope, d.name or None))

    positions = dict(start)
    scan_chunks(
        backend.chunks_between(start, end),
        on_batch,
        lambda k, e: backend.advance(positions, k, e),
        skip_damaged=skip_damaged,
    )
    return deleted
