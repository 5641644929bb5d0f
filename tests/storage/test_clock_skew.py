"""Followers miss no segment whatever the writers' clocks say (issue 12).

Listings start ``lookback`` behind the newest name, so a segment whose name sorts
below that when it appears (its writer's clock lags, or its upload was slow) would be
listed past. Its writer notices at its next listing and stores a copy above
everything; followers read every point exactly once.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest

from streamvis.storage import Points, Store
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.objects.segments import SegmentLog
from tests.storage.faulty_fs import FaultyFS

pytestmark = pytest.mark.timeout(60)
HOUR = 3600 * 10**9


@pytest.fixture(params=["memory", "gs", "s3"])
def log(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    if request.param == "memory":
        return f"memory://skew-{uuid.uuid4().hex}/runs.log", {}
    emu = request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")
    return f"{request.param}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log", emu["storage_options"]


def _store(log: tuple[str, dict[str, Any]], mode: str = "a", **kw: Any) -> tuple[Store, FaultyFS]:
    url, options = log
    fs = fsspec.filesystem(url.split("://")[0], skip_instance_cache=True, **options)
    faulty = FaultyFS(fs)
    backend = SegmentLog(url, fs=faulty, **kw)
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, mode), faulty  # type: ignore[arg-type]


def _pts(start: int, n: int) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points("run", "loss", 0, {"x": x, "y": x.astype(np.float32)})


def _xs(store: Store, since: str | None = None) -> list[int]:
    t = store.read("run", "loss", since=since).tables.get(("run", "loss"))
    return t.column("x").to_pylist() if t is not None else []


def test_a_writer_whose_clock_lags_an_hour_is_not_missed_by_followers(log) -> None:
    prompt, _ = _store(log)
    lagging, faulty = _store(log, clock=lambda: time.time_ns() - HOUR)
    follower, _ = _store(log, "r")
    cursor, seen = follower.cursor(), []

    def follow() -> None:
        nonlocal cursor
        res = follower.read("run", "loss", since=cursor)
        cursor = res.cursor
        t = res.tables.get(("run", "loss"))
        seen.extend(t.column("x").to_pylist() if t is not None else [])

    # The lagging writer lists (an empty log) and names its batch an hour ago; before its
    # upload lands, the prompt writer stores a batch and the follower lists past it.
    def race(path: str, data: bytes) -> None:
        prompt.append([_pts(100, 10)])
        follow()

    faulty.before_create = race
    lagging.append([_pts(0, 10)])  # its probe after the upload sees the race: re-stores
    assert sorted(seen) == list(range(100, 110))  # the late segment sorted below the listing
    assert lagging.backend.republished == 1
    follow()
    assert sorted(seen) == list(range(10)) + list(range(100, 110))  # the copy, at once
    lagging.append([_pts(10, 10)])  # its clock was lifted by the probe: no copy now
    assert lagging.backend.republished == 1
    follow()
    assert sorted(seen) == list(range(20)) + list(range(100, 110))  # every point, once
    for i in range(2):
        prompt.append([_pts(200 + i, 1)])
        follow()
    assert len(seen) == len(set(seen)) == 32
    fresh, _ = _store(log, "r")
    assert sorted(_xs(fresh)) == sorted(seen)
    for s in (prompt, lagging, follower, fresh):
        s.close()


def test_close_re_stores_a_late_last_segment(log) -> None:
    prompt, _ = _store(log)
    lagging, faulty = _store(log, clock=lambda: time.time_ns() - HOUR)
    follower, _ = _store(log, "r")
    cursor = follower.cursor()
    got: list[int] = []

    def race(path: str, data: bytes) -> None:
        nonlocal cursor
        prompt.append([_pts(100, 1)])
        res = follower.read(since=cursor)
        cursor = res.cursor
        got.extend(_col(res))

    faulty.before_create = race
    lagging.append([_pts(0, 5)])
    lagging.close()  # its last segment: the close's listing re-stores it
    got.extend(_col(follower.read(since=cursor)))
    assert sorted(got) == [0, 1, 2, 3, 4, 100]
    prompt.close()
    follower.close()


def test_skewed_writers_that_see_each_other_need_no_copies(log) -> None:
    """The first write's listing lifts a lagging writer's clock (a skew) above what it
    saw: later names follow the fastest clock, no copies. Writers no longer list before
    every flush, so two appends of different writers a few ms apart are concurrent (their
    order is their clocks'); each writer's own appends stay in order."""
    ahead, _ = _store(log, clock=lambda: time.time_ns() + HOUR)
    behind, _ = _store(log, clock=lambda: time.time_ns() - HOUR)
    follower, _ = _store(log, "r")
    cursor, seen = follower.cursor(), []
    for i in range(5):
        ahead.append([_pts(2 * i, 1)])
        behind.append([_pts(2 * i + 1, 1)])
        res = follower.read(since=cursor)
        cursor = res.cursor
        seen.extend(_col(res))
    assert seen[:2] == [0, 1]  # the lifted writer's first batch follows what it saw
    assert sorted(seen) == list(range(10))  # every point once
    assert [x for x in seen if x % 2 == 0] == [0, 2, 4, 6, 8]  # each writer's in order
    assert [x for x in seen if x % 2] == [1, 3, 5, 7, 9]
    assert ahead.backend.republished == behind.backend.republished == 0
    lifted = behind.backend.clock - time.time_ns()
    assert HOUR - 10**10 < lifted < HOUR + 10**10  # the behind writer names on ahead's clock
    for s in (ahead, behind, follower):
        s.close()


def _col(res: Any) -> list[int]:
    t = res.tables.get(("run", "loss"))
    return t.column("x").to_pylist() if t is not None else []
