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
start (``startOffset`` on GCS, ``StartAfter`` on S3; ``object_listing``): ``lookback``
of name time behind the newest name it listed while the log is active, the newest name
itself once the log has been idle for ``hold_s``. A segment is "late" when it appears
below names a follower may have listed past. Its writer re-stores it (a copy above
everything visible; readers take the first copy of a (writer, seq)) when its probe
shows a foreign name more than ``lookback`` above it, or when its upload took more than
``slow_upload_s``; a writer that has not listed for ``relist_after_s`` lists before
naming. Together these bound when an unconfirmed segment can appear below a follower's
start (docs/CONTRACTS.md, "Listing rule"). Only a writer that dies between an upload
and its probe can leave a late segment that current followers do not see: a fresh
open finds it until a compaction's frontier passes its time.

Generations. Compaction (``object_compact``) merges segments into ``U/bases/...`` and
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
from streamvis.storage.objects.generations import Generations, index_clock
from streamvis.storage.objects.listing import FollowWindow, list_names
from streamvis.storage.objects.prefix import (
    ObjectPrefix,
    manifest_name,
    parse_segment_name,
    segment_name,
)

__all__ = ["SegmentLog", "segment_name", "parse_segment_name", "manifest_name", "LOOKBACK_NS"]

LOOKBACK_NS = 5 * 10**9  # listings start this far (in name time) behind the newest name
SLOW_UPLOAD_S = 25.0  # a segment whose upload took longer is stored again (a copy)
RELIST_AFTER_S = 10.0  # a writer that has not listed for this long lists before naming
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
    took: float  # seconds from naming it to its PUT's return


