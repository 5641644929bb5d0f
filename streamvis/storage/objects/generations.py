"""Generations of an object-store log: manifests, base objects, the frontier.

A mixin of ``SegmentLog`` (see its docstring and ``object_compact``): which generation
is the newest (manifests ``~gen-{g:012d}`` seen in listings), what it holds (its
manifest: base objects in order and the frontier time below which every segment is in
a base), the header frame carrying that generation, the chunks of the bases, and when
an appending Store should compact.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from typing import Any

from streamvis.errors import LogNotFoundError
from streamvis.storage.backend import Chunk
from streamvis.storage.objects.prefix import (
    ByteCache,
    manifest_name,
    parse_manifest_name,
    parse_segment_name,
)

__all__ = ["Generations", "index_clock"]


class Generations:
    """Generation state and the methods over it (attributes set by ``SegmentLog``)."""

    _manifests: set[int]
    bases: list[dict[str, Any]]
    frontier: int
    manifest: dict[str, Any]
    _loaded_generation: int | None
    _mutex: threading.Lock
    _listing: list[tuple[str, str, int]]
    _names: set[str]
    _time_of: dict[tuple[str, int], int]
    auto_compact_at: int | None
    _compact_after: int
    compaction: threading.Thread | None  # a background compaction this writer started
    count_every: int  # groups between two counts of every writer's live segments
    _since_count: int
    _counted: int  # live segments the last count saw
    cache: ByteCache
    _header: bytes | None
    url: str

    # provided by ObjectPrefix / SegmentLog (annotations only: nothing shadowed)
    _read_object: Callable[[str], bytes]
    read_json: Callable[[str], Any]
    identity: Callable[[], object]
    _names_from: Callable[[int, str], list[str]]

    def _note_manifests(self, names: list[str]) -> None:
        for name in names:
            generation = parse_manifest_name(name)
            if generation is not None:
                self._manifests.add(generation)

    @property
    def generation(self) -> int | None:
        """The newest generation whose manifest we listed (None: the header's)."""
        return max(self._manifests) if self._manifests else None

    def _load_manifest(self) -> None:
        """Read the newest generation's manifest (once per generation)."""
        generation = self.generation
        if generation is None or generation == self._loaded_generation:
            return
        doc = self.read_json(manifest_name(generation))
        if not isinstance(doc, dict) or int(doc.get("generation", -1)) != generation:
            raise LogNotFoundError(f"the manifest of generation {generation} of {self.url} is unreadable")
        self.bases = list(doc.get("bases") or [])
        self.frontier = int(doc.get("frontier") or 0)
        self.manifest = doc
        self._loaded_generation = generation
        with self._mutex:  # names below the frontier are in the bases: forget them
            cut = bisect.bisect_left(self._listing, (f"{self.frontier:020d}",))
            if cut:
                for name, writer, seq in self._listing[:cut]:
                    self._names.discard(name)
                    self._time_of.pop((writer, seq), None)
                self._listing = self._listing[cut:]

    def maintenance_due(self) -> bool:
        """Should the appending Store compact now? (see ``object_compact``) Writers do not
        follow the others, so every ``count_every`` groups a writer counts the live
        segments of every writer (one listing per 1,000; it adopts a newer generation it
        finds), and compacts when they are more than ``auto_compact_at``."""
        if self.auto_compact_at is None:
            return False
        self._since_count += 1
        if self._since_count >= self.count_every and self.live_segments() <= self.auto_compact_at:
            self._since_count = 0
            try:
                names = self._names_from(self.frontier, "counting segments")
                with self._mutex:
                    self._note_manifests(names)
                self._load_manifest()  # a newer generation, if another writer compacted
            except Exception:  # noqa: BLE001 - counted again later
                return False
            self._counted = sum(
                1 for p in map(parse_segment_name, names) if p is not None and p[0] >= self.frontier
            )
        live = self.live_estimate()
        return live > self.auto_compact_at and live > self._compact_after

    def live_estimate(self) -> int:
        """Live segments: what we know, or what the last count saw if more."""
        return max(self.live_segments(), self._counted)

    def wait_compaction(self, timeout: float | None = None) -> bool:
        """Wait for the background compaction this writer started; True when none runs."""
        thread = self.compaction
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def adopt(self, generation: int) -> None:
        """A compaction of ours published ``generation``: take its frontier and bases
        (the Store reopens on it at its next refresh; appends go on meanwhile)."""
        with self._mutex:
            self._manifests.add(generation)
        self._load_manifest()
        self._compact_after = self._counted = 0

    def compaction_tried(self) -> None:
        self._compact_after = self.live_estimate() + (self.auto_compact_at or 0) // 4

    def live_segments(self) -> int:
        """Segments known above the frontier (what a fresh reader lists and reads)."""
        listing = self._listing
        return len(listing) - bisect.bisect_left(listing, (f"{self.frontier:020d}",))

    def in_bases(self) -> dict[str, int]:
        """The highest seq of each writer held by the bases (cumulative)."""
        return {w: int(s) for w, s in (self.bases[-1].get("writers") or {}).items()} if self.bases else {}

    def _base_chunks(
        self, start: dict[str, int], end: dict[str, int] | None = None
    ) -> Iterator[Chunk]:
        """The bases holding batches past ``start`` (and not past ``end``), in order.
        Base i holds, for each writer, the seqs above base i-1's and up to its own."""
        previous: dict[str, Any] = {}
        for base in self.bases:
            held = base.get("writers") or {}
            wanted = any(
                int(s) > start.get(w, -1)
                and (end is None or int(previous.get(w, -1)) < end.get(w, -1))
                for w, s in held.items()
            )
            previous = held
            if not wanted:
                continue
            key = base["key"]
            data = self.cache.whole(key)
            if data is None:
                data = self._read_object(key)
                self.cache.put(key, data, whole=True)
            yield Chunk(key, 0, data, complete=True)

    def read_header(self) -> bytes:
        """The header frame, carrying the newest generation."""
        if self._header is None:
            self.identity()
        assert self._header is not None
        generation = self.generation
        if generation is None:
            return self._header
        from streamvis.storage.format.framing import encode_frame
        from streamvis.storage.format.records import header_payload
        from streamvis.storage.format.scan import parse_header

        log_id = parse_header(self._header).log_id
        return encode_frame(header_payload(log_id, generation))

    # -- reading ---------------------------------------------------------------------


def index_clock(data: bytes | None) -> int:
    """The time of the last segment an index covers (a listing hint; 0 when unknown).
    Reads only the Arrow footer's metadata; the index is checked in full later."""
    if not data or len(data) < 12:
        return 0
    try:
        import json

        import pyarrow as pa

        body = memoryview(data)[:-12]  # the trailer: crc32c and a magic (index_file)
        meta = pa.ipc.open_file(pa.py_buffer(body)).schema.metadata or {}
        last = json.loads(meta[b"streamvis"]).get("last_frame")
        parsed = parse_segment_name(str(last[0])) if last else None
        return parsed[0] if parsed else 0
    except Exception:
        return 0
