"""Many groups' columns at once, concatenated, for computations over every group.

A read that gives one Arrow table per (scope, name) costs tens of microseconds per
group in Python (a table, an ``index`` column, a few small arrays): at 50,000 groups
that is seconds before any point is looked at. ``read_group_columns`` decodes the
wanted columns of many groups into one array per column instead, with each group's
rows at ``offsets[k]:offsets[k + 1]``, so what is computed over them runs once per
chunk of groups (``np.*.reduceat``), not once per group.

Groups go in chunks of at most ``chunk_points`` rows (a larger group alone): what a
read holds is one chunk, whatever the size of the log. The columns come as float64
(what the computations over them use), converted record by record while it is in cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa

from streamvis.errors import CorruptDataError, InvalidArgumentError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.codec import decode_column
from streamvis.storage.format.state import Entry, LogState, NameState
from streamvis.storage.read.reading import decode_records

__all__ = ["CHUNK_POINTS", "ColumnsBuilder", "ColumnsRead", "GroupColumns", "plan_group_columns",
           "plan_new_columns", "read_group_columns"]

CHUNK_POINTS = 1 << 22  # rows of one chunk: 4M points, 32 MiB per float64 column


@dataclass
class GroupColumns:
    """Columns of many (scope, name) groups, concatenated: group ``keys[k]`` has rows
    ``offsets[k]:offsets[k + 1]`` of every column (its indices in order, each index's
    records in log order: the rows of a ``read``'s table)."""

    keys: list[tuple[str, str]]
    offsets: np.ndarray  # int64, len(keys) + 1
    columns: dict[str, np.ndarray]

    @property
    def counts(self) -> np.ndarray:
        """Rows per group."""
        return np.diff(self.offsets)

    @classmethod
    def from_tables(cls, tables: Mapping[tuple[str, str], pa.Table],
                    columns: Sequence[str]) -> GroupColumns:
        """The same from a ``read``'s tables (a data server's answer); a column whose
        tables' dtypes differ is concatenated as float64."""
        keys = [k for k, t in tables.items() if t.num_rows]
        for k in keys:
            _check_columns(k, tables[k].column_names, columns)
        counts = np.fromiter((tables[k].num_rows for k in keys), np.int64, len(keys))
        offsets = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        out = {}
        for c in columns:
            parts = [tables[k].column(c).to_numpy() for k in keys]
            if not parts:
                out[c] = np.empty(0, np.float64)
            elif len({p.dtype for p in parts}) == 1:
                out[c] = np.concatenate(parts)
            else:
                out[c] = np.concatenate([p.astype(np.float64, copy=False) for p in parts])
        return cls(keys, offsets, out)


T = TypeVar("T")


@dataclass
class ColumnsRead(Generic[T]):
    """What a many-groups read returns: what was computed over each chunk, the cursor of
    the state read, and the tombstones passed since the cursor read after (if any)."""

    results: list[T]
    cursor: str
    deleted: list[tuple[str, str | None]] = field(default_factory=list)


def _check_columns(key: tuple[str, str], have: Sequence[str], want: Sequence[str]) -> None:
    if any(c not in have for c in want):
        scope, name = key
        raise InvalidArgumentError(
            f"{name!r} of run {scope!r} has columns {', '.join(c for c in have if c != 'index')}: "
            f"this read needs {', '.join(repr(c) for c in want)}")


def plan_group_columns(state: LogState, match_scope: Callable[[str], bool],
                       match_name: Callable[[str], bool], columns: Sequence[str]
                       ) -> list[tuple[tuple[str, str], list[Entry]]]:
    """The matching (scope, name)s with points and their records (indices in order, each
    index's records in log order), for ``read_group_columns``; InvalidArgumentError naming
    a group that lacks one of ``columns``. Taken under the log's lock: the lists are copies."""
    out: list[tuple[tuple[str, str], list[Entry]]] = []
    checked: set[tuple[str, ...]] = set()  # the column lists seen (a log has few)
    for scope, st in list(state.scopes.items()):
        if not match_scope(scope):
            continue
        for name, ns in st.names.items():
            if not match_name(name) or not ns.groups:
                continue
            have = tuple(ns.schema)
            if have not in checked:
                _check_columns((scope, name), have, columns)
                checked.add(have)
            groups = list(ns.groups.values())
            entries = (list(groups[0].entries) if len(groups) == 1
                       else [e for g in groups for e in g.entries])
            if entries:
                out.append(((scope, name), entries))
    return out


def plan_new_columns(groups: Sequence[tuple[str, str, int, NameState, list[Entry]]],
                     columns: Sequence[str]) -> list[tuple[tuple[str, str], list[Entry]]]:
    """``plan_group_columns`` for the records past a cursor (``since_index``: per group,
    (scope, name, index, name state, records), a name's indices one after another)."""
    out: list[tuple[tuple[str, str], list[Entry]]] = []
    checked: set[tuple[str, ...]] = set()
    for scope, name, _, ns, entries in groups:
        key = (scope, name)
        if out and out[-1][0] == key:
            out[-1][1].extend(entries)
            continue
        have = tuple(ns.schema)
        if have not in checked:
            _check_columns(key, have, columns)
            checked.add(have)
        out.append((key, list(entries)))
    return out


def read_group_columns(backend: LogBackend, groups: Sequence[tuple[tuple[str, str], list[Entry]]],
                       columns: Sequence[str], chunk_points: int = CHUNK_POINTS
                       ) -> Iterator[GroupColumns]:
    """``columns`` of ``groups`` (``plan_group_columns``) as float64, in chunks of whole
    groups, each chunk decoded straight into its arrays (converted on the way; a record's
    other columns are skipped)."""
    chunk: list[tuple[tuple[str, str], list[Entry]]] = []
    rows = 0
    for g in groups:
        n = sum(e.count for e in g[1])
        if chunk and rows + n > chunk_points:
            yield _read_chunk(backend, chunk, columns)
            chunk, rows = [], 0
        chunk.append(g)
        rows += n
    if chunk:
        yield _read_chunk(backend, chunk, columns)


def _read_chunk(backend: LogBackend, groups: list[tuple[tuple[str, str], list[Entry]]],
                columns: Sequence[str]) -> GroupColumns:
    flat = [e for _, entries in groups for e in entries]
    counts = np.fromiter((e.count for e in flat), np.int64, len(flat))
    starts = np.zeros(len(flat) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    cols = {c: np.empty(int(starts[-1]), np.float64) for c in columns}
    decode_records(backend, flat, [(cols, s) for s in starts[:-1].tolist()], convert=True)
    per_group = np.fromiter((len(entries) for _, entries in groups), np.int64, len(groups))
    first_record = np.zeros(len(groups) + 1, np.int64)
    np.cumsum(per_group, out=first_record[1:])
    return GroupColumns([k for k, _ in groups], starts[first_record], cols)


class ColumnsBuilder:
    """Collects ``columns`` of scanned records (``tail_reading.scan_between``) per
    (scope, name), index by index, and builds one ``GroupColumns`` of them, its rows in
    the order of a ``read``'s tables: what came after a cursor, without a table per group."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._groups: dict[tuple[str, str], dict[int, list[dict[str, np.ndarray]]]] = {}
        self._schemas: dict[tuple[str, str], tuple[tuple[str, int], ...]] = {}
        self._checked: set[tuple[tuple[str, int], ...]] = set()

    def add_record(self, body: pb.Points, where: str = "") -> None:
        key = (body.scope, body.name)
        columns = body.columns
        schema = tuple((c.name, c.dtype) for c in columns)
        if self._schemas.setdefault(key, schema) != schema:
            return  # lost a schema race (object stores): the first schema in log order wins
        if schema not in self._checked:
            _check_columns(key, [c for c, _ in schema], self.columns)
            self._checked.add(schema)
        count = body.count
        got = {}
        try:
            for c in columns:
                if c.name in self.columns:
                    if c.length != count:
                        raise ValueError(f"column {c.name!r} of {c.length} values, count {count}")
                    got[c.name] = decode_column(c)
        except ValueError as exc:
            raise CorruptDataError(f"points record {where} does not decode: {exc}") from None
        self._groups.setdefault(key, {}).setdefault(body.index, []).append(got)

    def drop(self, scope: str, name: str | None) -> None:
        """Forget what a tombstone covers."""
        for key in [k for k in self._groups if k[0] == scope and name in (None, k[1])]:
            del self._groups[key]
            del self._schemas[key]

    def build(self) -> GroupColumns:
        keys, counts = [], []
        parts: dict[str, list[np.ndarray]] = {c: [] for c in self.columns}
        for key, by_index in self._groups.items():
            n = 0
            for records in by_index.values():
                for r in records:
                    for c in self.columns:
                        parts[c].append(r[c])
                    n += len(r[self.columns[0]])
            keys.append(key)
            counts.append(n)
        offsets = np.zeros(len(keys) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        cols = {c: np.concatenate(p).astype(np.float64, copy=False) if p else np.empty(0)
                for c, p in parts.items()}
        return GroupColumns(keys, offsets, cols)
