"""``LogFollower``: one log followed in memory, the state a ``Store``'s parts share.

The log is the truth; the in-memory ``LogState`` and the sidecar index are derived
from it. Opening loads the index if it matches the log (same log id, generation and
last-record CRC) and scans the log past the position it covers; otherwise the state
is rebuilt from the log. ``refresh`` catches up with what others appended, and reopens
when the log was replaced (compacted into a new generation). The index is persisted at
most every ``index_interval`` seconds and on close.

The writer (``streamvis.storage.engine.writer``) and the range reader
(``streamvis.storage.engine.reader``) work on the follower's state under its ``lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from streamvis.errors import CorruptDataError, InvalidArgumentError, StreamvisError
from streamvis.storage.backend import Chunk, LogBackend
from streamvis.storage.format.index_file import IndexMeta, dump_index, load_trusted_index
from streamvis.storage.format.media import MediaEntry
from streamvis.storage.format.scan import ScannedRecord, ScanOutcome, parse_header, scan_chunks
from streamvis.storage.format.state import Entry, LogState
from streamvis.storage.read.cursor import encode_cursor

__all__ = ["LogFollower"]


class LogFollower:
    """The state of one log as far as it was read: header, ``LogState``, positions."""

    def __init__(
        self,
        backend: LogBackend,
        *,
        writes: bool,
        skip_damaged: bool = False,
        index_interval: float = 30.0,
    ) -> None:
        """``writes``: opened for appending (then it saves the index it rebuilt)."""
        self.backend = backend
        self.writes = writes
        self.skip_damaged = skip_damaged
        self.index_interval = index_interval
        self.lock = threading.RLock()  # guards everything below
        self.damaged: list[tuple[str, int, str]] = []  # skipped regions, when skip_damaged
        self.closed = False
        self.state = LogState()
        self.positions: dict[str, int] = {}
        self.last_frame: tuple[str, int, int] | None = None
        self.ident: object = None
        self.log_id = b""
        self.generation = 0
        self.dirty_since: float | None = None  # when the state first differed from the index
        self._index_saved_at = time.monotonic()

    # -- opening -----------------------------------------------------------------------
    def open(self, index: bytes | None = None) -> None:
        """(Re)read the log from its header: the index if it matches, then the rest."""
        self.ident = self.backend.identity()
        head = self.backend.read_header()
        if not head and self.backend.is_empty():
            # an empty file: an empty log whose first writer writes the header (its
            # cursor, of log id "", reads from the start of whatever log comes)
            self.log_id, self.generation = b"", 1
            self.state, self.positions, self.last_frame = LogState(), {}, None
            return
        try:
            header = parse_header(head)
        except CorruptDataError as exc:
            raise CorruptDataError(f"{self.backend.url}: {exc}", offset=0) from None
        self.log_id, self.generation = header.log_id, header.generation
        self.state, self.positions, self.last_frame = LogState(), {}, None
        loaded = self.load_index(index)
        outcome = self.catch_up()
        if (not loaded and outcome.bytes_scanned > (1 << 20)) or outcome.bytes_scanned > (64 << 20):
            if self.writes or self.backend.readers_write_index:
                self.save_index_quietly()

    def load_index(self, data: bytes | None = None) -> bool:
        """Take the state from the sidecar index if it matches the log; True when it did."""
        trusted = load_trusted_index(self.backend, self.log_id, self.generation, data)
        if trusted is None:
            return False
        self.state, meta = trusted
        self.positions, self.last_frame = meta.positions, meta.last_frame
        self.state.deletions_from = dict(meta.positions)
        return True

    # -- catching up with the log -----------------------------------------------------
    def advance(self, key: str, end: int) -> None:
        """Record that ``key`` was consumed up to ``end``."""
        self.backend.advance(self.positions, key, end)

    def catch_up(self, chunks: Iterator[Chunk] | None = None) -> ScanOutcome:
        """Apply the committed batches past our positions (or of ``chunks``)."""
        if chunks is None:
            chunks = self.backend.new_chunks(self.positions)
        outcome = scan_chunks(chunks, self._apply_batch, self.advance, skip_damaged=self.skip_damaged)
        if outcome.last_frame is not None:
            self.last_frame = outcome.last_frame
        self.damaged.extend(outcome.damaged)
        return outcome

    def _apply_batch(self, batch: list[ScannedRecord]) -> None:
        commit = batch[-1].record
        if self.state.is_duplicate(commit.writer_id, commit.seq):
            return  # stored twice by a racing retry (object stores): keep the first
        for r in batch[:-1]:
            kind = r.record.WhichOneof("body")
            if kind == "points":
                body = r.record.points
                entry = Entry(r.key, r.offset, r.end - r.offset, body.count, body.x_min, body.x_max)
                self.state.apply_points(body, entry)
            elif kind == "config":
                self.state.apply_config(r.record.config)
            elif kind == "delete":
                self.state.apply_delete(r.record.delete, (r.key, r.offset))
            elif kind == "image" or kind == "text":
                body = r.record.image if kind == "image" else r.record.text
                media = MediaEntry(r.key, r.offset, r.end - r.offset, body.wall_time)
                self.state.apply_media(kind, body, media)
        self.state.apply_commit(commit.writer_id, commit.seq)

    def refresh(self) -> None:
        """Catch up with what other writers appended (cheap when nothing is new)."""
        with self.lock:
            self.check_open()
            if self.backend.identity() != self.ident or not self.log_id:
                self.open()  # compacted into a new generation, or an empty log's header
                return
            self.catch_up()

    def cursor(self) -> str:
        """A cursor at our positions (call under ``lock``)."""
        return encode_cursor(self.log_id, self.generation, self.positions)

    def replaced_since(self, generation: int) -> bool:
        """Was the log compacted since ``generation`` was read? (refreshes)"""
        self.refresh()
        return self.generation != generation

    # -- the sidecar index ------------------------------------------------------------
    def mark_dirty(self) -> None:
        """The state now holds what the saved index does not."""
        if self.dirty_since is None:
            self.dirty_since = time.monotonic()

    def maybe_save_index(self) -> None:
        """Save the index if it changed more than ``index_interval`` seconds ago."""
        if (
            self.dirty_since is not None
            and time.monotonic() - self._index_saved_at > self.index_interval
        ):
            self.save_index_quietly()

    def save_index(self) -> None:
        """Persist the sidecar index now (atomic replace). Not when the log was replaced
        (compacted) since we last looked: our state would overwrite the new
        generation's index with an older one (correct, but every open would rebuild).
        Nor when we know of batches our state has not read (``covers_known``)."""
        with self.lock:
            if self.backend.identity() != self.ident:
                return
            if not self.backend.covers_known(dict(self.positions)):
                return  # a writer that did not read the others' batches (backend.py)
            meta = IndexMeta(self.log_id.hex(), self.generation, dict(self.positions), self.last_frame)
            self.backend.write_index(dump_index(self.state, meta))
            self.dirty_since = None
            self._index_saved_at = time.monotonic()

    def save_index_quietly(self) -> None:
        """``save_index``, ignoring failures (the index is a cache)."""
        try:
            self.save_index()
        except (StreamvisError, OSError):
            pass  # the index is a cache: failing to save it loses nothing

    # -- lifetime ----------------------------------------------------------------------
    def check_open(self) -> None:
        """Refuse use after ``close``."""
        if self.closed:
            raise InvalidArgumentError("the store is closed")

    def close(self) -> None:
        """Persist the index if it changed, and release the backend's files."""
        with self.lock:
            if self.closed:
                return
            if self.dirty_since is not None:
                self.save_index_quietly()
            self.closed = True
            self.backend.close()
