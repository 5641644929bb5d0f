"""Object-store reads whose cost follows new data (issue 12), counted on the emulators.

Logs of 300 segments (a full listing: ~30 KB, 10 times the goal) laid out as a 1 kHz logger
flushing every 0.2 s leaves them; the benchmark measures 20,000.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from streamvis.storage import Points, Store
from streamvis.testing.object_stores import write_segment_log

pytestmark = pytest.mark.timeout(120)
SEGMENTS = 300


@pytest.fixture(params=["gs", "s3"])
def emu(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")


@pytest.fixture
def big_log(emu) -> tuple[str, dict[str, Any]]:
    url = f"{emu['scheme']}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log"
    write_segment_log(url, emu["storage_options"], SEGMENTS)
    return url, emu["storage_options"]


def _pts(start: int, n: int) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points("run", "loss", 0, {"x": x, "y": (x * 0.5).astype(np.float32)})


def test_idle_refresh_and_read_since_cursor_cost_what_is_new(emu, big_log) -> None:
    url, opts = big_log
    counter = emu["counter"]
    reader = Store.open(url, storage_options=opts)
    assert reader.read().num_points == SEGMENTS * 200
    writer = Store.open(url, "a", storage_options=opts)
    cursor = reader.cursor()
    for _ in range(3):
        snap = counter.snapshot()
        reader.refresh()
        idle = counter.since(snap)
        assert idle["requests"] == 1, idle
        assert idle["list"] == 1 and idle["bytes_listed"] <= 10_000, idle
    writer.append([_pts(10**6, 200)])
    snap = counter.snapshot()
    new = reader.read(since=cursor)
    spent = counter.since(snap)
    assert new.num_points == 200
    assert spent["get"] == 1, spent  # the new segment, fetched once for refresh and read
    assert spent["list"] == 1 and spent["bytes_listed"] <= 10_000, spent
    assert spent["requests"] == 2, spent
    writer.close()
    reader.close()


def test_writer_flush_lists_only_what_is_new(emu, big_log) -> None:
    url, opts = big_log
    counter = emu["counter"]
    with Store.open(url, "a", storage_options=opts) as writer:
        writer.append([_pts(10**6, 10)])
        for i in range(3):
            snap = counter.snapshot()
            writer.append([_pts(10**6 + 10 * (i + 1), 10)])
            spent = counter.since(snap)
            assert spent["list"] == 1 and spent["put"] == 1 and spent["requests"] == 2, spent
            assert spent["bytes_listed"] <= 10_000, spent
