"""The in-memory index: what the log holds right now, built by applying records.

``LogState`` is derived from the log and nothing else: applying the log's committed
records in order always gives the same state, which is why the sidecar index file
(a snapshot of this state) can be thrown away and rebuilt at any time.
"""

from __future__ import annotations

import bisect
import json
import math
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from streamvis.errors import NotFoundError, SchemaMismatchError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.format.codec import dtype_name
from streamvis.storage.format.media import MediaEntry, MediaName

__all__ = ["Entry", "EntryRange", "GroupEntries", "NameState", "ScopeState", "LogState", "ROW_DTYPE"]

_DTYPE_OF_CODE = {
    pb.FLOAT32: "float32",
    pb.FLOAT64: "float64",
    pb.INT32: "int32",
    pb.INT64: "int64",
}


@dataclass(slots=True)
class Entry:
    """Where one points record lives and what it holds."""

    key: str
    offset: int
    length: int  # whole frame
    count: int
    x_min: float
    x_max: float


_ROW = struct.Struct("<qqqdd")  # a record's offset, frame length, count, x_min, x_max
_OFFSET = struct.Struct("<q")
_FEW = 8  # records unpacked one by one rather than through numpy (iter_entries)
ROW_DTYPE = np.dtype([("offset", "<i8"), ("length", "<i8"), ("count", "<i8"), ("x_min", "<f8"),
                      ("x_max", "<f8")])


