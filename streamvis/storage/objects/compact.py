"""Online compaction of object-store logs: many small segments become one base object.

Generation ``g + 1`` is published by creating its manifest ``U/segments/~gen-{g+1}``
exclusively (``ifGenerationMatch=0`` / ``If-None-Match: *``, the precondition segments
already rely on), so two compactions at once cannot both win: the loser deletes what
it wrote. The manifest names the base objects (``U/bases/...``) in order and the
frontier time ``F``: a reader of ``g + 1`` reads the bases, then the segments named
at or after ``F``. A base is the covered segments' bytes concatenated in log order
(each batch keeps its frames, writer id and seq), so log order, tombstones, configs
and the first-schema-wins rule are exactly what they were, and nothing is decoded.

Which segments: those listed now and named in ``[F_g, F)``, with ``F`` = the newest
name seen minus the lookback. A segment not yet visible now is named at or above
``F`` unless it is late, and a late one is re-stored by its writer above everything
(``segments``), so no batch is left out; copies of a (writer, seq) already in a base
are skipped. Writers keep appending throughout (their segments sort after ``F``) and
readers keep following: on their next refresh they see the new manifest and reopen,
and their cursors carry over (positions are per writer seq, which compaction keeps; a
cursor behind the merge reads the bases it needs, filtered by seq), so a follower
neither repeats nor skips a point and a web page does not reload.

Retiring. What generation ``g + 1`` made redundant (the merged segments, merged
bases) is listed in ``U/bases/...retire`` and deleted when generation ``g + 2`` is
published (a grace of one compaction interval for readers still on ``g``), or after
``grace`` seconds by ``streamvis.storage.compaction.compact_url`` (``streamvis compact``). A crash between writing
a generation and deleting the old objects leaves them until the next compaction.

Automatic: a writer (``Store.append``) compacts when it knows more than
``AUTO_COMPACT_SEGMENTS`` (500) live segments (plus a random share, so writers do not all start at
once), so a reader never opens more than about 1,000 objects. In the many-machines
set-up every writer may compact, and compacts every writer's segments: compacting
only its own would move its batches before another writer's earlier ones and could
undo the order of a tombstone and the data it deletes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from streamvis.errors import InvalidArgumentError
from streamvis.storage.backend import LogBackend
from streamvis.storage.objects.prefix import manifest_name, parse_segment_name
from streamvis.storage.objects.segments import SegmentLog

__all__ = ["ObjectCompactStats", "CompactingStore", "compact_store", "retire", "auto_compact", "live_objects"]

MAX_BASES = 8  # more bases than this are merged into one


class _Locked(Protocol):
    @property
    def lock(self) -> threading.RLock: ...


class CompactingStore(Protocol):
    """What compaction needs of a ``Store`` (``streamvis.storage.engine.store``) whose
    backend is a ``SegmentLog``: its log's state held still under ``log.lock``."""

    @property
    def backend(self) -> LogBackend: ...
    @property
    def log(self) -> _Locked: ...
    @property
    def generation(self) -> int: ...
    def refresh(self) -> None: ...
    def save_index(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ObjectCompactStats:
    generation: int
    segments_merged: int
    bases: int
    bytes_merged: int
    seconds: float


def compact_store(store: CompactingStore, *, min_segments: int = 1) -> ObjectCompactStats | None:
    """Publish the next generation of ``store``'s log (a Store on an object store; it
    writes bases, a manifest and the index); None when there is nothing to merge or
    another compaction won."""
    backend = store.backend
    if not isinstance(backend, SegmentLog):
        raise InvalidArgumentError(f"{backend.url} is not an object-store log")
    started = time.monotonic()
    with store.log.lock:  # the log's state must not move meanwhile
        store.refresh()
        generation = store.generation
        old_front = backend.generations.frontier
        new_front = backend.clock - backend.lookback_ns
        if new_front <= old_front:
            return None
        covered = dict(backend.generations.bases[-1].get("writers") or {}) if backend.generations.bases else {}
        picked: list[str] = []
        seen: set[tuple[str, int]] = set()
        entries = []
        for name, writer, seq in backend.list_between(old_front, new_front):
            if seq <= int(covered.get(writer, -1)) or (writer, seq) in seen:
                continue  # in a base already, or a second copy
            seen.add((writer, seq))
            picked.append(name)
            entries.append((name, writer, seq))
        if len(picked) < min_segments:
            return None
        merge = len(backend.generations.bases) + 1 > MAX_BASES
        parts = [backend.whole(b["key"]) for b in backend.generations.bases] if merge else []
        parts.extend(chunk.data for chunk in backend._fetch(entries))  # noqa: SLF001
        writers = {w: int(s) for w, s in covered.items()}
        for writer, seq in seen:
            writers[writer] = max(writers.get(writer, -1), seq)
        tag = f"{generation + 1:012d}-{uuid.uuid4().hex}"
        key, retire_key = f"bases/{tag}", f"bases/{tag}.retire"
        redundant = picked + ([b["key"] for b in backend.generations.bases] if merge else [])
        data = b"".join(parts)
        backend.prefix.create_object(key, data)
        backend.prefix.create_object(retire_key, json.dumps(redundant).encode())
        bases = ([] if merge else list(backend.generations.bases)) + [{"key": key, "writers": writers}]
        manifest = {
            "generation": generation + 1,
            "bases": bases,
            "frontier": new_front,
            "retire": retire_key,
            "previous": generation,
        }
        if not backend.prefix.create_object(
            manifest_name(generation + 1), json.dumps(manifest).encode()
        ):
            backend.prefix.remove([key, retire_key])  # another compaction published g + 1 first
            return None
        store.refresh()  # reopens on the new generation (the base is in the cache)
        store.save_index()
        retire(backend, generation)  # what generation g made redundant: one grace later
    return ObjectCompactStats(
        generation + 1, len(picked), len(bases), len(data), time.monotonic() - started
    )


def retire(backend: SegmentLog, generation: int) -> int:
    """Delete what generation ``generation`` made redundant, older manifests, and bases
    that neither it nor the current generation names (a crashed compaction's). Readers
    still on ``generation - 1`` lose their objects. Returns how many were deleted."""
    if generation < 2:
        return 0
    doc = backend.prefix.read_json(manifest_name(generation))
    keys: list[str] = []
    live: set[str] = set()
    for manifest in (doc, backend.generations.manifest):
        if isinstance(manifest, dict):
            for base in manifest.get("bases") or []:
                live |= {base["key"], base["key"] + ".retire"}
    if isinstance(doc, dict) and doc.get("retire"):
        keys.extend(backend.prefix.read_json(doc["retire"]) or [])
        keys.append(doc["retire"])
        live.discard(doc["retire"])
    try:
        paths = backend.prefix.fs.ls(backend.prefix.bases_dir, detail=False)
    except FileNotFoundError:
        paths = []
    current = backend.generations.generation or 1
    for path in paths:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        key = f"bases/{name}"
        try:
            made_for = int(name.split("-", 1)[0])
        except ValueError:
            continue  # not ours
        if made_for <= current and key not in live and key not in keys:
            keys.append(key)
    keys.extend(manifest_name(g) for g in range(max(2, generation - 8), generation))
    keys = [k for k in keys if k not in live and k != manifest_name(current)]
    backend.prefix.remove(keys)
    return len(keys)


def live_objects(backend: SegmentLog) -> tuple[int, int]:
    """(objects, bytes) a fresh reader of the current generation opens: bases and the
    segments above the frontier (one paged listing with sizes)."""
    try:
        items = backend.prefix.fs.ls(backend.prefix.segments_dir, detail=True)
    except FileNotFoundError:
        items = []
    count = len(backend.generations.bases)
    size = 0
    for base in backend.generations.bases:
        try:
            size += int(backend.prefix.fs.size(backend.prefix.path_of(base["key"])))
        except Exception:
            pass
    for item in items:
        parsed = parse_segment_name(str(item["name"]))
        if parsed is not None and parsed[0] >= backend.generations.frontier:
            count += 1
            size += int(item.get("size") or 0)
    return count, size


def auto_compact(
    backend: LogBackend, open_reader: Callable[[SegmentLog], CompactingStore]
) -> None:
    """A writer's compaction (``Store.append``), off the flush path: a background thread
    compacts through a private read-only Store (``open_reader``) over the same objects, so the writer's
    lock is never held and no flush waits for it. One at a time per backend; failures
    are logged, never raised. One that dies midway leaves at most a base and its retire
    list that no manifest names: readers and writers never look at them, and a later
    compaction deletes them (``retire``)."""
    if not isinstance(backend, SegmentLog):
        return
    if backend.generations.compaction is not None and backend.generations.compaction.is_alive():
        return
    backend.generations.compaction_tried()
    thread = threading.Thread(
        target=_compact_in_background, args=(backend, open_reader), name="streamvis-compact", daemon=True
    )
    backend.generations.compaction = thread
    thread.start()


def _compact_in_background(
    backend: SegmentLog, open_reader: Callable[[SegmentLog], CompactingStore]
) -> None:
    import logging

    try:
        private = SegmentLog(
            backend.url, fs=backend.prefix.fs, clock=backend._now, lookback_ns=backend.lookback_ns  # noqa: SLF001
        )
        private.auto_compact_at = None
        private.prefix.fetch_batch = 4  # a few GETs at a time: the writer's PUTs are not queued
        store = open_reader(private)
        try:
            stats = compact_store(store, min_segments=1)
        finally:
            store.close()
        if stats is not None:
            backend.generations.adopt(stats.generation)  # the writer's next compaction counts from there
    except Exception as exc:  # the appends succeeded; compaction will be tried again
        logging.getLogger(__name__).warning("compaction of %s failed: %s", backend.url, exc)
