"""From queued writes to storage batches, and the bounded outbox of batches.

``build_items`` turns the records drained from the write queue into storage items
(``Points`` per group, ``ConfigUpdate``, ``Deletion``) in queue order; each column
of each name goes to the host once (``column_to_host``). ``split_batches`` cuts the
items into batches below a byte size (one batch = one ``append`` with one sequence
number). ``Outbox`` keeps batches until delivered, dropping the oldest past its bound.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import countOf, eq, itemgetter
from typing import Any

import numpy as np

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.logger.images import PendingImage
from streamvis.logger.packed import Packing, packing_of, unpack_record
from streamvis.logger.tensors import column_to_host
from streamvis.storage.format.model import ConfigUpdate, Deletion, Image, Item, Points, Text

__all__ = ["Record", "Control", "build_items", "split_batches", "Batch", "Outbox"]


# One write: (name, start_index, I, P, {column: snapshot}, wall_time). Two shorter
# forms carry one point at index 0 whose values are all Python numbers (loss.item(),
# the step): the fast path's (name, packed) (packed.py: the values in schema order and
# the wall time, packed by struct), and the full method's (name, {column: number},
# wall_time). ``wall_time`` is the call's ``time.time()`` (or the caller's number); a
# caller's per-point wall times are a column of the full form.
Record = tuple[str, int, int, int, dict[str, Any], float]
_NAME, _START, _NI, _NP, _COLUMNS, _WALL = (
    itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3), itemgetter(4), itemgetter(5))
_SCALAR_COLUMNS, _SCALAR_WALL, _PACKED = itemgetter(1), itemgetter(2), itemgetter(1)
_F8 = np.dtype("<f8")


@dataclass(frozen=True)
class Control:
    """A queued config update, deletion, image or text (kept in order with the writes);
    an image is encoded when drained (``PendingImage.to_item``, on the flush thread)."""

    item: ConfigUpdate | Deletion | PendingImage | Text


def build_items(
    scope: str,
    queued: Iterable[Record | Control],
    dtypes: dict[str, dict[str, np.dtype]],
    on_error: Callable[[str, int, BaseException], None] | None = None,
    no_wall_time: set[str] | frozenset[str] = frozenset(),
) -> list[Item]:
    """Storage items for drained queue entries, in queue order between controls. Every
    name gets a ``wall_time`` column (float64 seconds) except those in ``no_wall_time``.

    A name whose values cannot be copied to the host (a deleted jax buffer, say) is
    left out and reported to ``on_error(name, points, exc)``; other names go on."""
    items: list[Item] = []
    by_name: dict[str, list[Record]] = {}

    def emit() -> None:
        for name, recs in by_name.items():
            try:
                items.extend(points_of(scope, name, recs, dtypes[name],
                                       wall_time=name not in no_wall_time))
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(name, _count(recs), exc)
        by_name.clear()

    if not isinstance(queued, list):
        queued = list(queued)
    if not queued:
        return items
    try:  # most flushes hold no Control: then _by_name meets only tuples
        groups = _by_name(queued)  # type: ignore[arg-type]
    except TypeError:  # a Control is not subscriptable: split at each, below
        pass
    else:
        by_name.update(groups)
        emit()
        return items
    # Controls are rare: find them with C-level searches, group the writes between
    # them by name (most of a flush is one run of writes of a few names)
    kinds = list(map(type, queued))
    start, end = 0, len(queued)
    while start < end:
        try:
            stop = kinds.index(Control, start)
        except ValueError:
            stop = end
        if stop > start:
            by_name.update(_by_name(queued[start:stop]))  # type: ignore[arg-type]
            emit()
        if stop < end:
            item = queued[stop].item  # type: ignore[union-attr]
            if isinstance(item, PendingImage):
                item = item.to_item()  # None: dropped (it warned)
            if item is not None:
                items.append(item)
        start = stop + 1
    return items


def _by_name(recs: list[Record]) -> dict[str, list[Record]]:
    """Records grouped by name, names in order of first appearance. A few names are
    picked out with C-level passes (one per name); many with one Python loop.
    TypeError when ``recs`` holds a Control."""
    first = recs[0][0]
    if countOf(map(_NAME, recs), first) == len(recs):
        return {first: recs}
    names = list(map(_NAME, recs))
    order = dict.fromkeys(names)
    if len(order) <= 4:
        return {n: list(compress(recs, map(eq, names, repeat(n)))) for n in order}
    out: dict[str, list[Record]] = {n: [] for n in order}
    for r in recs:
        out[r[0]].append(r)
    return out


def _packed_rows(recs: list[Any], packing: Packing) -> np.ndarray | None:
    """Scalar records, packed (the fast path's) or dicts (a name's first write takes
    the full method), as one array of ``packing``'s rows; None when a full record is
    among them or a value does not pack (the general path takes those). Each pass is
    C-level: the lengths (only packed records are 2-tuples), the copy of every packed
    row into one array (``np.fromiter`` into fixed-width bytes: a ``bytes.join`` of
    1M rows allocates 80 MB of buffer views), the few dicts packed one by one."""
    n = len(recs)
    parts: Any = map(_PACKED, recs)
    if countOf(map(len, recs), 2) != n:
        lens = np.fromiter(map(len, recs), dtype=np.int64, count=n)
        others = np.flatnonzero(lens != 2)
        if np.any(lens[others] != 3):
            return None
        parts = list(parts)
        pack, columns = packing.pack, packing.columns
        for i in others.tolist():
            r = recs[i]
            try:
                parts[i] = pack(*map(r[1].__getitem__, columns), r[2])
            except (KeyError, TypeError, struct.error):
                return None
    return np.fromiter(parts, dtype=packing.row_bytes, count=n).view(packing.record_dtype)


def _full_record(rec: Any, packing: Packing | None) -> Record:
    """Any queued write in the full form (name, start_index, I, P, columns, wall)."""
    if len(rec) == 6:
        return rec  # type: ignore[no-any-return]
    if len(rec) == 3:
        return (rec[0], 0, 1, 1, rec[1], rec[2])
    assert packing is not None, "only the fast path packs, and only names with a packing"
    columns, wall = unpack_record(packing, rec[1])
    return (rec[0], 0, 1, 1, columns, wall)


def _count(recs: list[Any]) -> int:
    return sum(r[2] * r[3] if len(r) == 6 else 1 for r in recs)


def points_of(
    scope: str, name: str, recs: list[Any], schema: dict[str, np.dtype], wall_time: bool = True
) -> list[Points]:
    """The Points of one name's records, converted with the name's schema dtypes, with
    the records' wall times as a ``wall_time`` column (unless ``wall_time`` is False)."""
    n = len(recs)
    packing = packing_of(schema)
    if packing is not None and len(recs[0]) != 6:  # scalar writes, packed or not?
        rows = _packed_rows(recs, packing)
        if rows is not None:
            return [Points(scope, name, 0, packing.columns_of(rows, wall_time))]
    if len(recs[0]) == 3:  # scalar records only? (index 0, one point each, Python numbers)
        cols = list(map(_SCALAR_COLUMNS, recs))
        try:  # a full record's item 1 is its start index: not subscriptable
            out = {col: np.fromiter(map(itemgetter(col), cols), dtype=dt, count=n)
                   for col, dt in schema.items()}
        except (TypeError, KeyError):
            pass  # a mix (or a bad record): the general path below
        else:
            if wall_time:
                out[WALL_TIME_COLUMN] = np.fromiter(map(_SCALAR_WALL, recs), dtype=_F8, count=n)
            return [Points(scope, name, 0, out)]
    if set(map(len, recs)) != {6}:
        recs = [_full_record(r, packing) for r in recs]
    idx = np.fromiter(map(_START, recs), dtype=np.int64, count=n)
    ni = np.fromiter(map(_NI, recs), dtype=np.int64, count=n)
    npt = np.fromiter(map(_NP, recs), dtype=np.int64, count=n)
    single = bool(ni.max() == 1 and npt.max() == 1)
    if single:
        shapes = [(1, 1)] * n
    else:
        shapes = list(zip(ni.tolist(), npt.tolist(), strict=True))
        # row j of record r is index start_r + j, repeated for its P_r points
        row_start = np.repeat(idx, ni)
        offset = np.arange(int(ni.sum()), dtype=np.int64) - np.repeat(np.cumsum(ni) - ni, ni)
        idx = np.repeat(row_start + offset, np.repeat(npt, ni))
    if idx.size == 0:
        return []
    cols = list(map(_COLUMNS, recs))
    host = {
        col: column_to_host(list(map(itemgetter(col), cols)), shapes, dt, single)
        for col, dt in schema.items()
    }
    if wall_time:
        # the call's time for each of its points, or the caller's per-point times
        walls = [c.get(WALL_TIME_COLUMN, w) for c, w in zip(cols, map(_WALL, recs), strict=True)]
        host[WALL_TIME_COLUMN] = column_to_host(walls, shapes, _F8, single)
    lo, hi = int(idx.min()), int(idx.max())
    if lo == hi:
        return [Points(scope, name, lo, host)]
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    cut = np.flatnonzero(np.diff(sidx)) + 1
    bounds = zip(np.concatenate([[0], cut]), np.concatenate([cut, [sidx.size]]), strict=True)
    sorted_cols = {c: a[order] for c, a in host.items()}
    return [
        Points(scope, name, int(sidx[s]), {c: a[s:e] for c, a in sorted_cols.items()})
        for s, e in bounds
    ]