class GroupEntries:
    """The records of one (scope, name, index), in log order, packed: 40 bytes a record
    in one ``bytearray`` (offset, frame length, count, x_min, x_max) and their object
    keys (one shared key while every record has it: always on a local log), not an
    object per record. A day's run flushing every second holds 86,400 records a group;
    20 names of them as objects took 277 MB (168 B a record), 3.3-4 s to load from the
    index file, and every full garbage collection of the process walked them (250 ms a
    time); a bytearray is one object the collector does not track. The x range is kept
    as records come (a listing of the groups then costs per group, not per record).
    ``entries`` hands records out as ``Entry`` objects, made on access."""

    __slots__ = ("_rows", "_keys", "count", "x_lo", "x_hi")

    def __init__(self) -> None:
        self._rows = bytearray()
        self._keys: str | list[str] = ""  # one key for every record, or each record's
        self.count = 0
        self.x_lo = math.inf  # the least x_min of the records (inf: none has one)
        self.x_hi = -math.inf

    def __len__(self) -> int:
        return len(self._rows) // _ROW.size

    @property
    def entries(self) -> EntryRange:
        """Every record now (records appended later are not in it)."""
        return EntryRange(self, 0, len(self))

    def entry(self, k: int) -> Entry:
        """Record ``k`` (0 <= k < len)."""
        keys = self._keys
        return Entry(keys if isinstance(keys, str) else keys[k], *_ROW.unpack_from(self._rows, k * _ROW.size))

    def offset(self, k: int) -> int:
        """Where record ``k`` (0 <= k < len) starts."""
        return int(_OFFSET.unpack_from(self._rows, k * _ROW.size)[0])

    def first_at_or_after(self, offset: int) -> int:
        """The first record at or past ``offset`` (len: none; offsets grow along a local
        log, the only one asked). A poll's one new record, the last, needs no search."""
        n = len(self)
        if n == 0 or self.offset(n - 1) < offset:
            return n
        if n == 1 or self.offset(n - 2) < offset:
            return n - 1
        return bisect.bisect_left(range(n), offset, key=self.offset)  # (no copy of the rows)

    def records_from(self, start: int) -> list[Entry]:
        """Records ``start:`` as ``Entry`` objects (a poll's one new record made directly)."""
        n = len(self)
        return [self.entry(start)] if start == n - 1 else list(self.iter_entries(start, n))

    def iter_entries(self, start: int, stop: int) -> Iterator[Entry]:
        """Records ``start:stop`` as ``Entry`` objects, from a copy of their rows; up to
        ``_FEW`` records unpacked one by one (numpy's fixed cost is ~2.4 us, a record
        unpacked ~0.8: even at about ten)."""
        if stop <= start:
            return iter(())
        if stop - start <= _FEW:
            return map(self.entry, range(start, stop))
        rows = self.rows(start, stop)
        return map(Entry, self.keys(start, stop), *(rows[f].tolist() for f in ROW_DTYPE.names or ()))

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Records ``start:stop`` as a structured array (``ROW_DTYPE``) over a copy of their
        rows: no view of the group's own buffer is handed out (it could not grow then)."""
        stop = len(self) if stop is None else stop
        return np.frombuffer(self._rows[start * _ROW.size : stop * _ROW.size], ROW_DTYPE)

    def keys(self, start: int = 0, stop: int | None = None) -> list[str]:
        """The object keys of records ``start:stop``."""
        stop = len(self) if stop is None else stop
        keys = self._keys
        return [keys] * (stop - start) if isinstance(keys, str) else keys[start:stop]

    def add(self, entry: Entry) -> None:
        self._add_keys([entry.key], len(self))
        self._rows += _ROW.pack(entry.offset, entry.length, entry.count, entry.x_min, entry.x_max)
        self.count += entry.count
        self.widen(entry.x_min, entry.x_max)

    def extend(self, keys: list[str], offsets: np.ndarray, lengths: np.ndarray, counts: np.ndarray,
               x_mins: np.ndarray, x_maxs: np.ndarray) -> None:
        """Records in bulk (an index file's rows): the numeric fields as numpy arrays."""
        rows = np.empty(len(keys), ROW_DTYPE)
        rows["offset"], rows["length"], rows["count"] = offsets, lengths, counts
        rows["x_min"], rows["x_max"] = x_mins, x_maxs
        self._add_keys(keys, len(self))
        self._rows += rows.tobytes()
        self.count += int(np.sum(counts))
        lo, hi = x_mins[~np.isnan(x_mins)], x_maxs[~np.isnan(x_maxs)]
        self.widen(float(lo.min()) if lo.size else math.nan, float(hi.max()) if hi.size else math.nan)

    def _add_keys(self, keys: list[str], have: int) -> None:
        current = self._keys
        if isinstance(current, list):
            current.extend(keys)
        elif any(k != current for k in keys):
            if have == 0 and len(set(keys)) == 1:
                self._keys = keys[0]
            else:
                self._keys = [current] * have + list(keys)

    def widen(self, lo: float, hi: float) -> None:
        """Take records whose x lies within ``lo``..``hi`` into the range (NaN: none)."""
        if lo < self.x_lo:  # (NaN compares False)
            self.x_lo = lo
        if hi > self.x_hi:
            self.x_hi = hi

    def x_range(self) -> tuple[float, float]:
        return (self.x_lo if self.x_lo != math.inf else math.nan,
                self.x_hi if self.x_hi != -math.inf else math.nan)


class EntryRange(Sequence[Entry]):
    """Records ``start:stop`` of a group as ``Entry`` objects, made on access. The bounds
    are fixed when it is taken: records the follower appends later are not in it, so a
    read planned under the log's lock reads what was there then."""

    __slots__ = ("group", "start", "stop")

    def __init__(self, group: GroupEntries, start: int, stop: int) -> None:
        self.group, self.start, self.stop = group, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, i: int) -> Entry: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Entry]: ...

    def __getitem__(self, i: int | slice) -> Entry | Sequence[Entry]:
        if isinstance(i, slice):
            a, b, step = i.indices(len(self))
            if step != 1:
                return list(self)[i]
            return EntryRange(self.group, self.start + a, self.start + max(a, b))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return self.group.entry(self.start + i)

    def __iter__(self) -> Iterator[Entry]:
        return self.group.iter_entries(self.start, self.stop)

    def __repr__(self) -> str:
        return f"EntryRange({self.start}:{self.stop} of {len(self.group)})"


@dataclass(slots=True)
class NameState:
    schema: dict[str, str]  # column -> dtype name, in column order
    groups: dict[int, GroupEntries] = field(default_factory=dict)
    last: int = -1  # the offset of its last record indexed since the state was made (local logs)


