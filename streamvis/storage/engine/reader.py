"""The range-read half of ``Store``: one group's visible range, or many at once
from one state of the log, served from the decoded-group cache shared by every reader.

``Store`` mixes this in; the attributes declared below are the store's own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from streamvis.errors import NotFoundError
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.records import x_column
from streamvis.storage.format.state import LogState
from streamvis.storage.read.decimate import decimate_table, range_bounds, select_range, slice_range
from streamvis.storage.read.group_cache import GroupCache
from streamvis.storage.read.ranges import (
    RangeRequest,
    RangesResult,
    SmoothCache,
    check_requests,
    read_ranges,
)
from streamvis.storage.read.reading import GroupPlan, read_groups

__all__ = ["StoreRanges"]


class StoreRanges:
    """``read_range``, ``read_ranges`` and the read cache of a ``Store``."""

    backend: LogBackend
    _lock: threading.RLock
    _state: LogState
    _generation: int
    _group_cache: GroupCache
    _smooth_cache: SmoothCache

    if TYPE_CHECKING:

        def refresh(self) -> None: ...
        def _cursor(self) -> str: ...

    def read_range(
        self,
        scope: str,
        name: str,
        index: int,
        x_min: float | None = None,
        x_max: float | None = None,
        max_points: int | None = None,
    ) -> pa.Table:
        """Points of one group with x in [x_min, x_max], sorted by x, decimated to max_points.

        Only the records whose x range overlaps are read; a group read mostly whole is
        kept decoded in a bounded cache and extended as points arrive, so zooming and
        panning a large line costs a slice and a decimation. Decimation keeps the
        minimum and maximum of every bucket, so no spike is hidden.
        """
        lo, hi = range_bounds(x_min, x_max, max_points)
        self.refresh()
        with self._lock:
            ns = self._state.name(scope, name)
            grp = ns.groups.get(int(index))
            if grp is None:
                raise NotFoundError(f"index {index} not found in scope {scope!r}, name {name!r}")
            schema = dict(ns.schema)
            entries = list(grp.entries)
            key = (self._generation, scope, name, int(index))
            overlapping = [
                e for e in entries if np.isnan(e.x_min) or (e.x_max >= lo and e.x_min <= hi)
            ]
            if self._group_cache.has(key) or len(overlapping) * 2 > len(entries):
                columns, x_sorted = self._group_cache.columns(self.backend, key, schema, entries)
                table = slice_range(columns, x_column(schema), lo, hi, x_sorted)
                return decimate_table(table, max_points)
        arrays = read_groups(
            self.backend, [GroupPlan(scope, name, int(index), schema, overlapping)]
        )
        table = select_range(pa.table(next(iter(arrays.values()))), lo, hi)
        return decimate_table(table, max_points)

    def read_ranges(self, requests: Sequence[RangeRequest]) -> RangesResult:
        """Many ``read_range``s in one call, all from one state of the log (see
        ``streamvis.storage.read.ranges``): a table per request (None for a group that does
        not exist), the groups' counts, and the cursor of that state."""
        reqs = check_requests(requests)
        self.refresh()
        with self._lock:
            tables, counts = read_ranges(
                self.backend,
                self._state,
                self._group_cache,
                self._smooth_cache,
                self._generation,
                reqs,
            )
            return RangesResult(tables, counts, self._cursor())

    def committed_seq(self, writer_id: bytes) -> int | None:
        """The last sequence number stored for ``writer_id`` (None: nothing from it), so
        a writer that resumes (an importer) can start after what is already stored."""
        self.refresh()
        with self._lock:
            return self._state.writers.get(writer_id)

    def release_cache(self) -> None:
        """Drop the decoded groups kept for range reads (they are read again on demand)."""
        with self._lock:
            self._group_cache.clear()
            self._smooth_cache.clear()

    @property
    def cache_bytes(self) -> int:
        """Bytes of decoded columns held for range reads (shared by every reader)."""
        return self._group_cache.nbytes + self._smooth_cache.nbytes