def item_nbytes(item: Item) -> int:
    """Approximate payload bytes of one item."""
    if isinstance(item, Points):
        return sum(a.nbytes for a in item.columns.values()) + 64
    if isinstance(item, Image):
        return len(item.png) + 256
    if isinstance(item, Text):
        return len(item.text) + 256
    return 256


def item_points(item: Item) -> int:
    """Number of points an item carries (0 for configs and deletions)."""
    if isinstance(item, Points):
        return len(next(iter(item.columns.values())))
    return 0


def split_batches(items: Sequence[Item], max_bytes: int) -> list[list[Item]]:
    """Items in batches of at most ``max_bytes`` (large Points are cut by rows).

    A ``Deletion`` ends its batch, so points written after it are never part of the
    commit that carries the tombstone."""
    batches: list[list[Item]] = []
    cur: list[Item] = []
    size = 0
    for item in items:
        pieces: list[Item] = [item]
        nb = item_nbytes(item)
        if isinstance(item, Points) and nb > max_bytes:
            n = item_points(item)
            row_bytes = max(1, (nb - 64) // max(1, n))
            step = max(1, max_bytes // row_bytes)
            pieces = [
                Points(item.scope, item.name, item.index,
                       {c: a[s:s + step] for c, a in item.columns.items()})
                for s in range(0, n, step)
            ]
        for piece in pieces:
            pb = item_nbytes(piece)
            if cur and size + pb > max_bytes:
                batches.append(cur)
                cur, size = [], 0
            cur.append(piece)
            size += pb
        if isinstance(item, Deletion) and cur:
            # a tombstone ends its batch: what follows must not share its commit
            batches.append(cur)
            cur, size = [], 0
    if cur:
        batches.append(cur)
    return batches


@dataclass
class Batch:
    """One append: its sequence number, items, and counts."""

    seq: int
    items: list[Item]
    nbytes: int = 0
    points: int = 0
    attempts: int = 0


@dataclass
class Outbox:
    """Batches awaiting delivery, oldest first, bounded in bytes (oldest dropped).

    The delivery thread owns it; other threads read only its counters (``nbytes``,
    ``points``), which are kept as ints so a reader never iterates the deque while the
    owner changes it."""

    max_bytes: int
    batches: collections.deque[Batch] = field(default_factory=collections.deque)
    nbytes: int = 0
    points: int = 0
    dropped_batches: int = 0
    dropped_points: int = 0

    def push(self, seq: int, items: list[Item]) -> Batch:
        """Queue a batch; returns it."""
        b = Batch(seq, items, sum(map(item_nbytes, items)), sum(map(item_points, items)))
        self.batches.append(b)
        self.nbytes += b.nbytes
        self.points += b.points
        return b

    def pop(self) -> Batch:
        """Remove the oldest batch (after delivery)."""
        b = self.batches.popleft()
        self.nbytes -= b.nbytes
        self.points -= b.points
        return b

    def take_all(self) -> list[Batch]:
        """Empty the outbox; returns its batches, oldest first (to renumber them)."""
        rest = list(self.batches)
        self.batches.clear()
        self.nbytes = 0
        self.points = 0
        return rest

    def enforce(self, extra: int = 0) -> int:
        """Drop oldest batches until within the bound; returns points dropped now."""
        dropped = 0
        while self.batches and self.nbytes + extra > self.max_bytes and len(self.batches) > 1:
            b = self.pop()
            self.dropped_batches += 1
            self.dropped_points += b.points
            dropped += b.points
        return dropped
