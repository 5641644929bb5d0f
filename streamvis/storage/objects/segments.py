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

Order. Readers apply segments sorted by name, so by ``t``, a time stamp in ns: the
writer's clock plus a skew, lifted (never lowered) to the highest name any of its
listings showed, so writers whose clocks differ converge on the fastest one. A flush
is one PUT and one probe: a listing of the names above the new one (in steady state an
empty page), which lifts the clock and finds late segments. A writer lists more only
where ordering needs it: before a deletion, a config, or a name's first write
(``order``: the names above the next one), so a tombstone sorts after everything visible
when it was made, and a name written after a visible tombstone is not hidden by it.
It never downloads the other writers' segments: schema races are resolved by readers
(the first in log order wins). A writer's seqs must be created in increasing order;
several copies of one (writer, seq) are read once (the first).

Listing only what is new. A follower lists ``U/segments/`` from its ``FollowWindow``
start (``startOffset`` on GCS, ``StartAfter`` on S3; ``listing``): ``lookback``
of name time behind the newest name it listed while the log is active, but no more than
``relist_depth`` names deep, and the newest name itself once the log has been idle for
``hold_s``. A segment is "late" when it appears below names a follower may have listed
past. Its writer re-stores it (a copy above everything visible; readers take the first
copy of a (writer, seq)) when its probe shows a foreign name more than ``lookback``
above it or ``relist_depth`` foreign names above it, or when its upload took more than
``slow_upload_s``; a writer that has not listed for ``relist_after_s`` lists before
naming. Together these bound when an unconfirmed segment can appear below a follower's
start (docs/CONTRACTS.md, "Listing rule"). Only a writer that dies between an upload
and its probe can leave a late segment that current followers do not see: a fresh
open finds it until a compaction's frontier passes its time.

Generations. Compaction (``compact``) merges segments into ``U/bases/...`` and
publishes generation ``g`` as a manifest ``U/segments/~gen-{g:012d}`` (``~`` sorts after
every segment: every listing sees it); readers read its bases, then segments at or after
its frontier.

Positions (cursor content) are ``{writer_hex: last seq consumed}`` in every generation
(compaction moves batches, never changes them: ``batch_filter``). No lock:
``writer_lock`` is a no-op; an object is durable once ``pipe_file`` returns.

Costs: an idle refresh is one listing (the header is read once; a cold open with an
index lists from where the index ends); an append is one PUT and one probe; new
segments are fetched concurrently, once, and stay in a small LRU (``ByteCache``) that
serves the read since a cursor. Small ranged reads read ahead (``READ_AHEAD``).

Parts: ``SegmentLog`` follows and reads the log and owns ``ObjectPrefix`` (``prefix``:
the objects, their names and reads), ``KnownSegments`` (``known``: the names listed or
written, the name clock), ``Uploads`` (``uploads``: naming, creating and confirming
our segments) and ``Generations`` (``generations``: manifests, bases, auto-compaction).
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamvis.errors import InvalidArgumentError, LogNotFoundError
from streamvis.storage.backend import Chunk, LogBackend
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.format.scan import parse_header
from streamvis.storage.objects.byte_cache import ByteCache
from streamvis.storage.objects.generations import Generations, index_clock
from streamvis.storage.objects.known import KnownSegments, Listed
from streamvis.storage.objects.listing import FollowWindow, list_names
from streamvis.storage.objects.prefix import (
    ObjectPrefix,
    manifest_name,
    parse_segment_name,
    segment_name,
)
from streamvis.storage.objects.uploads import Unchecked, Uploads

__all__ = ["SegmentLog", "segment_name", "parse_segment_name", "manifest_name", "LOOKBACK_NS", "RELIST_DEPTH"]

LOOKBACK_NS = 5 * 10**9  # listings start this far (in name time) behind the newest name
RELIST_DEPTH = 500  # ...but never more names deep than this (with 500 new: one page)
SLOW_UPLOAD_S = 25.0  # a segment whose upload took longer is stored again (a copy)
RELIST_AFTER_S = 10.0  # a writer that has not listed for this long lists before naming
AUTO_COMPACT_SEGMENTS = 500  # a writer compacts above this many live segments (+ up to 50%)


