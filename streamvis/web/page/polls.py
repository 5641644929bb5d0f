"""What a session's worker reads: polls of new points, and plots joining a live page.

A session follows the log from one cursor with one name pattern (its plots' names).
Plots that join later (the page of every name draws a card once it is scrolled to)
must start from the same state as the others, or points between two cursors would be
drawn twice or never: ``join`` fetches the session's names since its cursor and takes
a snapshot of the new plots' names until both land on the same cursor (a few
milliseconds apart, so at once unless a flush fell between them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from streamvis.gc_pause import collector_paused
from streamvis.run_analysis import ArraysReader
from streamvis.source import DataSource
from streamvis.storage import ArraysRead, GroupSnapshot
from streamvis.storage.read.reading import split_by_index

from ..plots.plot_view import Key

__all__ = ["Poll", "Joined", "split_table", "fetch_groups", "is_object_store", "join", "JOIN_TRIES"]

JOIN_TRIES = 5  # fetch + snapshot rounds before a join waits for the next tick


@dataclass
class Poll:
    """What a worker read: new points per group, tombstones, the new cursor."""

    cursor: str
    groups: list[tuple[Key, dict[str, np.ndarray]]]
    deleted: list[tuple[str, str | None]]
    reset: bool = False
    configured: set[str] = field(default_factory=set)  # scopes whose config came late


@dataclass
class Joined:
    """A join's reads: the session's polls meanwhile, and the new plots' snapshot at
    the last poll's cursor (None: not aligned yet, or the log was reset)."""

    polls: list[Poll]
    snapshot: GroupSnapshot | None


def is_object_store(source: DataSource) -> bool:
    """A log on gs:// or s3:// (where every poll is a billed listing)."""
    store = getattr(source, "store", None)
    url = str(getattr(getattr(store, "backend", None), "url", ""))
    return url.startswith(("gs://", "s3://", "gcs://"))


def split_table(scope: str, name: str, table: pa.Table) -> list[tuple[Key, dict[str, np.ndarray]]]:
    """Split a read table (an 'index' column, rows grouped by index) into groups."""
    return [((scope, name, i), cols) for i, cols in split_by_index(table)]


def fetch_groups(source: DataSource, since: str, scope_pattern: str | None,
                 name_pattern: str | None) -> ArraysRead:
    """(In a worker.) A poll's new points per (scope, name, index): read into arrays
    where the source can (a local log: no table per run, ~3x cheaper at 1,000 runs; the
    collector held off meanwhile, ``gc_pause``), else ``fetch``'s tables split by index."""
    if isinstance(source, ArraysReader):
        with collector_paused():
            return source.fetch_arrays(since, scope_pattern=scope_pattern, name_pattern=name_pattern)
    r = source.fetch(scope_pattern=scope_pattern, name_pattern=name_pattern, since=since)
    return ArraysRead({k: c for (s, n), t in r.tables.items() for k, c in split_table(s, n, t)},
                      r.cursor, r.deleted)


def join(
    cursor: str | None,
    fetch: Callable[[str], Poll],
    snapshot: Callable[[], GroupSnapshot],
) -> Joined:
    """(In a worker.) Bring new plots to the session's state: poll the session's names
    from ``cursor`` (None: the session has no plots yet) and snapshot the new plots'
    names until both are at one cursor."""
    polls: list[Poll] = []
    for _ in range(JOIN_TRIES):
        if cursor is None:
            return Joined(polls, snapshot())
        poll = fetch(cursor)
        polls.append(poll)
        if poll.reset:
            return Joined(polls, None)
        snap = snapshot()
        if snap.cursor == poll.cursor:
            return Joined(polls, snap)
        cursor = poll.cursor
    return Joined(polls, None)
