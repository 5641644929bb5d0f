"""``Store``: the storage engine's public face.

The log is the truth; the in-memory ``LogState`` and the sidecar index are derived
from it. Opening loads the index if it matches the log (same log id, generation and
last-record CRC) and scans the log past the position it covers; otherwise the state
is rebuilt from the log. Appends take the writer lock, catch up with other writers,
cut a torn tail to quarantine, validate, write one batch and (by default) fsync it.

Durability: with ``fsync=True`` (the default) every append is fsynced before it
returns, so a batch whose append returned survives a crash of the process or the
machine. ``fsync=False`` leaves that to the OS (survives a process crash only).
The index is persisted at most every ``index_interval`` seconds and on close.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

import numpy as np

from streamvis.errors import (
    CorruptDataError,
    CursorResetError,
    InvalidArgumentError,
    LogNotFoundError,
    StreamvisError,
)
from streamvis.patterns import key_filter, matcher
from streamvis.storage.backend import Chunk, LogBackend
from streamvis.storage.engine.opening import open_backend
from streamvis.storage.engine.reader import StoreRanges
from streamvis.storage.engine.writer import StoreWrites
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.index_file import IndexMeta, dump_index, load_trusted_index
from streamvis.storage.format.model import (
    GroupInfo,
    GroupSnapshot,
    ReadResult,
)
from streamvis.storage.format.ownership import (
    check_index_bytes,
    check_local_files,
    foreign_error,
    is_our_log,
)
from streamvis.storage.format.records import (
    header_payload,
)
from streamvis.storage.format.scan import (
    ScannedRecord,
    ScanOutcome,
    parse_header,
    scan_chunks,
)
from streamvis.storage.format.state import Entry, LogState
from streamvis.storage.local.log_file import LocalLog
from streamvis.storage.read.cursor import cursor_positions, decode_cursor, encode_cursor
from streamvis.storage.read.group_cache import GroupCache
from streamvis.storage.read.ranges import (
    SmoothCache,
)
from streamvis.storage.read.reading import GroupPlan, read_between, read_groups, read_tables

# a cursor whose positions are not batch boundaries of this log (forged or mangled):
# the reader starts over, as after a compaction
_NOT_A_POSITION = (
    "the cursor does not point at a batch boundary of this log: read again from the "
    "start (since=None)"
)

__all__ = ["Store"]

Mode = Literal["r", "a"]
_P = TypeVar("_P")
_R = TypeVar("_R")


def _new_writer_id() -> bytes:
    return os.urandom(8)


class Store(StoreWrites, StoreRanges):
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
        self.writer_id = _new_writer_id()
        self.damaged: list[tuple[str, int, str]] = []  # skipped regions, when skip_damaged
        self.quarantined: list[str] = []  # files holding torn tails this store cut off
        self._seq = 0
        self._appended: set[tuple[str, str]] = set()  # names this store wrote (StoreWrites)
        self._lock = threading.RLock()
        self._closed = False
        self._state = LogState()
        self._positions: dict[str, int] = {}
        self._last_frame: tuple[str, int, int] | None = None
        self._ident: object = None
        self._log_id = b""
        self._generation = 0
        self._dirty_since: float | None = None
        self._index_saved_at = time.monotonic()
        self._group_cache = GroupCache()
        self._smooth_cache = SmoothCache()
        self._open(_index)

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
        index = _check_ours(backend, mode)  # before anything is created or replaced
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

    def _open(self, index: bytes | None = None) -> None:
        self._ident = self.backend.identity()
        head = self.backend.read_header()
        if not head and self.backend.is_empty():
            # an empty file: an empty log whose first writer writes the header (its
            # cursor, of log id "", reads from the start of whatever log comes)
            self._log_id, self._generation = b"", 1
            self._state, self._positions, self._last_frame = LogState(), {}, None
            return
        try:
            header = parse_header(head)
        except CorruptDataError as exc:
            raise CorruptDataError(f"{self.backend.url}: {exc}", offset=0) from None
        self._log_id, self._generation = header.log_id, header.generation
        self._state, self._positions, self._last_frame = LogState(), {}, None
        loaded = self._load_index(index)
        outcome = self._catch_up()
        if (not loaded and outcome.bytes_scanned > (1 << 20)) or outcome.bytes_scanned > (64 << 20):
            if self.mode == "a" or self.backend.readers_write_index:
                self._save_index_quietly()

    def _load_index(self, data: bytes | None = None) -> bool:
        trusted = load_trusted_index(self.backend, self._log_id, self._generation, data)
        if trusted is None:
            return False
        self._state, meta = trusted
        self._positions, self._last_frame = meta.positions, meta.last_frame
        return True

    # -- catching up with the log -----------------------------------------------------
    def _advance(self, key: str, end: int) -> None:
        self.backend.advance(self._positions, key, end)

    def _catch_up(self, chunks: Iterator[Chunk] | None = None) -> ScanOutcome:
        if chunks is None:
            chunks = self.backend.new_chunks(self._positions)
        outcome = scan_chunks(
            chunks, self._apply_batch, self._advance, skip_damaged=self.skip_damaged
        )
        if outcome.last_frame is not None:
            self._last_frame = outcome.last_frame
        self.damaged.extend(outcome.damaged)
        return outcome

    def _apply_batch(self, batch: list[ScannedRecord]) -> None:
        commit = batch[-1].record
        if self._state.is_duplicate(commit.writer_id, commit.seq):
            return  # stored twice by a racing retry (object stores): keep the first
        for r in batch[:-1]:
            kind = r.record.WhichOneof("body")
            if kind == "points":
                body = r.record.points
                entry = Entry(r.key, r.offset, r.end - r.offset, body.count, body.x_min, body.x_max)
                self._state.apply_points(body, entry)
            elif kind == "config":
                self._state.apply_config(r.record.config)
            elif kind == "delete":
                self._state.apply_delete(r.record.delete)
        self._state.apply_commit(commit.writer_id, commit.seq)

    def refresh(self) -> None:
        """Catch up with what other writers appended (cheap when nothing is new)."""
        with self._lock:
            self._check_open()
            if self.backend.identity() != self._ident or not self._log_id:
                self._open()  # compacted into a new generation, or an empty log's header
                return
            self._catch_up()

    # -- listing -----------------------------------------------------------------------
    def scopes(self) -> list[str]:
        """Live scopes in order of first appearance."""
        with self._lock:
            return list(self._state.scopes)

    def names(self, scope: str) -> list[str]:
        """Live names of ``scope`` in order of first appearance."""
        with self._lock:
            return list(self._state.scope(scope).names)

    def config(self, scope: str) -> dict[str, Any]:
        """The config of ``scope`` ({} when none was written)."""
        with self._lock:
            return dict(self._state.scope(scope).config or {})

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        """Config of every scope (matching ``scope_pattern``) that has one."""
        match = matcher(scope_pattern, "scope_pattern")
        with self._lock:
            return {
                s: dict(st.config)
                for s, st in self._state.scopes.items()
                if st.config is not None and match(s)
            }

    def schema(self, scope: str, name: str) -> dict[str, np.dtype]:
        """Columns and dtypes of (scope, name)."""
        with self._lock:
            return {k: np.dtype(v) for k, v in self._state.name(scope, name).schema.items()}

    def schemas(self, scope: str) -> dict[str, dict[str, np.dtype]]:
        """Schemas of every name of ``scope`` ({} for an unknown scope)."""
        with self._lock:
            st = self._state.scopes.get(scope)
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
        with self._lock:
            out = []
            for scope, name, index, _, grp in self._state.iter_groups():
                if ms(scope) and mn(name):
                    lo, hi = grp.x_range()
                    out.append(GroupInfo(scope, name, index, grp.count, lo, hi))
            return GroupSnapshot(out, self._cursor())

    # -- reading -----------------------------------------------------------------------
    def cursor(self) -> str:
        """A cursor at the current end of what this store has seen."""
        with self._lock:
            return self._cursor()

    def _cursor(self) -> str:
        return encode_cursor(self._log_id, self._generation, self._positions)

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
                lambda: (self._cursor(), self._plans(ms, mn, scope)),
                lambda p: ReadResult(read_tables(self.backend, p[1]), p[0]),
            )

        def plan() -> tuple[str, dict[str, int], dict[str, int]]:
            generation, start = cursor_positions(since, self._log_id)
            if not self.backend.carries_cursor(generation, self._generation):
                decode_cursor(since, self._log_id, self._generation)  # raises the reset
            return self._cursor(), start, dict(self._positions)

        def read(p: tuple[str, dict[str, int], dict[str, int]]) -> ReadResult:
            cursor, start, end = p
            if any(k not in end or not 0 <= v <= end[k] for k, v in start.items()):
                raise CursorResetError(_NOT_A_POSITION)
            try:
                tables, deleted = read_between(self.backend, start, end, ms, mn, self.skip_damaged)
            except CorruptDataError as exc:
                if set(start) == {""} and exc.offset == start[""]:
                    raise CursorResetError(_NOT_A_POSITION) from None  # not a record start
                raise
            return ReadResult(tables, cursor, deleted)

        return self._read_unlocked(plan, read)

    def _read_unlocked(self, plan: Callable[[], _P], read: Callable[[_P], _R]) -> _R:
        """Plan under the lock, read the bytes outside it (writers and listings are not
        held up by a large read). If a compaction replaced the log meanwhile, the read
        fails its checksums: plan and read once more."""
        for attempt in range(2):
            self.refresh()
            with self._lock:
                generation, planned = self._generation, plan()
            try:
                return read(planned)
            except (CorruptDataError, LogNotFoundError):  # replaced, or its objects retired
                if attempt or not self._replaced_since(generation):
                    raise
        raise AssertionError("unreachable")

    def _replaced_since(self, generation: int) -> bool:
        """Was the log compacted while we read without the lock? (then read again)"""
        self.refresh()
        return self._generation != generation

    def _plans(self, ms: Any, mn: Any, scope: str | None) -> list[GroupPlan]:
        scopes = [scope] if scope is not None else None
        return [
            GroupPlan(s, n, index, dict(ns.schema), list(grp.entries))
            for s, n, index, ns, grp in self._state.iter_groups(scopes)
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

    # -- lifetime ----------------------------------------------------------------------
    def _maybe_save_index(self) -> None:
        if (
            self._dirty_since is not None
            and time.monotonic() - self._index_saved_at > self.index_interval
        ):
            self._save_index_quietly()

    def save_index(self) -> None:
        """Persist the sidecar index now (atomic replace). Not when the log was replaced
        (compacted) since this store last looked: its state would overwrite the new
        generation's index with an older one (correct, but every open would rebuild)."""
        with self._lock:
            if self.backend.identity() != self._ident:
                return
            meta = IndexMeta(
                self._log_id.hex(), self._generation, dict(self._positions), self._last_frame
            )
            self.backend.write_index(dump_index(self._state, meta))
            self._dirty_since = None
            self._index_saved_at = time.monotonic()

    def _save_index_quietly(self) -> None:
        try:
            self.save_index()
        except (StreamvisError, OSError):
            pass  # the index is a cache: failing to save it loses nothing

    @property
    def log_id(self) -> bytes:
        return self._log_id

    @property
    def generation(self) -> int:
        return self._generation

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgumentError("the store is closed")

    def close(self) -> None:
        """Persist the index if it changed, and release files."""
        with self._lock:
            if self._closed:
                return
            if self._dirty_since is not None:
                self._save_index_quietly()
            self._closed = True
            self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.backend.url!r}, mode={self.mode!r})"


def _check_ours(backend: LogBackend, mode: str) -> bytes | None:
    """Refuse (ForeignFileError, LegacyFormatError) when a file the store would create
    or replace exists and is not ours. Returns the index bytes when it had to read them
    whole (object stores), so that opening does not fetch them twice. A read-only open
    of an object store writes nothing, so it is not checked (its open reads the header
    and names a prefix of other objects itself)."""
    if isinstance(backend, LocalLog):
        check_local_files(backend.path, backend.index_path, backend.lock_path)
        return None
    if mode == "r":
        return None
    if backend.exists() and not is_our_log(backend.read_header()):
        raise foreign_error(f"{backend.url}/header", "the header of a streamvis log")
    data = backend.read_index()
    check_index_bytes(f"{backend.url}/index.arrow", data)
    return data
