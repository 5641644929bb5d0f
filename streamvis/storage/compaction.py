"""Compacting a log, whatever its backend: ``compact`` picks the local rewrite
(``streamvis.storage.local.compact``) or the object store's merge of segments into a
new generation (``streamvis.storage.objects.compact``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from streamvis.storage.engine.store import Store
from streamvis.storage.local.compact import CompactStats, compact_file
from streamvis.storage.objects.compact import (
    ObjectCompactStats,
    compact_store,
    live_objects,
    retire,
)
from streamvis.storage.objects.segments import SegmentLog

__all__ = ["CompactStats", "compact", "compact_object_log", "compact_url"]


def compact(path: str, progress: Callable[[int, int], None] | None = None) -> CompactStats:
    """Rewrite the log at ``path``; ``progress(done, total)`` is called per group."""
    if "://" in path and not path.startswith("file://"):  # object stores: online, by segments
        return compact_object_log(path, progress=progress)
    return compact_file(path, _open_reader, progress)


def _open_reader(path: str) -> Store:
    return Store.open(path, "r")


def compact_object_log(
    path: str, *, progress: Callable[[int, int], None] | None = None, grace: float = 10.0
) -> CompactStats:
    """``streamvis compact gs://...`` / ``s3://...``: ``compact_url`` with the local
    compaction's statistics; ``bytes_*`` are what a fresh reader opens."""
    with Store.open(path, storage_options=None) as before:
        assert isinstance(before.backend, SegmentLog)
        objects_before, bytes_before = live_objects(before.backend)
    stats, after = compact_url(path, grace=grace, progress=progress)
    with after:
        assert isinstance(after.backend, SegmentLog)
        objects_after, bytes_after = live_objects(after.backend)
        groups = after.groups()
        result = CompactStats(
            bytes_before,
            bytes_after,
            len(groups),
            sum(g.count for g in groups),
            after.generation,
            objects_before,
            objects_after,
        )
    return result


def compact_url(
    url: str,
    *,
    storage_options: dict | None = None,
    grace: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ObjectCompactStats | None, Store]:
    """``streamvis compact gs://...``: publish the next generation, wait ``grace``
    seconds for readers to move to it, delete what it made redundant. Returns the stats
    and a read-only Store on the result (the caller closes it)."""
    with Store.open(url, "a", storage_options=storage_options) as store:
        stats = compact_store(store)
        if progress:
            progress(1, 1)
        backend = store.backend
        assert isinstance(backend, SegmentLog)
        if stats is not None:
            time.sleep(max(0.0, grace))
            retire(backend, stats.generation)
    return stats, Store.open(url, storage_options=storage_options)
