"""``SegmentLog``: a streamvis log on an object store (``gs://``, ``memory://``, any fsspec).

Object stores cannot append (gcsfs's mode ``'ab'`` silently overwrites), so a log at URL
``U`` is a prefix of immutable objects::

    U/header                      the header frame, created once (exclusively)
    U/segments/{t:020d}-{writer}-{seq:012d}
                                  one object per appended batch: exactly its frames
    U/index.arrow                 the sidecar index, replaced whole (atomic on GCS)

Segments are created exclusively: ``pipe_file(..., mode="create")``, which gcsfs sends
with the ``ifGenerationMatch=0`` precondition (atomic on GCS) and other filesystems
implement as check-then-write (a race window between the check and the write, closed
only by stores with preconditions). When the object exists already and holds the same
bytes, the append is our own earlier attempt (a transport retry whose answer was
lost) and succeeds; different bytes raise ``ConflictError`` (``Store.append`` answers
"duplicate" when the winner holds the same writer id and seq). When a write fails,
the object is read back: our bytes mean only the answer was lost (success); other
bytes (a damaged upload: on gs:// every upload's MD5 is checked) are removed and the
error raised, so no damaged segment stays for readers (one that read it meanwhile
gets ``CorruptDataError`` once).

Order. Readers apply segments sorted by name, so by ``t``, a time stamp in ns. Each
backend keeps ``t`` above every segment it has listed (a Lamport clock): a batch
written after its writer caught up (``Store.append`` always does) sorts after all it
saw, so a tombstone follows the data it deletes even when clocks disagree. Batches
written concurrently on machines with skewed clocks are ordered by those clocks: a
reader following the log may apply them in another order than a fresh reader (e.g.
a delete and a concurrent write of the same name). A writer's seqs must be created
in increasing order; several copies of one (writer, seq) are read once (the first).

Positions (cursor content) are per writer, ``{writer_hex: last seq consumed}``, so a
segment that sorts before ones already read (clock skew) is still found later.

No lock: ``writer_lock`` is a no-op. Writers on different machines may race to fix
the schema of a new name; the first in log order must win (readers skip the loser's
records: a Store-side rule). Durability: an object exists durably once ``pipe_file``
returns, so ``sync`` has nothing to do.

Costs: a refresh is one small GET of the header and one listing of ``U/segments/``
(O(segments), uncached: gcsfs would otherwise cache listings forever); an append adds
one PUT. New segments are fetched concurrently. Compaction (not yet implemented for
object stores) would collapse the segments into few.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamvis.errors import ConflictError, InvalidArgumentError, LogNotFoundError, StorageIOError
from streamvis.storage.backend import Chunk, LogBackend

__all__ = ["SegmentLog", "segment_name", "parse_segment_name"]

_NAME = re.compile(r"^(\d{20})-([0-9a-f]*)-(\d{12,})$")
_FETCH_BATCH = 64  # segments fetched concurrently per request batch

Listed = tuple[str, str, int]  # (name, writer hex, seq)


def segment_name(t: int, writer: str, seq: int) -> str:
    return f"{t:020d}-{writer}-{seq:012d}"


def parse_segment_name(name: str) -> tuple[int, str, int] | None:
    """(time, writer, seq) of a segment's name, None for anything else."""
    m = _NAME.match(name.rsplit("/", 1)[-1])
    return (int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    import fsspec

    protocol = url.split("://", 1)[0]
    opts = dict(storage_options)
    if protocol in ("gs", "gcs"):
        if "gcsfs" not in sys.modules and (
            os.environ.get("STORAGE_EMULATOR_HOST") or opts.get("endpoint_url")
        ):
            # gcsfs's experimental bucket-type probe stalls ~60 s per access on emulators
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        opts.setdefault("use_listings_cache", False)
        opts.setdefault("consistency", "md5")  # check each upload's MD5 in GCS's answer
    elif protocol in ("s3", "s3a"):
        opts.setdefault("use_listings_cache", False)
    fs, path = fsspec.core.url_to_fs(url, **opts)
    return fs, path.rstrip("/")


class SegmentLog(LogBackend):
    """A log made of immutable segment objects; see the module docstring."""

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: Any = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """``fs`` overrides the filesystem (tests wrap one); ``clock`` gives ns time stamps."""
        self.url = url.rstrip("/")
        self._now = clock
        if fs is None:
            fs, root = _filesystem(self.url, storage_options or {})
        else:
            root = fs._strip_protocol(self.url).rstrip("/")
        self.fs = fs
        self.root = root
        self.header_path = f"{root}/header"
        self.segments_dir = f"{root}/segments"
        self.index_path = f"{root}/index.arrow"
        self._header: bytes | None = None
        self._listing: list[Listed] = []  # every segment known, sorted by name
        self._names: set[str] = set()
        self._clock = 0  # highest time prefix seen or written
        self._mutex = threading.Lock()  # guards the three above

    # -- helpers -----------------------------------------------------------------------
    def _io(self, exc: Exception, doing: str) -> StorageIOError:
        return StorageIOError(f"{doing} on {self.url} failed: {exc.__class__.__name__}: {exc}")

    def _invalidate(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)

    def _list(self) -> list[Listed]:
        """List ``U/segments/`` afresh (never from a listing cache), merging into ours."""
        self._invalidate(self.segments_dir)
        try:
            paths = self.fs.ls(self.segments_dir, detail=False)
        except FileNotFoundError:
            paths = []
        except Exception as exc:
            raise self._io(exc, "listing segments") from exc
        with self._mutex:
            fresh = []
            for p in paths:
                name = p.rstrip("/").rsplit("/", 1)[-1]
                parsed = parse_segment_name(name)
                if parsed is not None and name not in self._names:
                    fresh.append((name, parsed[1], parsed[2]))
                    self._clock = max(self._clock, parsed[0])
            if fresh:
                self._names.update(n for n, _, _ in fresh)
                self._listing = sorted(self._listing + fresh)  # replaced, never mutated
            return self._listing

    def _fetch(self, picked: list[Listed]) -> Iterator[Chunk]:
        for i in range(0, len(picked), _FETCH_BATCH):
            part = picked[i : i + _FETCH_BATCH]
            paths = [f"{self.segments_dir}/{name}" for name, _, _ in part]
            try:
                blobs = self.fs.cat_ranges(paths, None, None, on_error="raise")
            except FileNotFoundError as exc:
                raise LogNotFoundError(
                    f"a segment of {self.url} vanished (compaction?): {exc}"
                ) from exc
            except Exception as exc:
                raise self._io(exc, "reading segments") from exc
            for (name, _, _), data in zip(part, blobs, strict=True):
                yield Chunk(name, 0, bytes(data), complete=True)

    @staticmethod
    def _pick(
        listing: list[Listed], start: dict[str, int], end: dict[str, int] | None
    ) -> list[Listed]:
        """Segments past ``start`` (and not past ``end``), one per (writer, seq), in order."""
        seen: set[tuple[str, int]] = set()
        out = []
        for name, writer, seq in listing:
            if seq <= start.get(writer, -1) or (end is not None and seq > end.get(writer, -1)):
                continue
            if (writer, seq) in seen:
                continue  # a second copy of a retried batch
            seen.add((writer, seq))
            out.append((name, writer, seq))
        return out

    # -- opening -----------------------------------------------------------------------
    def exists(self) -> bool:
        self._invalidate(self.header_path)
        try:
            return bool(self.fs.isfile(self.header_path))
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._io(exc, "checking the header") from exc

    def create(self, header_frame: bytes) -> None:
        if self.exists():  # also where create is check-then-write (emulators ignore preconditions)
            return
        try:
            self.fs.pipe_file(self.header_path, header_frame, mode="create")
        except FileExistsError:
            pass  # someone created the log first: keep theirs
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"cannot create log {self.url}: {exc}") from exc
        except Exception as exc:
            raise self._io(exc, "creating the header") from exc
        self._invalidate(self.root)

    def identity(self) -> object:
        """The header's bytes: a compaction writes a new header (new generation)."""
        try:
            self._header = bytes(self.fs.cat_file(self.header_path))
        except FileNotFoundError:
            raise LogNotFoundError(f"no streamvis log at {self.url}") from None
        except Exception as exc:
            raise self._io(exc, "reading the header") from exc
        return self._header

    def read_header(self) -> bytes:
        return self._header if self._header is not None else self.identity()  # type: ignore[return-value]

    # -- reading ---------------------------------------------------------------------
    def new_chunks(self, positions: dict[str, int]) -> Iterator[Chunk]:
        yield from self._fetch(self._pick(self._list(), positions, None))

    def chunks_between(self, start: dict[str, int], end: dict[str, int]) -> Iterator[Chunk]:
        listing = self._listing
        known: dict[str, int] = {}
        for _, writer, seq in listing:
            known[writer] = max(known.get(writer, -1), seq)
        if any(seq > known.get(writer, -1) for writer, seq in end.items()):
            listing = self._list()  # ``end`` came from elsewhere: look again
        yield from self._fetch(self._pick(listing, start, end))

    def read(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:  # explicit start and end: emulators answer a suffix range with everything
            return bytes(
                self.fs.cat_file(f"{self.segments_dir}/{key}", start=offset, end=offset + length)
            )
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"segment {key} of {self.url} is gone (compaction?)") from exc
        except Exception as exc:
            raise self._io(exc, f"reading segment {key}") from exc

    def read_many(self, ranges: list[tuple[str, int, int]]) -> list[bytes]:
        """``read`` for many (key, offset, length) at once, fetched concurrently."""
        out: list[bytes] = []
        for i in range(0, len(ranges), _FETCH_BATCH):
            part = ranges[i : i + _FETCH_BATCH]
            paths = [f"{self.segments_dir}/{k}" for k, _, _ in part]
            try:
                blobs = self.fs.cat_ranges(
                    paths, [o for _, o, _ in part], [o + n for _, o, n in part], on_error="raise"
                )
            except FileNotFoundError as exc:
                raise LogNotFoundError(f"a segment of {self.url} is gone (compaction?)") from exc
            except Exception as exc:
                raise self._io(exc, "reading segments") from exc
            out.extend(bytes(b) for b in blobs)
        return out

    def advance(self, positions: dict[str, int], key: str, end: int) -> None:
        parsed = parse_segment_name(key)
        if parsed is not None:
            _, writer, seq = parsed
            if seq > positions.get(writer, -1):
                positions[writer] = seq

    # -- writing ---------------------------------------------------------------------
    def writer_lock(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # object stores have no lock; see the docstring

    def append(self, data: bytes, *, writer: str, seq: int) -> tuple[str, int]:
        if not re.fullmatch(r"[0-9a-f]*", writer) or seq < 0:
            raise InvalidArgumentError(
                f"writer must be lowercase hex and seq >= 0: {writer!r}, {seq}"
            )
        with self._mutex:
            self._clock = max(self._clock + 1, self._now())
            name = segment_name(self._clock, writer, seq)
        path = f"{self.segments_dir}/{name}"
        try:
            self.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            if self._peek(path) != data:
                raise ConflictError(
                    f"segment {name} of {self.url} was created by another writer with other "
                    "bytes (same writer id and seq): this batch was not stored"
                ) from None
            # the same bytes: our own earlier attempt (a transport retry) stored it
        except Exception as exc:
            landed = self._peek(path)
            if landed != data:  # nothing, or a damaged upload (checksum failed): remove it
                if landed is not None:
                    with contextlib.suppress(Exception):
                        self.fs.rm_file(path)
                raise self._io(exc, f"writing segment {name}") from exc
            # the write landed whole; only its answer was lost
        with self._mutex:
            if name not in self._names:
                self._names.add(name)
                listing = list(self._listing)  # replaced, never mutated: readers iterate it
                bisect.insort(listing, (name, writer, seq))
                self._listing = listing
        return name, 0

    def _peek(self, path: str) -> bytes | None:
        """The object's bytes, or None when it is missing or unreadable."""
        try:
            return bytes(self.fs.cat_file(path))
        except Exception:
            return None

    # -- index -----------------------------------------------------------------------
    def read_index(self) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self.index_path))
        except FileNotFoundError:
            return None
        except Exception:
            return None  # the index is a cache: rebuild from the log

    def write_index(self, data: bytes) -> None:
        try:
            self.fs.pipe_file(self.index_path, data)  # one object, replaced whole
        except Exception as exc:
            raise self._io(exc, "writing the index") from exc
