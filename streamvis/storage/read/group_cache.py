"""Decoded columns of the groups that range reads touch, kept and extended in memory.

A plot of a 10M-point line is read again at every zoom and pan. Decoding the whole
group each time costs ~100 ms; slicing cached columns (by binary search when x is
sorted, as it is for steps) and decimating costs a few ms. When records are appended
only the new ones are decoded. The cache is bounded in bytes (least recently used
groups are dropped) and keyed by log generation, so compaction never serves stale data.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from streamvis.storage.backend import LogBackend
from streamvis.storage.format.records import x_column
from streamvis.storage.format.state import Entry
from streamvis.storage.read.decimate import is_sorted
from streamvis.storage.read.reading import GroupPlan, read_groups

__all__ = ["CachedGroup", "GroupCache"]


@dataclass
class CachedGroup:
    columns: dict[str, np.ndarray]  # capacity >= length
    length: int
    entries: int  # how many of the group's entries are decoded
    last: Entry | None  # the last decoded entry, to detect a rewritten log
    x_sorted: bool

    def view(self) -> dict[str, np.ndarray]:
        return {c: a[: self.length] for c, a in self.columns.items()}

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.columns.values())


class GroupCache:
    """LRU of decoded groups, at most ``max_bytes`` of column data."""

    def __init__(self, max_bytes: int = 512 << 20) -> None:
        self.max_bytes = max_bytes
        self._groups: OrderedDict[tuple, CachedGroup] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the cached columns (their capacity)."""
        return self._bytes

    def has(self, key: tuple) -> bool:
        return key in self._groups

    def columns(
        self, backend: LogBackend, key: tuple, schema: dict[str, str], entries: list[Entry]
    ) -> tuple[dict[str, np.ndarray], bool]:
        """The group's columns (read-only views) and whether x is sorted."""
        return self.columns_many(backend, [(key, schema, entries)])[0]

    def columns_many(
        self,
        backend: LogBackend,
        groups: list[tuple[tuple, dict[str, str], list[Entry]]],
    ) -> list[tuple[dict[str, np.ndarray], bool]]:
        """``columns`` of many groups; the records of all that need decoding are read
        in one pass (adjacent records coalesced), not one read per group."""
        found: list[CachedGroup] = []
        todo: list[tuple[CachedGroup, dict[str, str], list[Entry]]] = []
        for key, schema, entries in groups:
            cached = self._groups.pop(key, None)
            if cached is not None:
                self._bytes -= cached.nbytes
                n = cached.entries
                if n > len(entries) or (n and entries[n - 1] != cached.last):
                    cached = None  # the log was rewritten under us: start over
            if cached is None:
                cached = CachedGroup(
                    {c: np.empty(0, np.dtype(d)) for c, d in schema.items()}, 0, 0, None, True
                )
            if cached.entries < len(entries):
                todo.append((cached, schema, entries))
            self._groups[key] = cached
            self._bytes += cached.nbytes
            found.append(cached)
        if todo:
            plans = [
                GroupPlan("", "", k, schema, entries[c.entries :])
                for k, (c, schema, entries) in enumerate(todo)
            ]
            fresh = read_groups(backend, plans)
            for k, (cached, schema, entries) in enumerate(todo):
                self._bytes -= cached.nbytes
                self._extend(cached, schema, entries, fresh[("", "", k)])
                self._bytes += cached.nbytes
        out = [(c.view(), c.x_sorted) for c in found]  # views outlive an eviction
        while self._bytes > self.max_bytes and len(self._groups) > 1:
            _, dropped = self._groups.popitem(last=False)
            self._bytes -= dropped.nbytes
        return out

    @staticmethod
    def _extend(
        cached: CachedGroup,
        schema: dict[str, str],
        entries: list[Entry],
        fresh: dict[str, np.ndarray],
    ) -> None:
        add = len(next(iter(fresh.values())))
        need = cached.length + add
        xcol = x_column(schema)
        x_new = fresh[xcol]
        old_x = cached.columns[xcol][: cached.length]
        cached.x_sorted = bool(
            cached.x_sorted
            and is_sorted(x_new)
            and (old_x.size == 0 or x_new.size == 0 or x_new[0] >= old_x[-1])
        )
        capacity = next(iter(cached.columns.values())).size
        if cached.length == 0 and capacity == 0:
            cached.columns = dict(fresh)  # first fill: take the decoded arrays as they are
        else:
            if need > capacity:
                grown = max(need, 2 * capacity)
                for c, a in cached.columns.items():
                    bigger = np.empty(grown, a.dtype)
                    bigger[: cached.length] = a[: cached.length]
                    cached.columns[c] = bigger
            for c, a in fresh.items():
                cached.columns[c][cached.length : need] = a
        cached.length = need
        cached.entries = len(entries)
        cached.last = entries[-1]

    def clear(self) -> None:
        self._groups.clear()
        self._bytes = 0
