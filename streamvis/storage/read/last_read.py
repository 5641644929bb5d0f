"""The last read since a cursor, kept to answer a narrower read of the same span.

A page's poll reads the new points of its plots' names since its cursor; right after,
the aggregate books of its grouped plots (``run_analysis.AggregateBook``) ask for one of
those names since the same cursor (the book refreshed after the previous poll, so it
stopped where the page did). Where nothing was appended in between (the log's end is
where the last read stopped), that answer is part of the last one: the name's tables
and tombstones, taken from it without reading and decoding the log again. A page reads
its polls as arrays (``ArraysRead``), so its books ask in that form (``answer_arrays``).
"""

from __future__ import annotations

from dataclasses import dataclass

from streamvis.patterns import matcher
from streamvis.storage.format.model import ArraysRead, ReadResult

__all__ = ["LastRead"]


@dataclass(frozen=True)
class _Read:
    since: str
    scope_pattern: str | None
    name: str | None
    name_pattern: str | None
    result: ReadResult | ArraysRead


class LastRead:
    """The last ``read(since=...)`` over every scope (one; thread-safe by replacement)."""

    def __init__(self) -> None:
        self._last: _Read | None = None
        self.hits = 0  # reads answered from the last one

    def remember(self, since: str | None, scope: str | None, scope_pattern: str | None,
                 name: str | None, name_pattern: str | None, result: ReadResult | ArraysRead) -> None:
        """Keep a read's answer (only reads since a cursor over scopes by pattern)."""
        if since is not None and scope is None:
            self._last = _Read(since, scope_pattern, name, name_pattern, result)

    def answer(self, since: str, scope_pattern: str | None, name: str, end: str) -> ReadResult | None:
        """The points of ``name`` since ``since`` where the last read covers them and the
        log's end is still ``end`` (its cursor now); None: read the log."""
        r = self._covering(since, scope_pattern, name, end)
        if not isinstance(r, ReadResult):
            return None
        self.hits += 1
        return ReadResult({k: t for k, t in r.tables.items() if k[1] == name}, r.cursor,
                          [(s, n) for s, n in r.deleted if n is None or n == name])

    def answer_arrays(self, since: str, scope_pattern: str | None, name: str, end: str) -> ArraysRead | None:
        """``answer`` where the last read was into arrays."""
        r = self._covering(since, scope_pattern, name, end)
        if not isinstance(r, ArraysRead):
            return None
        self.hits += 1
        return ArraysRead({k: c for k, c in r.groups.items() if k[1] == name}, r.cursor,
                          [(s, n) for s, n in r.deleted if n is None or n == name])

    def _covering(self, since: str, scope_pattern: str | None, name: str, end: str
                  ) -> ReadResult | ArraysRead | None:
        last = self._last
        if last is None or last.since != since or last.scope_pattern != scope_pattern:
            return None
        if last.result.cursor != end:
            return None  # appended since: the last read is not all there is
        covered = last.name == name if last.name is not None else matcher(last.name_pattern)(name)
        return last.result if covered else None
