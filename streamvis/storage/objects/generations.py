"""Generations of an object-store log: manifests, base objects, the frontier.

``Generations`` is owned by a ``SegmentLog`` (see its docstring and ``compact``): which
generation is the newest (manifests ``~gen-{g:012d}`` seen in listings), what it holds
(its manifest: base objects in order and the frontier time below which every segment
is in a base), the chunks of the bases, and when an appending Store should compact.
It reads objects through the log's ``ObjectPrefix`` and forgets the names a new
frontier passes in the log's ``KnownSegments``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from streamvis.errors import LogNotFoundError
from streamvis.storage.backend import Chunk
from streamvis.storage.objects.known import KnownSegments
from streamvis.storage.objects.prefix import (
    ObjectPrefix,
    manifest_name,
    parse_manifest_name,
    parse_segment_name,
)

__all__ = ["Generations", "index_clock"]


class Generations:
    """Generation state of one log, and the automatic-compaction policy over it."""

    def __init__(self, prefix: ObjectPrefix, known: KnownSegments, auto_compact_at: int | None) -> None:
        """``auto_compact_at``: live segments above which a writer compacts (None: never)."""
        self.prefix = prefix
        self.known = known
        self._manifests: set[int] = set()  # generations whose manifest we listed
        self.bases: list[dict[str, Any]] = []  # the newest generation's base objects
        self.frontier = 0  # segments named below this time are in the bases
        self._loaded_generation: int | None = None
        self.manifest: dict[str, Any] = {}
        # None: never compact automatically (readers never do: they do not write)
        self.auto_compact_at = auto_compact_at
        self.compact_after = 0  # live count at the last attempt: retry well above it
        self.compaction: threading.Thread | None = None  # compact.auto_compact's
        self.count_every, self._since_count, self._counted = 50, 0, 0  # maintenance_due

    def note_manifests(self, names: list[str]) -> None:
        """Remember the generations whose manifests ``names`` holds (under the mutex)."""
        for name in names:
            generation = parse_manifest_name(name)
            if generation is not None:
                self._manifests.add(generation)

    @property
    def generation(self) -> int | None:
        """The newest generation whose manifest we listed (None: the header's)."""
        return max(self._manifests) if self._manifests else None

    def load_manifest(self) -> None:
        """Read the newest generation's manifest (once per generation)."""
        generation = self.generation
        if generation is None or generation == self._loaded_generation:
            return
        doc = self.prefix.read_json(manifest_name(generation))
        if not isinstance(doc, dict) or int(doc.get("generation", -1)) != generation:
            raise LogNotFoundError(f"the manifest of generation {generation} of {self.prefix.url} is unreadable")
        self.bases = list(doc.get("bases") or [])
        self.frontier = int(doc.get("frontier") or 0)
        self.manifest = doc
        self._loaded_generation = generation
        self.known.forget_below(self.frontier)  # names below the frontier are in the bases

    def maintenance_due(self) -> bool:
        """Should the appending Store compact now? (see ``compact``) Writers do not
        follow the others, so every ``count_every`` groups a writer counts the live
        segments of every writer (one listing per 1,000; it adopts a newer generation it
        finds), and compacts when they are more than ``auto_compact_at``."""
        if self.auto_compact_at is None:
            return False
        self._since_count += 1
        if self._since_count >= self.count_every and self.live_segments() <= self.auto_compact_at:
            self._since_count = 0
            try:
                names = self.prefix.list_segments(self.frontier, "counting segments")
                with self.known.mutex:
                    self.note_manifests(names)
                self.load_manifest()  # a newer generation, if another writer compacted
            except Exception:  # noqa: BLE001 - counted again later
                return False
            self._counted = sum(
                1 for p in map(parse_segment_name, names) if p is not None and p[0] >= self.frontier
            )
        live = self.live_estimate()
        return live > self.auto_compact_at and live > self.compact_after

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
        with self.known.mutex:
            self._manifests.add(generation)
        self.load_manifest()
        self.compact_after = self._counted = 0

    def compaction_tried(self) -> None:
        self.compact_after = self.live_estimate() + (self.auto_compact_at or 0) // 4

    def live_segments(self) -> int:
        """Segments known above the frontier (what a fresh reader lists and reads)."""
        return self.known.live(self.frontier)

    def in_bases(self) -> dict[str, int]:
        """The highest seq of each writer held by the bases (cumulative)."""
        return {w: int(s) for w, s in (self.bases[-1].get("writers") or {}).items()} if self.bases else {}

    def base_chunks(
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
            data = self.prefix.cache.whole(key)
            if data is None:
                data = self.prefix.read_object(key)
                self.prefix.cache.put(key, data, whole=True)
            yield Chunk(key, 0, data, complete=True)


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
