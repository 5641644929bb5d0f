"""``RangeReader``: the range-read part of a ``Store``: one group's visible range, or many
at once from one state of the log, served from the decoded-group cache shared by
every reader of the store.

It reads the state of a ``LogFollower`` under the follower's lock.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from streamvis.errors import NotFoundError
from streamvis.storage.engine.follower import LogFollower
from streamvis.storage.format.records import x_column
from streamvis.storage.read.decimate import decimate_table, range_bounds, select_range, slice_range
from streamvis.storage.read.group_cache import GroupCache
from streamvis.storage.read.ranges import (
    AnswerCache,
    RangeRequest,
    RangesResult,
    SmoothCache,
    check_requests,
    read_ranges,
)
from streamvis.storage.read.reading import GroupPlan, read_groups

__all__ = ["RangeReader"]


class RangeReader:
    """``read_range``, ``read_ranges`` and the read caches of a ``Store``."""

    def __init__(self, log: LogFollower) -> None:
        self.log = log
        self.backend = log.backend
        self._group_cache = GroupCache()
        self._smooth_cache = SmoothCache()
        self._answers = AnswerCache()

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
        self.log.refresh()
        with self.log.lock:
            ns = self.log.state.name(scope, name)
            grp = ns.groups.get(int(index))
            if grp is None:
                raise NotFoundError(f"index {index} not found in scope {scope!r}, name {name!r}")
            schema = dict(ns.schema)
            entries = list(grp.entries)
            key = (self.log.generation, scope, name, int(index))
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
        self.log.refresh()
        with self.log.lock:
            tables, counts = read_ranges(
                self.backend,
                self.log.state,
                self._group_cache,
                self._smooth_cache,
                self.log.generation,
                reqs,
                self._answers,
            )
            return RangesResult(tables, counts, self.log.cursor())

    def release_cache(self) -> None:
        """Drop the decoded groups kept for range reads (they are read again on demand).
        The answers stay: they are small (a decimated line each, 64 MiB at most) and
        they are what a page opened again asks first."""
        with self.log.lock:
            self._group_cache.clear()
            self._smooth_cache.clear()

    @property
    def cache_bytes(self) -> int:
        """Bytes of decoded columns held for range reads (shared by every reader)."""
        return self._group_cache.nbytes + self._smooth_cache.nbytes

    @property
    def answer_bytes(self) -> int:
        """Bytes of range-read answers kept (``AnswerCache``; kept by ``release_cache``)."""
        return self._answers.nbytes

