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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.state import Entry
from streamvis.storage.read.reading import GroupPlan, decode_records

__all__ = ["CHUNK_POINTS", "GroupColumns", "read_group_columns"]

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


def _check_columns(key: tuple[str, str], have: Sequence[str], want: Sequence[str]) -> None:
    if any(c not in have for c in want):
        scope, name = key
        raise InvalidArgumentError(
            f"{name!r} of run {scope!r} has columns {', '.join(c for c in have if c != 'index')}: "
            f"this read needs {', '.join(repr(c) for c in want)}")


def read_group_columns(backend: LogBackend, plans: Sequence[GroupPlan], columns: Sequence[str],
                       chunk_points: int = CHUNK_POINTS) -> Iterator[GroupColumns]:
    """``columns`` of the planned groups as float64, in chunks of whole (scope, name)
    groups, each chunk decoded straight into its arrays (converted on the way; a record's
    other columns are skipped). Plans of one (scope, name) must be adjacent (as
    ``LogState.iter_groups`` gives them)."""
    groups: list[tuple[tuple[str, str], list[Entry]]] = []
    checked: set[tuple[str, ...]] = set()  # the column lists seen (a log has few)
    for p in plans:
        key = (p.scope, p.name)
        have = tuple(p.schema)
        if have not in checked:
            _check_columns(key, have, columns)
            checked.add(have)
        if not p.entries:
            continue
        if not groups or groups[-1][0] != key:
            groups.append((key, []))
        groups[-1][1].extend(p.entries)
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
