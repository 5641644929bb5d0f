"""An object-store writer does not read the other writers' segments (its flushes stay
flat in their number), so the index it saves covers its own segments only. A reader
that opens from such an index must still see every other writer's segments, also
those named long before the index's last one (found by the storage helper: a fresh
reader listed only the lookback window behind the index's hint and lost them)."""

from __future__ import annotations

import itertools
import uuid

import numpy as np

from streamvis.storage import Points, Store
from streamvis.storage.objects.segments import SegmentLog

MS = 10**6


def _pts(scope: str, n: int) -> Points:
    x = np.arange(n, dtype=np.int64)
    return Points(scope, "loss", 0, {"x": x, "y": x.astype(np.float32)})


def test_a_reader_opening_from_a_writers_index_sees_every_writer() -> None:
    url = f"memory://idx-{uuid.uuid4().hex}/log.svl"
    Store.open(url, "a").close()
    ticks = itertools.count(1_000 * MS, 1_000 * MS)  # segments named a second apart
    writers = [Store(SegmentLog(url, lookback_ns=5 * MS, clock=lambda: next(ticks)), "a")
               for _ in range(8)]
    for i, w in enumerate(writers):
        w.append([_pts(f"run{i}", 10)])
    last = writers[-1]
    last.append([_pts("run7", 10)])  # its last segment is ~8 s after the first writer's
    last.save_index()  # as its index_interval would, covering only its own segments
    for w in writers:
        w.close()
    with Store(SegmentLog(url, lookback_ns=5 * MS), "r") as reader:
        assert reader.scopes() == [f"run{i}" for i in range(8)]
        assert sum(g.count for g in reader.groups()) == 90
