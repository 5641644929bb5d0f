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
late segment that current followers do not see: a fresh open finds it until a
compaction's frontier passes its time, after which no reader does.

Generations. Compaction (``object_compact``) merges segments into base objects
``U/bases/...`` and publishes generation ``g`` as a manifest ``U/segments/~gen-{g:012d}``
(created exclusively; ``~`` sorts after every segment name, so every listing sees the
newest manifest for free). A reader of generation ``g`` reads its bases, then the
segments named at or after its frontier; a writer compacts when it knows more than
``AUTO_COMPACT_SEGMENTS`` live segments, so a reader opens about 1,000 objects at most.

Positions (cursor content) are per writer, ``{writer_hex: last seq consumed}``, the
same in every generation: compaction moves batches, never changes them, so a cursor of
an older generation carries over (the bases it has not read are read, and their batches
filtered by seq: ``batch_filter``).

No lock: ``writer_lock`` is a no-op. Writers on different machines may race to fix
the schema of a new name; the first in log order wins (readers skip the loser's
records: a Store-side rule). Durability: an object exists durably once ``pipe_file``
returns, so ``sync`` has nothing to do.

Costs: an idle refresh is one listing of the last ``lookback`` of names (the header
is read once; a cold open with an index lists from where the index ends); an append
adds one PUT; new segments are fetched concurrently, once: the bytes a refresh
fetched (and the bytes a writer wrote) stay in a small LRU (``ByteCache``), from
which the read since a cursor that follows is served. Small ranged reads read ahead
(``READ_AHEAD``) so a record's length probe and the record are one GET.
"""

from __future__ import annotations

import bisect
import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from streamvis.errors import ConflictError, InvalidArgumentError, LogNotFoundError
from streamvis.storage.backend import Chunk, LogBackend
from streamvis.storage.generations import Generations, index_clock
from streamvis.storage.object_listing import list_names
from streamvis.storage.object_prefix import (
    FETCH_BATCH,
    ObjectPrefix,
    manifest_name,
    parse_segment_name,
    segment_name,
)

__all__ = ["SegmentLog", "segment_name", "parse_segment_name", "manifest_name", "LOOKBACK_NS"]

LOOKBACK_NS = 5 * 10**9  # listings start this far (in name time) behind the newest name
AUTO_COMPACT_SEGMENTS = 500  # a writer compacts above this many live segments (+ up to 50%)
Listed = tuple[str, str, int]  # (name, writer hex, seq)


@dataclass
class _Unchecked:
    """A segment we wrote whose order no listing has confirmed yet (see the docstring)."""

    name: str
    t: int
    writer: str
    seq: int
    data: bytes
    written_at: float  # time.monotonic() when its PUT returned


class SegmentLog(Generations, ObjectPrefix, LogBackend):
    """A log made of immutable segment objects; see the module docstring."""

    readers_write_index = False  # readers may hold read-only credentials: never write

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: Any = None,
        clock: Callable[[], int] = time.time_ns,
        lookback_ns: int | None = None,
        cache_bytes: int = 32 << 20,
    ) -> None:
        """``fs`` overrides the filesystem (tests wrap one); ``clock`` gives ns time stamps."""
        super().__init__(url, storage_options, fs=fs, cache_bytes=cache_bytes)
        self._now = clock
        self.lookback_ns = LOOKBACK_NS if lookback_ns is None else lookback_ns
        self.republished = 0  # copies stored because a segment may have been listed past
        self._listing: list[Listed] = []  # every segment known, sorted by name
        self._names: set[str] = set()
        self._time_of: dict[tuple[str, int], int] = {}  # (writer, seq) -> t of its first copy
        self._clock = 0  # highest time prefix seen or written
        self._listed_from: int | None = None  # lowest start time listed (complete above)
        self._base: dict[str, int] | None = None  # positions when we first listed
        self._unchecked: list[_Unchecked] = []
        self._manifests: set[int] = set()  # generations whose manifest we listed
        self.bases: list[dict[str, Any]] = []  # the newest generation's base objects
        self.frontier = 0  # segments named below this time are in the bases
        self._loaded_generation: int | None = None
        self.manifest: dict[str, Any] = {}
        # None: never compact automatically (readers never do: they do not write)
        self.auto_compact_at: int | None = AUTO_COMPACT_SEGMENTS + random.randrange(
            AUTO_COMPACT_SEGMENTS // 2
        )
        self._compact_after = 0  # live count at the last attempt: retry well above it
        self._index_bytes: bytes | None = None  # fetched by the first identity()
        # read before opening (the foreign-file check): the first identity() reuses it
        self._index_read_early: tuple[bytes | None] | None = None
        self._just_listed = 0.0  # when identity() listed: the next new_chunks need not
        self._mutex = threading.Lock()  # guards the listing state above

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

    def _start(self) -> int:
        """Where a listing of what is new starts (time)."""
        return max(self.frontier, self._clock - self.lookback_ns, 0)

    def _ensure_listed(self, positions: dict[str, int]) -> None:
        """List what may be new since our last listing (or since ``positions``)."""
        if self._listed_from is None:
            if positions and self._clock:  # an index told us where we are
                self._list_from(self._start())
            else:
                self._list_from(self.frontier)
            return
        self._list_from(self._start())

    def _first_use(self, positions: dict[str, int]) -> None:
        """Remember where the store started; without positions, know every live name."""
        if self._base is None:
            self._base = dict(positions)
        if not positions and (self._listed_from is None or self._listed_from > self.frontier):
            self._list_from(self.frontier)  # e.g. an index hint we listed from was refused

    def _fetch(self, picked: list[Listed]) -> Iterator[Chunk]:
        missing = [p for p in picked if self.cache.whole(p[0]) is None]
        for i in range(0, len(missing), FETCH_BATCH):
            part = missing[i : i + FETCH_BATCH]
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

    def _pick(
        self, listing: list[Listed], start: dict[str, int], end: dict[str, int] | None
    ) -> list[Listed]:
        """Segments past ``start`` (and not past ``end``), one per (writer, seq), in order;
        none below the frontier (those are in the bases)."""
        seen: set[tuple[str, int]] = set()
        out = []
        lo = bisect.bisect_left(listing, (f"{self.frontier:020d}",)) if self.frontier else 0
        held = self.in_bases()
        for name, writer, seq in listing[lo:]:
            if seq <= held.get(writer, -1):
                continue  # a copy of a batch the bases hold
            if seq <= start.get(writer, -1) or (end is not None and seq > end.get(writer, -1)):
                continue
            if (writer, seq) in seen:
                continue  # a second copy of a retried or re-stored batch
            seen.add((writer, seq))
            out.append((name, writer, seq))
        return out

    # -- opening -----------------------------------------------------------------------
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
        if self._listed_from is None:  # opening
            early, self._index_read_early = self._index_read_early, None
            self._index_bytes = early[0] if early is not None else super().read_index()
            hint = index_clock(self._index_bytes)
            if hint:  # list from where the index ends (it names its last segment)
                self._clock = max(self._clock, hint)
                self._list_from(max(0, hint - self.lookback_ns))
                self._just_listed = time.monotonic()
            else:  # only the manifests, not the segments
                try:
                    names = list_names(self.fs, self.segments_dir, "~")
                except FileNotFoundError:
                    names = []
                except Exception as exc:
                    raise self._io(exc, "listing generations") from exc
                with self._mutex:
                    self._note_manifests(names)
        else:
            self._list_from(self._start())
            self._just_listed = time.monotonic()
        self._load_manifest()
        return (self._header, self.generation)

    def read_index(self) -> bytes | None:
        data, self._index_bytes = self._index_bytes, None
        if data is not None:
            return data
        data = super().read_index()
        if self._listed_from is None:  # not opened yet: the opening will want these bytes
            self._index_read_early = (data,)
        return data

    def new_chunks(self, positions: dict[str, int]) -> Iterator[Chunk]:
        if time.monotonic() - self._just_listed < 1.0:
            self._just_listed = 0.0
        else:
            self._ensure_listed(positions)
        self._first_use(positions)
        yield from self._base_chunks(positions)
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
            self._list_from(self.frontier)
        elif any(seq > known.get(writer, -1) for writer, seq in end.items()):
            self._ensure_listed(start)  # ``end`` came from elsewhere: look again
        yield from self._base_chunks(start, end)
        yield from self._fetch(self._pick(self._listing, start, end))

    def advance(self, positions: dict[str, int], key: str, end: int) -> None:
        if key.startswith("bases/"):
            for base in self.bases:
                if base["key"] == key:
                    for writer, seq in (base.get("writers") or {}).items():
                        positions[writer] = max(positions.get(writer, -1), int(seq))
            return
        parsed = parse_segment_name(key)
        if parsed is not None:
            t, writer, seq = parsed
            if seq > positions.get(writer, -1):
                positions[writer] = seq
            if t > self._clock:
                with self._mutex:
                    self._clock = max(self._clock, t)  # e.g. an index's last record

    # -- writing ---------------------------------------------------------------------
    def carries_cursor(self, old: int, new: int) -> bool:
        """Cursors of older generations stay valid (see Positions in the docstring)."""
        return 1 <= old <= new

    def batch_filter(
        self, start: dict[str, int], end: dict[str, int]
    ) -> Callable[[bytes, int], bool] | None:
        """Which batches a read between two positions takes (bases hold many writers')."""
        return lambda writer, seq: start.get(writer.hex(), -1) < seq <= end.get(writer.hex(), -1)

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

    def close(self) -> None:
        """Confirm the order of what we wrote last (one listing), see the docstring."""
        if self._unchecked:
            with contextlib.suppress(Exception):
                self._list_from(self._start())

    @property
    def clock(self) -> int:
        """The newest segment time seen or written (ns)."""
        return self._clock

    def list_between(self, lo: int, hi: int) -> list[Listed]:
        """Every segment named in [lo, hi) time, listed now (paged; for compaction)."""
        self._list_from(lo)
        listing = self._listing
        a = bisect.bisect_left(listing, (f"{lo:020d}",))
        b = bisect.bisect_left(listing, (f"{hi:020d}",))
        return listing[a:b]

    def whole(self, key: str) -> bytes:
        """An object's bytes, from the cache when held."""
        data = self.cache.whole(key)
        return data if data is not None else self._read_object(key)