class SegmentLog(Generations, ObjectPrefix, LogBackend):
    """A log made of immutable segment objects; see the module docstring."""

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
    ) -> None:
        """``fs``: a filesystem (tests wrap one); ``clock``: ns; the rest: the Listing rule."""
        super().__init__(url, storage_options, fs=fs, cache_bytes=cache_bytes)
        self._now = clock
        self.lookback_ns = LOOKBACK_NS if lookback_ns is None else lookback_ns
        self.slow_upload_s = slow_upload_s
        self.relist_after_s = relist_after_s
        # a follower keeps re-listing the lookback window this long after the log's last
        # new name: the longest an unconfirmed segment can take to appear (CONTRACTS)
        self._window = FollowWindow(relist_after_s + slow_upload_s + hold_margin_s)
        self.republished = 0  # copies stored because a segment may have been listed past
        self._skew = 0  # added to our clock: lifted to the highest name listings showed
        self._lifted_at: float | None = None  # monotonic time of the last complete lift
        self._written: set[str] = set()  # names we created (not foreign to our probes)
        self._failed: dict[tuple[str, int], tuple[str, bytes]] = {}  # unconfirmed uploads
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
        self.compaction: threading.Thread | None = None  # object_compact.auto_compact's
        self.count_every, self._since_count, self._counted = 50, 0, 0  # maintenance_due
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

    def _lift(self, names: list[str]) -> int:
        """Raise our clock and skew to the highest segment name in ``names`` (under the
        mutex); that time (0: none)."""
        top = max((p[0] for p in map(parse_segment_name, names) if p is not None), default=0)
        if top:
            self._clock = max(self._clock, top)
            self._skew = max(self._skew, top - self._now())
        self._lifted_at = time.monotonic()
        return top

    def _names_from(self, start_t: int, doing: str) -> list[str]:
        try:
            return list_names(self.fs, self.segments_dir, f"{start_t:020d}" if start_t else "")
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._io(exc, doing) from exc

    def _list_from(self, start_t: int) -> None:
        """List segment names from time ``start_t`` on and merge them into ours (a
        follower's listing: complete above ``start_t``); then confirm (or re-store) the
        segments we wrote before this listing started."""
        started = time.monotonic()
        names = self._names_from(start_t, "listing segments")
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
            self._window.listed(self._lift(names), started)
            due = [u for u in self._unchecked if u.written_at <= started]
            self._unchecked = [u for u in self._unchecked if u.written_at > started]
        for u in due:
            if self._late(u, names):
                self._restore(u)

    def _late(self, u: _Unchecked, listed: list[str]) -> bool:
        """May a follower have listed past ``u``? (its upload was slow, or a name of
        another writer more than ``lookback`` above it was visible)"""
        if u.took > self.slow_upload_s:
            return True
        limit = u.t + self.lookback_ns
        for name in listed:
            parsed = parse_segment_name(name)
            if parsed is not None and parsed[0] > limit and name not in self._written:
                return True
        return False

    def _restore(self, u: _Unchecked) -> None:  # a copy above all (readers take the first)
        self.republished += 1
        self._put(u.data, u.writer, u.seq)

    def _probe(self, depth: int = 0) -> None:
        """One listing of the names above our oldest unconfirmed segment (empty when clocks
        agree): lifts the clock, re-stores late ones; if it fails: at the next ``sync``."""
        with self._mutex:
            pending, self._unchecked = self._unchecked, []
        if not pending:
            return
        oldest = min(u.t for u in pending)
        try:
            names = self._names_from(oldest + 1, "probing segments")
        except Exception:
            with self._mutex:
                self._unchecked = pending + self._unchecked
            return
        with self._mutex:  # lift; forget our names no probe will look at again
            self._lift(names)
            self._written = {n for n in self._written if n > f"{oldest:020d}"}
        late = [u for u in pending if self._late(u, names)]
        for u in late:
            self._restore(u)
        if late and depth < 3:  # a copy that is late again is copied again, a few times
            self._probe(depth + 1)

    def sync(self) -> None:
        """After a group of appends (``Store.append_many``): one probe for all of them."""
        self._probe()

    def order(self) -> None:
        """Before a batch that ordering needs (a deletion, a config, a name's first
        write): lift the clock above every name visible now (one listing of the names
        above the one we would take now), so the batch sorts after all of them."""
        names = self._names_from(max(self._clock, self._now() + self._skew) + 1, "listing")
        with self._mutex:
            self._lift(names)

    def _start(self) -> int:
        """Where a follower's listing of what is new starts (time)."""
        return max(self.frontier, self._window.start(self.lookback_ns))

    def _ensure_listed(self, positions: dict[str, int]) -> None:
        """List what may be new since our last listing (or since ``positions``)."""
        if self._listed_from is None:
            if positions and self._window.newest:  # an index told us where we are
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
        for name, data in self.fetch_whole([name for name, _, _ in picked]):
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
                self._window.listed(hint)
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
            positions[writer] = max(positions.get(writer, -1), seq)
            if t > self._clock:
                with self._mutex:
                    self._clock = max(self._clock, t)  # e.g. an index's last record

    # -- writing ---------------------------------------------------------------------
    def carries_cursor(self, old: int, new: int) -> bool:
        return 1 <= old <= new  # cursors of older generations stay valid (Positions)

    def batch_filter(
        self, start: dict[str, int], end: dict[str, int]
    ) -> Callable[[bytes, int], bool] | None:
        """Which batches a read between two positions takes (bases hold many writers').
        A batch of a writer no position names is inside a data server's one-object group
        (``Store._write_group``): it goes with the group's marker batch before it."""
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
        if not re.fullmatch(r"[0-9a-f]*", writer) or seq < 0:
            raise InvalidArgumentError(
                f"writer must be lowercase hex and seq >= 0: {writer!r}, {seq}"
            )
        earlier = self._failed.pop((writer, seq), None)
        if earlier is not None:  # a retry of an upload whose outcome we could not read
            landed = self._peek(self._path(earlier[0]))
            if landed == earlier[1]:
                return earlier[0], -1  # it landed: stored once (the Store answers duplicate)
            if landed is not None:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(self._path(earlier[0]))
        return self._put(data, writer, seq), 0

    def _put(self, data: bytes, writer: str, seq: int) -> str:
        """Create one segment under a fresh name above everything seen (``sync``, after
        the group, probes); its name."""
        if self._lifted_at is None or time.monotonic() - self._lifted_at > self.relist_after_s:
            self.order()  # our clock may lag names that appeared since we last listed
        named_at = time.monotonic()
        with self._mutex:
            self._clock = max(self._clock + 1, self._now() + self._skew)
            t = self._clock
            name = segment_name(t, writer, seq)
            self._written.add(name)
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
                else:  # unreadable: a retry of this batch looks again (``append``)
                    self._failed[(writer, seq)] = (name, data)
                raise self._io(exc, f"writing segment {name}") from exc
            # the write landed whole; only its answer was lost
        done = time.monotonic()
        self.cache.put(name, data, whole=True)
        with self._mutex:
            entry = self._note(name)
            if entry is not None:
                listing = list(self._listing)  # replaced, never mutated: readers iterate it
                bisect.insort(listing, entry)
                self._listing = listing
            self._unchecked.append(_Unchecked(name, t, writer, seq, data, done, done - named_at))
        return name

    def close(self) -> None:
        """Confirm what we wrote last if a probe failed (one listing)."""
        if self._unchecked:
            with contextlib.suppress(Exception):
                self._probe()

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