class ScopeState:
    """A scope's names and config. ``names`` may be filled lazily from a loaded index,
    so opening a log of a million groups costs work per scope, not per group."""

    __slots__ = ("_names", "_loader", "_raw", "config", "last")

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.last = -1  # as ``NameState.last``: a read since a later offset skips the scope
        self._names: dict[str, NameState] = {}
        self._loader: Callable[[], dict[str, NameState]] | None = None
        self._raw: Any = None
        self.config = config

    def set_loader(self, loader: Callable[[], dict[str, NameState]], raw: Any) -> None:
        """Fill ``names`` from ``loader()`` on first use; ``raw`` are the index rows."""
        self._loader, self._raw = loader, raw

    def raw_rows(self) -> Any:
        """The loaded index rows, while ``names`` has not been materialised."""
        return self._raw if self._loader is not None else None

    @property
    def names(self) -> dict[str, NameState]:
        if self._loader is not None:
            loader, self._loader, self._raw = self._loader, None, None
            self._names = loader()
        return self._names


def schema_text(schema: dict[str, str]) -> str:
    """A schema as one string for the index: a JSON list of [column, dtype] (column
    names may hold any character, commas and colons included)."""
    return json.dumps(list(schema.items()))


def parse_schema_text(text: str) -> dict[str, str]:
    return {str(col): str(dt) for col, dt in json.loads(text)}


