"""Where log bytes live: the one interface, ``LogBackend``, under which every log is kept.

The store sees a log as chunks of bytes at keyed positions. Two backends share one
reader (``streamvis.storage.format.scan``):

* ``LocalLog`` (``streamvis.storage.local.log_file``): one append-only file.
  Positions are ``{"": offset}``.
* ``SegmentLog`` (``streamvis.storage.objects.segments``): object stores cannot
  append, so each batch is one immutable object; positions are per writer.

``streamvis.storage.engine.opening.open_backend`` picks one for a path or URL.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["Chunk", "LogBackend"]


@dataclass(frozen=True)
class Chunk:
    """New bytes of the log: ``data`` starts at ``offset`` within object ``key``."""

    key: str
    offset: int
    data: bytes
    complete: bool  # True when the chunk cannot grow (immutable segment)


class LogBackend(ABC):
    """The byte store under a log."""

    url: str
    # may a reader persist the index it rebuilt? (object-store readers may hold read-only
    # credentials and must never write; a local reader tries, and never fails for it)
    readers_write_index: bool = True
    # must an appender catch up with the log before each append? (object stores: no,
    # they call ``order`` only where ordering needs it; see segments.py)
    appends_follow_log: bool = True

    def order(self) -> None:
        """Before a batch that ordering needs (a deletion, a config, a name's first write)."""

    @abstractmethod
    def exists(self) -> bool: ...

    def carries_cursor(self, old: int, new: int) -> bool:
        """May a cursor of generation ``old`` be read in generation ``new``?"""
        return old == new

    def batch_filter(
        self, start: dict[str, int], end: dict[str, int]
    ) -> Callable[[bytes, int], bool] | None:
        """A test (writer id, seq) -> bool for the batches a read between positions takes,
        when the chunks can hold others (None: every batch in the chunks)."""
        return None

    def maintenance_due(self) -> bool:
        """Should an appending Store compact now? (object stores, automatically)"""
        return False

    def is_empty(self) -> bool:
        """Is the log an existing empty file? (an empty log: no header yet; the first
        writer writes it)"""
        return False

    def missing_reason(self) -> str:
        """Why there is no log here, for the error of a read-only open."""
        return f"no streamvis log at {self.url}"

    @abstractmethod
    def create(self, header_frame: bytes) -> None:
        """Create an empty log holding only its header, unless one exists."""

    @abstractmethod
    def read_header(self) -> bytes:
        """The first bytes of the log (enough for the header frame)."""

    @abstractmethod
    def identity(self) -> object:
        """Changes when the log is replaced (compaction); cheap to call."""

    @abstractmethod
    def new_chunks(self, positions: dict[str, int]) -> Iterator[Chunk]:
        """Bytes past ``positions`` in log order."""

    @abstractmethod
    def chunks_between(self, start: dict[str, int], end: dict[str, int]) -> Iterator[Chunk]:
        """The bytes between two sets of positions (both at batch boundaries)."""

    @abstractmethod
    def read(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``key`` at ``offset``."""

    def read_many(self, ranges: list[tuple[str, int, int]]) -> list[bytes]:
        """``read`` of many (key, offset, length); object stores fetch them concurrently."""
        return [self.read(key, offset, length) for key, offset, length in ranges]

    @abstractmethod
    def append(self, data: bytes, *, writer: str, seq: int) -> tuple[str, int]:
        """Append one batch of frames; returns (key, offset), offset -1 when an earlier
        attempt of this (writer, seq) is stored already. Call under ``writer_lock``."""

    @abstractmethod
    def writer_lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive section for appenders (and compaction)."""

    @abstractmethod
    def advance(self, positions: dict[str, int], key: str, end: int) -> None:
        """Record in ``positions`` that ``key`` was consumed up to ``end``."""

    def discard_tail(self, key: str, offset: int) -> str | None:
        """Cut a torn tail at ``offset`` after saving it; returns the quarantine path."""
        return None

    def sync(self) -> None:
        """Make appended bytes durable."""

    def cut_back(self, key: str, offset: int) -> None:
        """Remove a just-appended batch starting at ``offset`` (its fsync failed)."""

    def covers_known(self, positions: dict[str, int]) -> bool:
        """Do ``positions`` cover every batch this backend knows of? An index is saved
        only then: one saved by an object-store writer that never read the others'
        segments would tell readers they were read."""
        return True

    @abstractmethod
    def read_index(self) -> bytes | None: ...

    @abstractmethod
    def write_index(self, data: bytes) -> None:
        """Replace the sidecar index atomically."""

    def close(self) -> None:
        """Release file handles."""
