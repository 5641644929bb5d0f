"""A data server in front of a bucket (issue 23): ``grpc-serve gs://... --commit-interval``
stores the appends of all its loggers as at most one object per interval, and keeps every
point. 32 loggers on 4 processes (8 each), the GCS emulator counting the uploads."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest

from streamvis.server.server import DataServer
from streamvis.storage import Points, Store
from streamvis.storage.objects.compact import compact_store
from streamvis.storage.objects.segments import SegmentLog
from tests.helpers import spawn
from tests.server.conftest import free_port

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
PROCESSES, LOGGERS, POINTS = 4, 8, 40
INTERVAL = 0.5

_LOGGERS = """
import sys, threading
from streamvis.logger.logger import DataLogger
uri, proc, loggers, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def run(k):
    log = DataLogger(f"p{proc}-l{k}", grpc_uri=uri, flush_every=0.1).start()
    for i in range(points):
        log.write("loss", x=i, y=float(i))
        if i % 10 == 9:
            log.flush() if hasattr(log, "flush") else None
    log.stop(timeout=60)

threads = [threading.Thread(target=run, args=(k,)) for k in range(loggers)]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_a_data_server_commits_one_object_per_interval_and_keeps_every_point(
    gcs_emulator,
) -> None:
    url = f"gs://{gcs_emulator['bucket']}/{uuid.uuid4().hex}/log.svl"
    opts = gcs_emulator["storage_options"]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server: Any = DataServer(
        url, free_port(), store_options={"storage_options": opts}, commit_interval=INTERVAL
    )

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    try:
        uri = call(server.start())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        procs = [
            spawn([sys.executable, "-c", _LOGGERS, uri, str(p), str(LOGGERS), str(POINTS)],
                  env=env, cwd=str(ROOT))
            for p in range(PROCESSES)
        ]
        for proc in procs:
            assert proc.wait(120) == 0
        took = time.monotonic() - started
    finally:
        call(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    fs = fsspec.filesystem("gs", skip_instance_cache=True, **opts)
    root = fs._strip_protocol(url)
    segments = [p for p in fs.ls(f"{root}/segments", detail=False) if "~gen" not in p]
    # at most one object per interval while the loggers ran (plus the first and the last)
    assert len(segments) <= took / INTERVAL + 2, (len(segments), took)
    assert len(segments) < PROCESSES * LOGGERS  # (one object per append: 160 here)
    with Store.open(url, storage_options=opts) as reader:
        for p in range(PROCESSES):
            for k in range(LOGGERS):
                t = reader.read(f"p{p}-l{k}", "loss").tables[(f"p{p}-l{k}", "loss")]
                assert t.column("x").to_pylist() == list(range(POINTS)), (p, k)


def _pts(start: int) -> Points:
    x = np.arange(start, start + 5, dtype=np.int64)
    return Points("run", "loss", 0, {"x": x, "y": x.astype(np.float32)})


def test_one_object_groups_read_since_a_cursor_before_and_after_compaction() -> None:
    """Each group is one object whose inner batches keep their writers' ids and seqs:
    retries are duplicates, and a cursor taken between groups reads exactly what
    follows, also once compaction merged the groups into a base."""
    url = f"memory://groups-{uuid.uuid4().hex}/log.svl"
    Store.open(url, "a").close()
    writer = Store(SegmentLog(url, lookback_ns=0), "a")
    reader = Store.open(url)
    a, b = b"\xaa" * 8, b"\xbb" * 8

    def group(k: int) -> list[Any]:
        return writer.append_many(
            [([_pts(5 * k)], a, k + 1), ([_pts(100 + 5 * k)], b, k + 1)], one_object=True
        )

    group(0)
    first = reader.read("run", "loss")
    for k in (1, 2):
        assert not any(r.duplicate for r in group(k))
    retry = writer.append_many([([_pts(5)], a, 2)], one_object=True)
    assert retry[0].duplicate
    want = sorted([*range(5, 15), *range(105, 115)])

    def since(store: Store) -> list[int]:
        t = store.read("run", "loss", since=first.cursor).tables[("run", "loss")]
        return sorted(t.column("x").to_pylist())

    assert since(reader) == want
    fs = fsspec.filesystem("memory")
    assert len(fs.ls(f"{writer.backend.segments_dir}", detail=False)) == 3  # one per group
    assert compact_store(writer) is not None  # the three groups become one base
    lagging = Store.open(url)
    assert lagging.generation == 2 and since(lagging) == want
    assert sorted(lagging.read("run", "loss").tables[("run", "loss")].column("x").to_pylist()) == (
        sorted([*range(15), *range(100, 115)])
    )