class SegmentLog(LogBackend):
    """A log made of immutable segment objects; see the module docstring. It owns the
    objects under its prefix (``prefix``), the names it knows (``known``) and the
    generations of compacted bases (``generations``)."""

    readers_write_index = False  # readers may hold read-only credentials: never write
    appends_follow_log = False  # a flush is one PUT; ``order`` where ordering needs it

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        fs: Any = None,
        clock: Callable[[], int] = time.time_ns,
        lookback_ns: int | None = None,
        cache_bytes: int = 32 << 20,
        slow_upload_s: float = SLOW_UPLOAD_S,
        relist_after_s: float = RELIST_AFTER_S,
        hold_margin_s: float = 5.0,
        relist_depth: int = RELIST_DEPTH,
    ) -> None:
        """``fs``: a filesystem (tests wrap one); ``clock``: ns; the rest: the Listing rule."""
        self.prefix = ObjectPrefix(url, storage_options, fs=fs, cache_bytes=cache_bytes)
        self.url = self.prefix.url
        self._now = clock
        self.known = KnownSegments(clock)
        self._mutex = self.known.mutex  # guards the listing state (ours and ``known``'s)
        self.lookback_ns = LOOKBACK_NS if lookback_ns is None else lookback_ns
        if relist_depth < 1:
            raise InvalidArgumentError(f"relist_depth must be >= 1: {relist_depth!r}")
        self.relist_depth = relist_depth
        # a follower keeps re-listing the lookback window this long after the log's last
        # new name: the longest an unconfirmed segment can take to appear (CONTRACTS)
        self._window = FollowWindow(relist_after_s + slow_upload_s + hold_margin_s)
        self._listed_from: int | None = None  # lowest start time listed (complete above)
        self._base: dict[str, int] | None = None  # positions when we first listed
        self.uploads = Uploads(
            self.prefix,
            self.known,
            lookback_ns=self.lookback_ns,
            relist_depth=relist_depth,
            slow_upload_s=slow_upload_s,
            relist_after_s=relist_after_s,
        )
        self.generations = Generations(
            self.prefix,
            self.known,
            AUTO_COMPACT_SEGMENTS + random.randrange(AUTO_COMPACT_SEGMENTS // 2),
        )
        self._index_bytes: bytes | None = None  # fetched by the first identity()
        # read before opening (the foreign-file check): the first identity() reuses it
        self._index_read_early: tuple[bytes | None] | None = None
        self._just_listed = 0.0  # when identity() listed: the next new_chunks need not

    # -- the parts' state, under the names tools and tests use ------------------------
    @property
    def segments_dir(self) -> str:
        return self.prefix.segments_dir

    @property
    def cache(self) -> ByteCache:
        return self.prefix.cache

    @cache.setter
    def cache(self, cache: ByteCache) -> None:
        self.prefix.cache = cache

    def read_json(self, key: str) -> Any:
        """An object's JSON (``ObjectPrefix.read_json``)."""
        return self.prefix.read_json(key)

    @property
    def generation(self) -> int | None:
        """The newest generation whose manifest we listed (None: the header's)."""
        return self.generations.generation

    @property
    def bases(self) -> list[dict[str, Any]]:
        return self.generations.bases

    @property
    def manifest(self) -> dict[str, Any]:
        return self.generations.manifest

    @property
    def compaction(self) -> threading.Thread | None:
        return self.generations.compaction

    @property
    def auto_compact_at(self) -> int | None:
        return self.generations.auto_compact_at

    @auto_compact_at.setter
    def auto_compact_at(self, value: int | None) -> None:
        self.generations.auto_compact_at = value

    @property
    def count_every(self) -> int:
        return self.generations.count_every

    @count_every.setter
    def count_every(self, value: int) -> None:
        self.generations.count_every = value

    @property
    def republished(self) -> int:
        """Copies stored because a segment may have been listed past."""
        return self.uploads.republished

    @property
    def _unchecked(self) -> list[Unchecked]:
        return self.uploads.unchecked

    def live_segments(self) -> int:
        """Segments known above the frontier (what a fresh reader lists and reads)."""
        return self.generations.live_segments()

    def wait_compaction(self, timeout: float | None = None) -> bool:
        """Wait for the background compaction this writer started; True when none runs."""
        return self.generations.wait_compaction(timeout)

    # -- LogBackend: the objects ------------------------------------------------------
    def exists(self) -> bool:
        return self.prefix.exists()

    def create(self, header_frame: bytes) -> None:
        self.prefix.create(header_frame)

    def missing_reason(self) -> str:
        return self.prefix.missing_reason()

    def read(self, key: str, offset: int, length: int) -> bytes:
        return self.prefix.read(key, offset, length)

    def read_many(self, ranges: list[tuple[str, int, int]]) -> list[bytes]:
        return self.prefix.read_many(ranges)

    def write_index(self, data: bytes) -> None:
        self.prefix.write_index(data)

    def maintenance_due(self) -> bool:
        return self.generations.maintenance_due()

    def read_header(self) -> bytes:
        """The header frame, carrying the newest generation."""
        if self.prefix.header is None:
            self.identity()
        assert self.prefix.header is not None
        generation = self.generations.generation
        if generation is None:
            return self.prefix.header
        log_id = parse_header(self.prefix.header).log_id
        return encode_frame(header_payload(log_id, generation))

    def _list_from(self, start_t: int) -> None:
        """List segment names from time ``start_t`` on and merge them into ours (a
        follower's listing: complete above ``start_t``); then confirm (or re-store) the
        segments we wrote before this listing started."""
        started = time.monotonic()
        names = self.prefix.list_segments(start_t, "listing segments")
        with self._mutex:
            self.generations.note_manifests(names)
            fresh = [e for e in map(self.known.note, names) if e is not None]
            if fresh:
                self.known.insert(fresh)
            if self._listed_from is None or start_t < self._listed_from:
                self._listed_from = start_t
            self._window.listed(self.known.lift(names), started, deepest=self._deepest(names))
            due = self.uploads.take_due(started, start_t)
        self.uploads.confirm(due, names)

    def _deepest(self, names: list[str]) -> int:
        """The time of the ``relist_depth``-th highest segment name of a complete listing
        (0 when it holds fewer): a follower need not list below it again."""
        segments = [n for n in names if n < "~"]  # the manifests sort after every segment
        if len(segments) < self.relist_depth:
            return 0
        parsed = parse_segment_name(heapq.nlargest(self.relist_depth, segments)[-1])
        return parsed[0] if parsed is not None else 0

    def sync(self) -> None:
        """After a group of appends (``Store.append_many``): one probe for all of them."""
        self.uploads.probe()

    def order(self) -> None:
        """Before a batch that ordering needs (a deletion, a config, a name's first
        write): lift the clock above every name visible now (``Uploads.order``)."""
        self.uploads.order()

    def _start(self) -> int:
        """Where a follower's listing of what is new starts (time)."""
        return max(self.generations.frontier, self._window.start(self.lookback_ns))

    def _ensure_listed(self, positions: dict[str, int]) -> None:
        """List what may be new since our last listing (or since ``positions``)."""
        if self._listed_from is None:
            if positions and self._window.newest:  # an index told us where we are
                self._list_from(self._start())
            else:
                self._list_from(self.generations.frontier)
            return
        self._list_from(self._start())

    def _first_use(self, positions: dict[str, int]) -> None:
        """Remember where the store started; without positions, know every live name."""
        if self._base is None:
            self._base = dict(positions)
        if not positions and (self._listed_from is None or self._listed_from > self.generations.frontier):
            self._list_from(self.generations.frontier)  # e.g. an index hint we listed from was refused

    def _fetch(self, picked: list[Listed]) -> Iterator[Chunk]:
        for name, data in self.prefix.fetch_whole([name for name, _, _ in picked]):
            yield Chunk(name, 0, data, complete=True)

    def _pick(
        self, listing: list[Listed], start: dict[str, int], end: dict[str, int] | None
    ) -> list[Listed]:
        """Segments past ``start`` (and not past ``end``), one per (writer, seq), in order;
        none below the frontier (those are in the bases)."""
        seen: set[tuple[str, int]] = set()
        out = []
        lo = bisect.bisect_left(listing, (f"{self.generations.frontier:020d}",)) if self.generations.frontier else 0
        held = self.generations.in_bases()
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

    def covers_known(self, positions: dict[str, int]) -> bool:
        return not self._pick(self.known.listing, positions, None)

    # -- opening -----------------------------------------------------------------------
    def identity(self) -> object:
        """(header bytes, newest generation): a compaction adds a generation manifest.

        The header is read once (it never changes); the generation comes from a
        listing, which ``new_chunks`` then reuses: a refresh is one request when idle.
        """
        if self.prefix.header is None:
            try:
                self.prefix.header = bytes(self.prefix.fs.cat_file(self.prefix.header_path, start=0, end=None))
            except FileNotFoundError:
                raise LogNotFoundError(f"no streamvis log at {self.url}") from None
            except Exception as exc:
                raise self.prefix.io_error(exc, "reading the header") from exc
        if self._listed_from is None:  # opening
            early, self._index_read_early = self._index_read_early, None
            self._index_bytes = early[0] if early is not None else self.prefix.read_index()
            hint = index_clock(self._index_bytes)
            if hint:  # the index names its last segment: our clock starts there
                self.known.clock = max(self.known.clock, hint)
                # ...but its writer may not have read the other writers' segments (writers
                # do not, to keep flushes flat), so list every name of this generation:
                # those its positions cover are skipped, the rest are read
                self._list_from(self.generations.frontier)
                self._window.listed(hint)
                self._just_listed = time.monotonic()
            else:  # only the manifests, not the segments
                try:
                    names = list_names(self.prefix.fs, self.prefix.segments_dir, "~")
                except FileNotFoundError:
                    names = []
                except Exception as exc:
                    raise self.prefix.io_error(exc, "listing generations") from exc
                with self._mutex:
                    self.generations.note_manifests(names)
        else:
            self._list_from(self._start())
            self._just_listed = time.monotonic()
        self.generations.load_manifest()
        return (self.prefix.header, self.generations.generation)

    def read_index(self) -> bytes | None:
        data, self._index_bytes = self._index_bytes, None
        if data is not None:
            return data
        data = self.prefix.read_index()
        if self._listed_from is None:  # not opened yet: the opening will want these bytes
            self._index_read_early = (data,)
        return data

    def new_chunks(self, positions: dict[str, int]) -> Iterator[Chunk]:
        if time.monotonic() - self._just_listed < 1.0:
            self._just_listed = 0.0
        else:
            self._ensure_listed(positions)
        self._first_use(positions)
        yield from self.generations.base_chunks(positions)
        yield from self._fetch(self._pick(self.known.listing, positions, None))

    def chunks_between(self, start: dict[str, int], end: dict[str, int]) -> Iterator[Chunk]:
        known: dict[str, int] = {}
        for _, writer, seq in self.known.listing:
            known[writer] = max(known.get(writer, -1), seq)
        base = self._base if self._base is not None else {}
        if any(v < base.get(w, -1) for w, v in start.items()) or any(
            w not in start for w in base
        ):
            self._base = {}  # a cursor older than what we listed: list everything once
            self._list_from(self.generations.frontier)
        elif any(seq > known.get(writer, -1) for writer, seq in end.items()):
            self._ensure_listed(start)  # ``end`` came from elsewhere: look again
        yield from self.generations.base_chunks(start, end)
        yield from self._fetch(self._pick(self.known.listing, start, end))

    def advance(self, positions: dict[str, int], key: str, end: int) -> None:
        if key.startswith("bases/"):
            for base in self.generations.bases:
                if base["key"] == key:
                    for writer, seq in (base.get("writers") or {}).items():
                        positions[writer] = max(positions.get(writer, -1), int(seq))
            return
        parsed = parse_segment_name(key)
        if parsed is not None:
            t, writer, seq = parsed
            positions[writer] = max(positions.get(writer, -1), seq)
            if t > self.known.clock:
                with self._mutex:
                    self.known.clock = max(self.known.clock, t)  # e.g. an index's last record

    # -- writing ---------------------------------------------------------------------
    def carries_cursor(self, old: int, new: int) -> bool:
        return 1 <= old <= new  # cursors of older generations stay valid (Positions)

    def batch_filter(
        self, start: dict[str, int], end: dict[str, int]
    ) -> Callable[[bytes, int], bool] | None:
        """Which batches a read between two positions takes (bases hold many writers').
        A batch of a writer no position names is inside a data server's one-object group
        (``StoreWriter._write_group``): it goes with the group's marker batch before it."""
        taken = [False]

        def keep(writer: bytes, seq: int) -> bool:
            w = writer.hex()
            if w in end or w in start:
                taken[0] = start.get(w, -1) < seq <= end.get(w, -1)
            return taken[0]

        return keep

    def writer_lock(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # object stores have no lock; see the docstring

    def append(self, data: bytes, *, writer: str, seq: int) -> tuple[str, int]:
        return self.uploads.append(data, writer=writer, seq=seq)

    def close(self) -> None:
        """Confirm what we wrote last if a probe failed (one listing)."""
        if self.uploads.unchecked:
            with contextlib.suppress(Exception):
                self.uploads.probe()

    @property
    def clock(self) -> int:
        """The newest segment time seen or written (ns)."""
        return self.known.clock

    def list_between(self, lo: int, hi: int) -> list[Listed]:
        """Every segment named in [lo, hi) time, listed now (paged; for compaction)."""
        self._list_from(lo)
        return self.known.between(lo, hi)

    def whole(self, key: str) -> bytes:
        """An object's bytes, from the cache when held."""
        data = self.prefix.cache.whole(key)
        return data if data is not None else self.prefix.read_object(key)
