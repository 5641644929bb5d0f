"""``Store``: the storage engine's public face, composed of the parts it owns.

``log`` (``LogFollower``) follows the log: the log is the truth; the in-memory
``LogState`` and the sidecar index are derived from it. ``writer`` (``StoreWriter``)
appends: it takes the writer lock, catches up with other writers, cuts a torn tail to
quarantine, validates, writes one batch and (by default) fsyncs it. ``ranges``
(``RangeReader``) serves range reads from a decoded-group cache. The store itself
lists what the log holds and reads whole groups and what came after a cursor.

Durability: with ``fsync=True`` (the default) every append is fsynced before it
returns, so a batch whose append returned survives a crash of the process or the
machine. ``fsync=False`` leaves that to the OS (survives a process crash only).
The index is persisted at most every ``index_interval`` seconds and on close.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa

from streamvis.errors import (
    CorruptDataError,
    CursorResetError,
    InvalidArgumentError,
    LogNotFoundError,
    NotFoundError,
)
from streamvis.patterns import key_filter, matcher
from streamvis.storage.backend import LogBackend
from streamvis.storage.engine.follower import LogFollower
from streamvis.storage.engine.opening import check_ours, open_backend
from streamvis.storage.engine.reader import RangeReader
from streamvis.storage.engine.writer import StoreWriter
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.media import media_item, read_media_records
from streamvis.storage.format.model import (
    AppendResult,
    ArraysRead,
    GroupInfo,
    GroupSnapshot,
    Image,
    Item,
    MediaInfo,
    ReadResult,
    Text,
)
from streamvis.storage.format.records import header_payload
from streamvis.storage.format.state import LogState
from streamvis.storage.objects.compact import auto_compact
from streamvis.storage.read.cursor import (
    NOT_A_POSITION,
    cursor_positions,
    decode_cursor,
    positions_within,
)
from streamvis.storage.read.group_columns import (
    ColumnsRead,
    GroupColumns,
    plan_group_columns,
    read_group_columns,
)
from streamvis.storage.read.ranges import RangeRequest, RangesResult
from streamvis.storage.read.reading import GroupPlan, read_groups, read_tables
from streamvis.storage.read.since_index import (
    NewRecords,
    arrays_since,
    columns_since,
    new_records,
    tables_since,
)

__all__ = ["Store"]

Mode = Literal["r", "a"]
_P = TypeVar("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class Store:
    """A streamvis log opened for reading (``"r"``) or appending (``"a"``)."""

    def __init__(
        self,
        backend: LogBackend,
        mode: Mode,
        *,
        fsync: bool = True,
        skip_damaged: bool = False,
        index_interval: float = 30.0,
        _index: bytes | None = None,
    ) -> None:
        if mode not in ("r", "a"):
            raise InvalidArgumentError(f"mode must be 'r' or 'a', got {mode!r}")
        self.backend = backend
        self.mode = mode
        self.fsync = fsync
        self.skip_damaged = skip_damaged
        self.index_interval = index_interval
        self.log = LogFollower(
            backend, writes=mode == "a", skip_damaged=skip_damaged, index_interval=index_interval
        )
        self.writer = StoreWriter(self.log, fsync=fsync, maintain=self._maintain)
        self.ranges = RangeReader(self.log)
        self.log.open(_index)

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str,
        mode: Mode = "r",
        *,
        fsync: bool = True,
        skip_damaged: bool = False,
        storage_options: dict[str, Any] | None = None,
        index_interval: float = 30.0,
    ) -> Store:
        """Open the log at ``path`` (local path, ``file://``, ``memory://``, ``gs://``)."""
        if not isinstance(path, str) or not path:
            raise InvalidArgumentError(f"path must be a non-empty string, got {path!r}")
        if mode not in ("r", "a"):
            raise InvalidArgumentError(f"mode must be 'r' or 'a', got {mode!r}")
        backend = open_backend(path, storage_options)
        index = check_ours(backend, mode)  # before anything is created or replaced
        if not backend.exists():
            if mode == "r":
                raise LogNotFoundError(backend.missing_reason())
            backend.create(encode_frame(header_payload(os.urandom(16), 1)))
        elif mode == "a" and backend.is_empty():  # an empty file is an empty log
            backend.create(encode_frame(header_payload(os.urandom(16), 1)))
        return cls(
            backend,
            mode,
            fsync=fsync,
            skip_damaged=skip_damaged,
            index_interval=index_interval,
            _index=index,
        )

    # -- listing -----------------------------------------------------------------------
    def scopes(self) -> list[str]:
        """Live scopes in order of first appearance."""
        with self.log.lock:
            return list(self.log.state.scopes)

    def names(self, scope: str) -> list[str]:
        """Live names of ``scope`` in order of first appearance."""
        with self.log.lock:
            return list(self.log.state.scope(scope).names)

    def config(self, scope: str) -> dict[str, Any]:
        """The config of ``scope`` ({} when none was written)."""
        with self.log.lock:
            return dict(self.log.state.scope(scope).config or {})

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        """Config of every scope (matching ``scope_pattern``) that has one."""
        match = matcher(scope_pattern, "scope_pattern")
        with self.log.lock:
            return {
                s: dict(st.config)
                for s, st in self.log.state.scopes.items()
                if st.config is not None and match(s)
            }

    def media(self, *, scope_pattern: str | None = None) -> list[MediaInfo]:
        """Image and text names (kept beside the numeric names, which never list them)."""
        ms = matcher(scope_pattern, "scope_pattern")
        with self.log.lock:
            return [MediaInfo(s, n, mn.kind, tuple(sorted(mn.steps)))
                    for (s, n), mn in self.log.state.media.items() if ms(s)]

    def read_media(self, scope: str, name: str, steps: Sequence[int] | None = None) -> list[Image | Text]:
        """The images or texts of (scope, name) at ``steps`` (every step when None), in
        step order; NotFoundError names a missing name or step."""
        with self.log.lock:
            mn = self.log.state.media.get((scope, name))
            if mn is None:
                raise NotFoundError(f"no image or text name {name!r} in scope {scope!r}")
            wanted = sorted(mn.steps) if steps is None else sorted({int(s) for s in steps})
            missing = [s for s in wanted if s not in mn.steps]
            if missing:
                raise NotFoundError(f"{mn.kind} {scope!r}/{name!r} has no step {missing[0]} "
                                    f"(it has {len(mn.steps)} steps)")
            recs = read_media_records(self.backend, [mn.steps[s] for s in wanted])
        return [media_item(r) for r in recs]

    def schema(self, scope: str, name: str) -> dict[str, np.dtype]:
        """Columns and dtypes of (scope, name)."""
        with self.log.lock:
            return {k: np.dtype(v) for k, v in self.log.state.name(scope, name).schema.items()}

    def schemas(self, scope: str) -> dict[str, dict[str, np.dtype]]:
        """Schemas of every name of ``scope`` ({} for an unknown scope)."""
        with self.log.lock:
            st = self.log.state.scopes.get(scope)
            if st is None:
                return {}
            return {n: {k: np.dtype(v) for k, v in ns.schema.items()} for n, ns in st.names.items()}

    def groups(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> list[GroupInfo]:
        """Every live group with its point count and x range."""
        return self.snapshot(scope_pattern=scope_pattern, name_pattern=name_pattern).groups

    def snapshot(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> GroupSnapshot:
        """``groups(...)`` and the cursor of the same state: a reader that starts from
        these counts follows on with ``read(since=cursor)`` and misses nothing."""
        ms, mn = matcher(scope_pattern, "scope_pattern"), matcher(name_pattern, "name_pattern")
        with self.log.lock:
            out = []
            for scope, name, index, _, grp in self.log.state.iter_groups():
                if ms(scope) and mn(name):
                    lo, hi = grp.x_range()
                    out.append(GroupInfo(scope, name, index, grp.count, lo, hi))
            return GroupSnapshot(out, self.log.cursor())

    # -- reading -----------------------------------------------------------------------
    def cursor(self) -> str:
        """A cursor at the current end of what this store has seen."""
        with self.log.lock:
            return self.log.cursor()

    def read(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
    ) -> ReadResult:
        """Points of the matching groups (after ``since``), one table per (scope, name)."""
        ms = key_filter(scope, scope_pattern, "scope")
        mn = key_filter(name, name_pattern, "name")
        if since is None:
            return self._read_unlocked(
                lambda: (self.log.cursor(), self._plans(ms, mn, scope)),
                lambda p: ReadResult(read_tables(self.backend, p[1]), p[0]),
            )
        (tables, deleted), cursor = self._read_since(since, ms, mn, lambda start, end, new: tables_since(
            self.backend, start, end, new, ms, mn, self.skip_damaged))
        return ReadResult(tables, cursor, deleted)

    def read_arrays_since(self, since: str, name: str | None = None, *, scope_pattern: str | None = None,
                          name_pattern: str | None = None) -> ArraysRead:
        """``read(since=...)``'s points as each group's arrays (``ArraysRead``)."""
        ms = key_filter(None, scope_pattern, "scope")
        mn = key_filter(name, name_pattern, "name")
        (groups, deleted), cursor = self._read_since(since, ms, mn, lambda start, end, new: arrays_since(
            self.backend, start, end, new, ms, mn, self.skip_damaged))
        return ArraysRead(groups, cursor, deleted)

    def _read_since(
        self, since: str, ms: Callable[[str], bool], mn: Callable[[str], bool],
        between: Callable[[dict[str, int], dict[str, int], NewRecords | None], _R],
    ) -> tuple[_R, str]:
        """``between`` the positions of cursor ``since`` and the end (given the matching
        records there when the index can tell them: ``since_index``), and the end's cursor."""

        def plan() -> tuple[str, dict[str, int], dict[str, int], NewRecords | None]:
            generation, start = cursor_positions(since, self.log.log_id)
            if not self.backend.carries_cursor(generation, self.log.generation):
                decode_cursor(since, self.log.log_id, self.log.generation)  # raises the reset
            end = dict(self.log.positions)
            new = new_records(self.log.state, start, end, ms, mn) if positions_within(start, end) else None
            return self.log.cursor(), start, end, new

        def read(p: tuple[str, dict[str, int], dict[str, int], NewRecords | None]) -> tuple[_R, str]:
            cursor, start, end, new = p
            if not positions_within(start, end):
                raise CursorResetError(NOT_A_POSITION)
            try:
                return between(start, end, new), cursor
            except CorruptDataError as exc:
                if set(start) == {""} and exc.offset == start[""]:
                    raise CursorResetError(NOT_A_POSITION) from None  # not a record start
                raise

        return self._read_unlocked(plan, read)

    def _read_unlocked(self, plan: Callable[[], _P], read: Callable[[_P], _R]) -> _R:
        """Plan under the lock, read the bytes outside it (writers and listings are not
        held up by a large read). If a compaction replaced the log meanwhile, the read
        fails its checksums: plan and read once more."""
        for attempt in range(2):
            self.log.refresh()
            with self.log.lock:
                generation, planned = self.log.generation, plan()
            try:
                return read(planned)
            except (CorruptDataError, LogNotFoundError):  # replaced, or its objects retired
                if attempt or not self.log.replaced_since(generation):
                    raise
        raise AssertionError("unreachable")

    def _plans(self, ms: Any, mn: Any, scope: str | None) -> list[GroupPlan]:
        scopes = [scope] if scope is not None else None
        return [
            GroupPlan(s, n, index, dict(ns.schema), list(grp.entries))
            for s, n, index, ns, grp in self.log.state.iter_groups(scopes)
            if ms(s) and mn(n)
        ]

    def read_arrays(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
    ) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
        """Like ``read`` but ``{(scope, name, index): {column: ndarray}}`` (the export shape),
        decoded straight into one array per group and column."""
        ms = key_filter(scope, scope_pattern, "scope")
        mn = key_filter(name, name_pattern, "name")
        return self._read_unlocked(
            lambda: self._plans(ms, mn, scope), lambda plans: read_groups(self.backend, plans)
        )

    def read_columns(
        self,
        columns: Sequence[str],
        each: Callable[[GroupColumns], _T],
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
    ) -> ColumnsRead[_T]:
        """``each`` over the matching groups' ``columns`` (after ``since``), concatenated in
        chunks of many (scope, name) groups (``group_columns``): a computation over every
        group without a table per group."""
        ms = key_filter(None, scope_pattern, "scope")
        mn = key_filter(None, name_pattern, "name")
        if since is None:
            return self._read_unlocked(
                lambda: (self.log.cursor(), plan_group_columns(self.log.state, ms, mn, columns)),
                lambda p: ColumnsRead(
                    [each(c) for c in read_group_columns(self.backend, p[1], columns)], p[0]),
            )

        done, cursor = self._read_since(since, ms, mn, lambda start, end, new: columns_since(
            self.backend, start, end, new, columns, each, ms, mn, self.skip_damaged))
        done.cursor = cursor
        return done

    # -- the parts: writing ---------------------------------------------------------
    def append(
        self, items: Sequence[Item], *, writer_id: bytes | None = None, seq: int | None = None
    ) -> AppendResult:
        """Append ``items`` as one atomic batch; see docs/CONTRACTS.md."""
        return self.writer.append(items, writer_id=writer_id, seq=seq)

    def append_many(
        self,
        batches: Sequence[tuple[Sequence[Item], bytes | None, int | None]],
        *,
        one_object: bool = False,
    ) -> list[AppendResult | Exception]:
        """Independent batches under one writer lock and one fsync (``StoreWriter.append_many``)."""
        return self.writer.append_many(batches, one_object=one_object)

    def write_config(self, scope: str, config: dict[str, Any]) -> AppendResult:
        """Set the config of ``scope`` (replacing any earlier one)."""
        return self.writer.write_config(scope, config)

    def delete(self, scope: str, name: str | None = None) -> AppendResult:
        """Hide ``scope`` (or ``scope``/``name``); later writes start fresh schemas."""
        return self.writer.delete(scope, name)

    def _maintain(self) -> None:
        """The writer's maintenance (object stores: compaction through a private reader)."""
        auto_compact(self.backend, _reader)

    @property
    def writer_id(self) -> bytes:
        return self.writer.writer_id

    @property
    def quarantined(self) -> list[str]:
        """Files holding torn tails this store cut off."""
        return self.writer.quarantined

    # -- the parts: range reads ------------------------------------------------------
    def read_range(
        self,
        scope: str,
        name: str,
        index: int,
        x_min: float | None = None,
        x_max: float | None = None,
        max_points: int | None = None,
    ) -> pa.Table:
        """Points of one group with x in [x_min, x_max], sorted by x, decimated to
        max_points (``RangeReader.read_range``)."""
        return self.ranges.read_range(scope, name, index, x_min, x_max, max_points)

    def read_ranges(self, requests: Sequence[RangeRequest]) -> RangesResult:
        """Many ``read_range``s in one call, all from one state of the log
        (``RangeReader.read_ranges``)."""
        return self.ranges.read_ranges(requests)

    def committed_seq(self, writer_id: bytes) -> int | None:
        """The last sequence number stored for ``writer_id`` (None: nothing from it), so
        a writer that resumes (an importer) can start after what is already stored."""
        self.log.refresh()
        with self.log.lock:
            return self.log.state.writers.get(writer_id)

    def release_cache(self) -> None:
        """Drop the decoded groups kept for range reads (they are read again on demand;
        the small decimated answers stay: ``answer_bytes``)."""
        self.ranges.release_cache()

    @property
    def cache_bytes(self) -> int:
        """Bytes of decoded columns held for range reads (shared by every reader)."""
        return self.ranges.cache_bytes

    @property
    def answer_bytes(self) -> int:
        """Bytes of range-read answers kept for asking again (64 MiB at most)."""
        return self.ranges.answer_bytes

    # -- following the log -----------------------------------------------------------
    def refresh(self) -> None:
        """Catch up with what other writers appended (cheap when nothing is new)."""
        self.log.refresh()

    def save_index(self) -> None:
        """Persist the sidecar index now (``LogFollower.save_index``)."""
        self.log.save_index()

    @property
    def damaged(self) -> list[tuple[str, int, str]]:
        """Regions skipped as damaged (with ``skip_damaged``)."""
        return self.log.damaged

    @property
    def log_id(self) -> bytes:
        return self.log.log_id

    @property
    def generation(self) -> int:
        return self.log.generation

    # the follower's state under the names tests and tools have read it by
    @property
    def _state(self) -> LogState:
        return self.log.state

    @property
    def _positions(self) -> dict[str, int]:
        return self.log.positions

    @property
    def _dirty_since(self) -> float | None:
        return self.log.dirty_since

    @_dirty_since.setter
    def _dirty_since(self, value: float | None) -> None:
        self.log.dirty_since = value

    def _load_index(self, data: bytes | None = None) -> bool:
        return self.log.load_index(data)

    # -- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Persist the index if it changed, and release files."""
        self.log.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.backend.url!r}, mode={self.mode!r})"


def _reader(backend: LogBackend) -> Store:
    """A read-only Store over ``backend`` (a background compaction's)."""
    return Store(backend, "r")
