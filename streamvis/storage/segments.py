"""``SegmentLog``: a streamvis log on an object store (``gs://``, ``s3://``, ``memory://``).

Object stores cannot append (gcsfs's mode ``'ab'`` silently overwrites), so a log at URL
``U`` is a prefix of immutable objects::

    U/header                      the header frame, created once (exclusively)
    U/segments/{t:020d}-{writer}-{seq:012d}
                                  one object per appended batch: exactly its frames
    U/index.arrow                 the sidecar index, replaced whole (atomic on GCS/S3)

Segments are created exclusively: ``pipe_file(..., mode="create")``, which gcsfs sends
with ``ifGenerationMatch=0`` and s3fs with ``If-None-Match: *`` (atomic on GCS and S3)
and other filesystems implement as check-then-write. When the object exists already
and holds the same bytes, the append is our own earlier attempt (a transport retry
whose answer was lost) and succeeds; different bytes raise ``ConflictError``
(``Store.append`` answers "duplicate" when the winner holds the same writer id and
seq). When a write fails, the object is read back: our bytes mean only the answer was
lost (success); other bytes (a damaged upload: on gs:// every upload's MD5 is checked)
are removed and the error raised, so no damaged segment stays for readers.

Order. Readers apply segments sorted by name, so by ``t``, a time stamp in ns. Each
backend keeps ``t`` above every segment it has listed (a Lamport clock): a batch
written after its writer caught up (``Store.append`` always does) sorts after all it
saw, so a tombstone follows the data it deletes, and the first schema in log order is
the same for every reader, whatever the clocks say. A writer's seqs must be created in
increasing order; several copies of one (writer, seq) are read once (the first).

Listing only what is new. A refresh lists ``U/segments/`` from ``t_max - lookback``
(``startOffset`` on GCS, ``StartAfter`` on S3; ``object_listing``), where ``t_max`` is
the newest name this backend has seen: one request and a few names, whatever the
log's age. A segment can appear "late", below names already listed, when its writer
computed its name before another writer's higher name became visible (a clock ahead,
or a slow upload). The writer checks that at its next listing (the next append's
catch-up, or ``close``): if a name above ``t + lookback`` is visible, a follower may
have listed past its segment, so it stores a copy under a fresh name above everything
it sees (readers take the first copy of a (writer, seq) and skip the other). The bound:
a follower that is following misses no segment; a segment whose writer's clock lags
(or an upload that took longer than ``lookback``) reaches it at most one flush of that
writer later (or at its ``close``), as the copy; a fresh open sees the original at
once. Only a writer that dies between such an upload and its next listing leaves a
late segment that current followers do not see (they find it when they reopen).

Positions (cursor content) are per writer, ``{writer_hex: last seq consumed}``.

No lock: ``writer_lock`` is a no-op. Writers on different machines may race to fix
the schema of a new name; the first in log order wins (readers skip the loser's
records: a Store-side rule). Durability: an object exists durably once ``pipe_file``
returns, so ``sync`` has nothing to do.

Costs: an idle refresh is one GET of the header and one listing of the last
``lookback`` of names; an append adds one PUT; new segments are fetched concurrently,
once: the bytes a refresh fetched (and the bytes a writer wrote) stay in a small LRU
(``ByteCache``), from which the read since a cursor that follows is served. Small
ranged reads read ahead (``READ_AHEAD``) so a record's length probe and the record
are one GET.
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
from dataclasses import dataclass
from typing import Any

from streamvis.errors import ConflictError, InvalidArgumentError, LogNotFoundError, StorageIOError
from streamvis.storage.backend import Chunk, LogBackend
from streamvis.storage.byte_cache import ByteCache
from streamvis.storage.object_listing import list_names

__all__ = ["SegmentLog", "segment_name", "parse_segment_name", "manifest_name", "LOOKBACK_NS"]

_NAME = re.compile(r"^(\d{20})-([0-9a-f]*)-(\d{12,})$")
_MANIFEST = re.compile(r"^~gen-(\d{12})$")  # sorts after every segment: in every listing
_FETCH_BATCH = 64  # segments fetched concurrently per request batch
LOOKBACK_NS = 5 * 10**9  # listings start this far (in name time) behind the newest name
READ_AHEAD = 64 << 10  # ranged reads shorter than this fetch this much (one GET)

Listed = tuple[str, str, int]  # (name, writer hex, seq)


def segment_name(t: int, writer: str, seq: int) -> str:
    return f"{t:020d}-{writer}-{seq:012d}"


def manifest_name(generation: int) -> str:
    return f"~gen-{generation:012d}"


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


@dataclass
class _Unchecked:
    """A segment we wrote whose order no listing has confirmed yet (see the docstring)."""

    name: str
    t: int
    writer: str
    seq: int
    data: bytes
    written_at: float  # time.monotonic() when its PUT returned


class SegmentLog(LogBackend):
    """A log made of immutable segment objects; see the module docstring."""

    readers_write_index = False  # readers may hold read-only credentials: never write

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: Any = None,
        clock: Callable[[], int] = time.time_ns,
        lookback_ns: int = LOOKBACK_NS,
        cache_bytes: int = 32 << 20,
    ) -> None:
        """``fs`` overrides the filesystem (tests wrap one); ``clock`` gives ns time stamps."""
        self.url = url.rstrip("/")
        self._now = clock
        self.lookback_ns = lookback_ns
        if fs is None:
            fs, root = _filesystem(self.url, storage_options or {})
        else:
            root = fs._strip_protocol(self.url).rstrip("/")
        self.fs = fs
        self.root = root
        self.header_path = f"{root}/header"
        self.segments_dir = f"{root}/segments"
        self.index_path = f"{root}/index.arrow"
        self.cache = ByteCache(cache_bytes)
        self.republished = 0  # copies stored because a segment may have been listed past
        self._header: bytes | None = None
        self._listing: list[Listed] = []  # every segment known, sorted by name
        self._names: set[str] = set()
        self._time_of: dict[tuple[str, int], int] = {}  # (writer, seq) -> t of its first copy
        self._clock = 0  # highest time prefix seen or written
        self._listed_from: int | None = None  # lowest start time listed (complete above)
        self._base: dict[str, int] | None = None  # positions when we first listed
        self._unchecked: list[_Unchecked] = []
        self._manifests: set[int] = set()  # generations whose manifest we listed
        self._just_listed = 0.0  # when identity() listed: the next new_chunks need not
        self._mutex = threading.Lock()  # guards the listing state above

    # -- helpers -----------------------------------------------------------------------
    def _io(self, exc: Exception, doing: str) -> StorageIOError:
        text = f"{exc.__class__.__name__}: {exc}"
        if "credential" in text.lower() or isinstance(exc, PermissionError):
            text += " (give credentials the usual gcsfs/s3fs way, or storage_options=)"
        return StorageIOError(f"{doing} on {self.url} failed: {text}")

    def _invalidate(self, path: str) -> None:
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)

    def _path(self, key: str) -> str:
        return f"{self.segments_dir}/{key}"

    def _note(self, name: str) -> Listed | None:
        """Add a segment name to what we know (under the mutex); the entry if new."""
        parsed = parse_segment_name(name)
        if parsed is None or name in self._names:
            return None
        t, writer, seq = parsed
        self._names.add(name)
        self._clock = max(self._clock, t)
        self._time_of.setdefault((writer, seq), t)
        return (name, writer, seq)

    def _list_from(self, start_t: int) -> None:
        """List segment names from time ``start_t`` on and merge them into ours; then
        confirm (or re-store) the segments we wrote before this listing started."""
        started = time.monotonic()
        try:
            names = list_names(self.fs, self.segments_dir, f"{start_t:020d}" if start_t else "")
        except FileNotFoundError:
            names = []
        except Exception as exc:
            raise self._io(exc, "listing segments") from exc
        with self._mutex:
            self._note_manifests(names)
            fresh = [e for e in map(self._note, names) if e is not None]
            if fresh:
                listing = list(self._listing)  # replaced, never mutated: readers iterate it
                for entry in fresh:
                    bisect.insort(listing, entry)
                self._listing = listing
            if self._listed_from is None or start_t < self._listed_from:
                self._listed_from = start_t
            due = [u for u in self._unchecked if u.written_at <= started]
            self._unchecked = [u for u in self._unchecked if u.written_at > started]
        for u in due:
            self._confirm(u, names)

    def _note_manifests(self, names: list[str]) -> None:
        for name in names:
            m = _MANIFEST.match(name)
            if m:
                self._manifests.add(int(m.group(1)))

    @property
    def generation(self) -> int | None:
        """The newest generation whose manifest we listed (None: the header's)."""
        return max(self._manifests) if self._manifests else None

    def _confirm(self, u: _Unchecked, listed: list[str]) -> None:
        """Store a copy of ``u`` above everything visible if a name more than
        ``lookback`` above it was visible (a follower may have listed past it)."""
        limit = u.t + self.lookback_ns
        for name in listed:
            parsed = parse_segment_name(name)
            if parsed is None or parsed[0] <= limit:
                continue
            if parsed[1] == u.writer and parsed[2] > u.seq:
                continue  # our own later segment, written after this one was visible
            self.republished += 1
            self._put(u.data, u.writer, u.seq)
            return

    def _ensure_listed(self, positions: dict[str, int]) -> None:
        """List what may be new since our last listing (or since ``positions``)."""
        if self._listed_from is None:
            self._base = dict(positions)
            if positions and self._clock:  # an index told us where we are
                self._list_from(max(0, self._clock - self.lookback_ns))
            else:
                self._list_from(0)
            return
        self._list_from(max(0, self._clock - self.lookback_ns))

    def _fetch(self, picked: list[Listed]) -> Iterator[Chunk]:
        missing = [p for p in picked if self.cache.whole(p[0]) is None]
        for i in range(0, len(missing), _FETCH_BATCH):
            part = missing[i : i + _FETCH_BATCH]
            paths = [self._path(name) for name, _, _ in part]
            try:
                # start 0, no end: one GET (s3fs asks the size first when given neither)
                blobs = self.fs.cat_ranges(paths, [0] * len(paths), None, on_error="raise")
            except FileNotFoundError as exc:
                raise LogNotFoundError(
                    f"a segment of {self.url} vanished (compaction?): {exc}"
                ) from exc
            except Exception as exc:
                raise self._io(exc, "reading segments") from exc
            for (name, _, _), data in zip(part, blobs, strict=True):
                self.cache.put(name, bytes(data), whole=True)
        for name, _, _ in picked:
            data = self.cache.whole(name)
            if data is None:  # dropped by the LRU meanwhile (a huge batch)
                data = self._read_object(name)
            yield Chunk(name, 0, data, complete=True)

    def _read_object(self, name: str) -> bytes:
        try:
            return bytes(self.fs.cat_file(self._path(name), start=0, end=None))
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"segment {name} of {self.url} is gone (compaction?)") from exc
        except Exception as exc:
            raise self._io(exc, f"reading segment {name}") from exc

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
                continue  # a second copy of a retried or re-stored batch
            seen.add((writer, seq))
            out.append((name, writer, seq))
        return out

    # -- opening -----------------------------------------------------------------------
    def exists(self) -> bool:
        try:
            self._header = bytes(self.fs.cat_file(self.header_path, start=0, end=None))
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._io(exc, "reading the header") from exc

    def create(self, header_frame: bytes) -> None:
        """Create the header, unless one exists; refuse a missing bucket or a prefix
        that holds other objects (nothing is written then)."""
        if self.exists():  # also where create is check-then-write
            return
        foreign = self._foreign_objects()
        if foreign:
            raise InvalidArgumentError(
                f"cannot create a streamvis log at {self.url}: the prefix holds "
                f"{len(foreign)} object(s) that are not a streamvis log (e.g. {foreign[0]!r}); "
                "choose an empty prefix"
            )
        try:
            self.fs.pipe_file(self.header_path, header_frame, mode="create")
        except FileExistsError:
            pass  # someone created the log first: keep theirs
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"cannot create log {self.url}: {self.missing_reason()}") from exc
        except Exception as exc:
            raise self._io(exc, "creating the header") from exc
        self._invalidate(self.root)

    def _bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def _foreign_objects(self) -> list[str]:
        """Objects under the log's prefix that a streamvis log does not hold."""
        try:
            paths = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._io(exc, "listing the prefix") from exc
        ours = {"header", "segments", "index.arrow", "bases"}
        return sorted(
            p.rstrip("/").rsplit("/", 1)[-1]
            for p in paths
            if p.rstrip("/").rsplit("/", 1)[-1] not in ours
        )

    def missing_reason(self) -> str:
        """Names what is wrong: no bucket, other objects, or simply no log."""
        bucket = self._bucket()
        try:
            if "://" in self.url and not self.url.startswith("memory://"):
                if not self.fs.exists(bucket):
                    return f"the bucket {bucket!r} of {self.url} does not exist"
            foreign = self._foreign_objects()
        except Exception as exc:  # permissions, network: say what was tried
            return f"no streamvis log at {self.url} ({exc.__class__.__name__}: {exc})"
        if foreign:
            return (
                f"no streamvis log at {self.url}: the prefix holds {len(foreign)} object(s) "
                f"that are not one (e.g. {foreign[0]!r}) and no header"
            )
        return f"no streamvis log at {self.url}"

    def identity(self) -> object:
        """(header bytes, newest generation): a compaction adds a generation manifest.

        The header is read once (it never changes); the generation comes from a
        listing, which ``new_chunks`` then reuses: a refresh is one request when idle.
        """
        if self._header is None:
            try:
                self._header = bytes(self.fs.cat_file(self.header_path, start=0, end=None))
            except FileNotFoundError:
                raise LogNotFoundError(f"no streamvis log at {self.url}") from None
            except Exception as exc:
                raise self._io(exc, "reading the header") from exc
        if self._listed_from is None:  # opening: only the manifests, not the segments
            try:
                names = list_names(self.fs, self.segments_dir, "~")
            except FileNotFoundError:
                names = []
            except Exception as exc:
                raise self._io(exc, "listing generations") from exc
            with self._mutex:
                self._note_manifests(names)
        else:
            self._list_from(max(0, self._clock - self.lookback_ns))
            self._just_listed = time.monotonic()
        return (self._header, self.generation)

    def read_header(self) -> bytes:
        """The header frame, carrying the newest generation."""
        if self._header is None:
            self.identity()
        assert self._header is not None
        generation = self.generation
        if generation is None:
            return self._header
        from streamvis.storage.framing import encode_frame
        from streamvis.storage.records import header_payload
        from streamvis.storage.scan import parse_header

        log_id = parse_header(self._header).log_id
        return encode_frame(header_payload(log_id, generation))

    # -- reading ---------------------------------------------------------------------
    def new_chunks(self, positions: dict[str, int]) -> Iterator[Chunk]:
        if time.monotonic() - self._just_listed < 1.0:
            self._just_listed = 0.0
        else:
            self._ensure_listed(positions)
        yield from self._fetch(self._pick(self._listing, positions, None))

    def chunks_between(self, start: dict[str, int], end: dict[str, int]) -> Iterator[Chunk]:
        known: dict[str, int] = {}
        for _, writer, seq in self._listing:
            known[writer] = max(known.get(writer, -1), seq)
        base = self._base if self._base is not None else {}
        if any(v < base.get(w, -1) for w, v in start.items()) or any(
            w not in start for w in base
        ):
            self._base = {}  # a cursor older than what we listed: list everything once
            self._list_from(0)
        elif any(seq > known.get(writer, -1) for writer, seq in end.items()):
            self._ensure_listed(start)  # ``end`` came from elsewhere: look again
        yield from self._fetch(self._pick(self._listing, start, end))

    def read(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        hit = self.cache.get(key, offset, length)
        if hit is not None:
            return hit
        fetch = max(length, READ_AHEAD)
        try:  # explicit start and end: emulators answer a suffix range with everything
            data = bytes(self.fs.cat_file(self._path(key), start=offset, end=offset + fetch))
        except FileNotFoundError as exc:
            raise LogNotFoundError(f"segment {key} of {self.url} is gone (compaction?)") from exc
        except Exception as exc:
            raise self._io(exc, f"reading segment {key}") from exc
        self.cache.put(key, data, offset, whole=offset == 0 and len(data) < fetch)
        return data[:length]

    def read_many(self, ranges: list[tuple[str, int, int]]) -> list[bytes]:
        """``read`` for many (key, offset, length) at once, fetched concurrently."""
        out: list[bytes | None] = [self.cache.get(k, o, n) for k, o, n in ranges]
        todo = [i for i, hit in enumerate(out) if hit is None]
        for j in range(0, len(todo), _FETCH_BATCH):
            part = [ranges[i] for i in todo[j : j + _FETCH_BATCH]]
            paths = [self._path(k) for k, _, _ in part]
            try:
                blobs = self.fs.cat_ranges(
                    paths, [o for _, o, _ in part], [o + n for _, o, n in part], on_error="raise"
                )
            except FileNotFoundError as exc:
                raise LogNotFoundError(f"a segment of {self.url} is gone (compaction?)") from exc
            except Exception as exc:
                raise self._io(exc, "reading segments") from exc
            for i, blob in zip(todo[j : j + _FETCH_BATCH], blobs, strict=True):
                out[i] = bytes(blob)
        return [b if b is not None else b"" for b in out]

    def advance(self, positions: dict[str, int], key: str, end: int) -> None:
        parsed = parse_segment_name(key)
        if parsed is not None:
            t, writer, seq = parsed
            if seq > positions.get(writer, -1):
                positions[writer] = seq
            if t > self._clock:
                with self._mutex:
                    self._clock = max(self._clock, t)  # e.g. an index's last record

    # -- writing ---------------------------------------------------------------------
    def writer_lock(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # object stores have no lock; see the docstring

    def append(self, data: bytes, *, writer: str, seq: int) -> tuple[str, int]:
        if not re.fullmatch(r"[0-9a-f]*", writer) or seq < 0:
            raise InvalidArgumentError(
                f"writer must be lowercase hex and seq >= 0: {writer!r}, {seq}"
            )
        return self._put(data, writer, seq), 0

    def _put(self, data: bytes, writer: str, seq: int) -> str:
        """Create one segment under a fresh name above everything seen; its name."""
        with self._mutex:
            self._clock = max(self._clock + 1, self._now())
            t = self._clock
            name = segment_name(t, writer, seq)
        path = self._path(name)
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
        self.cache.put(name, data, whole=True)
        with self._mutex:
            entry = self._note(name)
            if entry is not None:
                listing = list(self._listing)  # replaced, never mutated: readers iterate it
                bisect.insort(listing, entry)
                self._listing = listing
            self._unchecked.append(_Unchecked(name, t, writer, seq, data, time.monotonic()))
        return name

    def _peek(self, path: str) -> bytes | None:
        """The object's bytes, or None when it is missing or unreadable."""
        try:
            return bytes(self.fs.cat_file(path, start=0, end=None))
        except Exception:
            return None

    def close(self) -> None:
        """Confirm the order of what we wrote last (one listing), see the docstring."""
        if self._unchecked:
            with contextlib.suppress(Exception):
                self._list_from(max(0, self._clock - self.lookback_ns))

    # -- index -----------------------------------------------------------------------
    def read_index(self) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self.index_path, start=0, end=None))
        except FileNotFoundError:
            return None
        except Exception:
            return None  # the index is a cache: rebuild from the log

    def write_index(self, data: bytes) -> None:
        try:
            self.fs.pipe_file(self.index_path, data)  # one object, replaced whole
        except Exception as exc:
            raise self._io(exc, "writing the index") from exc