@dataclass
class LogState:
    """Live scopes, names, schemas, configs and record locations, plus writer seqs."""

    scopes: dict[str, ScopeState] = field(default_factory=dict)
    writers: dict[bytes, int] = field(default_factory=dict)  # writer id -> last committed seq
    skipped_records: int = 0  # points records that lost a schema race (object stores)
    # image and text names (issue 24), beside the numeric names: (scope, name) -> steps
    media: dict[tuple[str, str], MediaName] = field(default_factory=dict)
    # the tombstones applied, in log order: (key, offset, scope, name or None), so a read
    # of what came after a cursor can take them from here instead of scanning the bytes
    deletions: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    # the positions from which ``deletions`` is complete (a state loaded from the index
    # file knows none before the index's positions; {}: from the log's start)
    deletions_from: dict[str, int] = field(default_factory=dict)

    # -- queries ---------------------------------------------------------------------
    def scope(self, scope: str) -> ScopeState:
        try:
            return self.scopes[scope]
        except KeyError:
            raise NotFoundError(f"scope {scope!r} not found") from None

    def name(self, scope: str, name: str) -> NameState:
        st = self.scope(scope)
        try:
            return st.names[name]
        except KeyError:
            raise NotFoundError(f"name {name!r} not found in scope {scope!r}") from None

    def is_duplicate(self, writer_id: bytes, seq: int) -> bool:
        last = self.writers.get(writer_id)
        return last is not None and seq <= last

    def check_batch(self, items: Sequence[object]) -> None:
        """Schemas a batch would fix must agree with the log and within the batch
        (a tombstone earlier in the batch clears a schema)."""
        from streamvis.storage.format.model import Deletion
        from streamvis.storage.format.records import NormalizedPoints

        pending: dict[tuple[str, str], dict[str, np.dtype]] = {}
        cleared: set[tuple[str, str | None]] = set()
        for item in items:
            if isinstance(item, Deletion):
                cleared.add((item.scope, item.name))
                for key in [k for k in pending if k[0] == item.scope and item.name in (None, k[1])]:
                    del pending[key]
            elif isinstance(item, NormalizedPoints):
                key = (item.scope, item.name)
                schema = item.schema
                if key in pending:
                    if pending[key] != schema:
                        raise _mismatch(item.scope, item.name, _names(pending[key]), _names(schema))
                elif (item.scope, None) not in cleared and key not in cleared:
                    self.check_schema(item.scope, item.name, schema)
                pending[key] = schema

    def check_schema(self, scope: str, name: str, schema: dict[str, np.dtype]) -> None:
        """Raise unless ``schema`` equals the one fixed for (scope, name), if any."""
        st = self.scopes.get(scope)
        existing = st.names.get(name) if st else None
        if existing is None:
            return
        received = _names(schema)
        if received != existing.schema:
            raise _mismatch(scope, name, existing.schema, received)

    # -- applying records ------------------------------------------------------------
    def apply_points(self, body: pb.Points, entry: Entry) -> bool:
        """Index a points record read from the log. A record whose columns differ from
        the name's schema is skipped (False): on object stores, where writers hold no
        lock, two may race to fix a new name's schema, and the first in log order wins."""
        schema = {c.name: _DTYPE_OF_CODE.get(c.dtype, "?") for c in body.columns}
        st = self.scopes.get(body.scope)
        ns = st.names.get(body.name) if st is not None else None
        if ns is not None and ns.schema != schema:
            self.skipped_records += 1
            return False
        self.add_entry(body.scope, body.name, body.index, lambda: schema, entry)
        return True

    def add_entry(
        self,
        scope: str,
        name: str,
        index: int,
        schema: Callable[[], dict[str, str]],
        entry: Entry,
    ) -> None:
        """Index one points record; ``schema()`` is called only for a new name."""
        st = self.scopes.get(scope)
        if st is None:
            st = self.scopes[scope] = ScopeState()
        ns = st.names.get(name)
        if ns is None:
            ns = st.names[name] = NameState(schema())
        grp = ns.groups.get(index)
        if grp is None:
            grp = ns.groups[index] = GroupEntries()
        grp.add(entry)
        if not entry.key:  # a local log's record (an object store's offsets are per segment)
            st.last = ns.last = entry.offset

    def apply_config(self, body: pb.Config) -> None:
        st = self.scopes.get(body.scope)
        if st is None:
            st = self.scopes[body.scope] = ScopeState()
        st.config = json.loads(body.json)

    def apply_media(self, kind: str, body: pb.Image | pb.Text, entry: MediaEntry) -> None:
        """Index an image or text record: the latest record of a step wins. A name
        already holding the other kind keeps it (the record is skipped)."""
        key = (body.scope, body.name)
        mn = self.media.get(key)
        if mn is None:
            mn = self.media[key] = MediaName(kind)
        elif mn.kind != kind:
            self.skipped_records += 1
            return
        mn.steps[int(body.step)] = entry

    def apply_delete(self, body: pb.Delete, at: tuple[str, int]) -> None:
        """Drop what the tombstone covers; ``at`` is its (key, offset) in the log."""
        self.deletions.append((at[0], at[1], body.scope, body.name or None))
        if self.media:
            for key in [k for k in self.media if k[0] == body.scope and body.name in ("", k[1])]:
                del self.media[key]
        if not body.name:
            self.scopes.pop(body.scope, None)
            return
        st = self.scopes.get(body.scope)
        if st is not None:
            st.names.pop(body.name, None)
            if not st.names and st.config is None:
                del self.scopes[body.scope]

    def apply_commit(self, writer_id: bytes, seq: int) -> None:
        if seq > self.writers.get(writer_id, -1):
            self.writers[writer_id] = seq

    # -- iteration -------------------------------------------------------------------
    def iter_groups(
        self, scopes: Iterable[str] | None = None
    ) -> Iterable[tuple[str, str, int, NameState, GroupEntries]]:
        for scope in scopes if scopes is not None else list(self.scopes):
            st = self.scopes.get(scope)
            if st is None:
                continue
            for name, ns in st.names.items():
                for index, grp in ns.groups.items():
                    yield scope, name, index, ns, grp


def _fmt(schema: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in schema.items()) + "}"


def _names(schema: dict[str, np.dtype]) -> dict[str, str]:
    return {k: dtype_name(v) for k, v in schema.items()}


def _mismatch(scope: str, name: str, expected: dict[str, str], received: dict[str, str]) -> SchemaMismatchError:
    return SchemaMismatchError(
        f"scope {scope!r}, name {name!r}: columns must be {_fmt(expected)} "
        f"(fixed by the first write), received {_fmt(received)}"
    )
