"""Many writers on one prefix (issue 23): a flush is one upload and one probe, whatever N.

Writers no longer download each other's segments: a steady-state flush is one PUT and
one listing of the names above the new one (an empty page when clocks agree), counted
on the GCS emulator and moto's S3 server. Ordering still holds where it matters: a
deletion follows everything visible when it was made (any writer's, any clock), a name
written after it is not hidden, and a schema race resolves the same for every reader.
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

pytestmark = pytest.mark.timeout(120)
SECOND = 10**9


@pytest.fixture(params=["gs", "s3"])
def emu(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")


def _url(emu: dict[str, Any]) -> str:
    return f"{emu['scheme']}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log"


def _writer(emu: dict[str, Any], url: str, skew_ns: int = 0, mode: str = "a") -> Store:
    """A Store whose clock is ``skew_ns`` off (its own filesystem instance)."""
    fs = fsspec.filesystem(emu["scheme"], skip_instance_cache=True, **emu["storage_options"])
    backend = SegmentLog(url, fs=fs, clock=lambda: time.time_ns() + skew_ns)
    backend.auto_compact_at = None
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, mode)  # type: ignore[arg-type]


def _pts(scope: str, start: int, n: int, name: str = "loss") -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points(scope, name, 0, {"x": x, "y": x.astype(np.float32)})


def _xs(store: Store, scope: str, name: str = "loss", since: str | None = None) -> list[int]:
    t = store.read(scope, name, since=since).tables.get((scope, name))
    return t.column("x").to_pylist() if t is not None else []


def _flush_costs(emu: dict[str, Any], n: int) -> list[dict[str, int]]:
    """n writers on one prefix, each flushing 3 times in turn; the requests of each
    steady-state flush (after every writer's first); then every point is checked.
    The writers' periodic index save (one PUT per index_interval, 30 s, not per flush)
    is kept out of the count: on a loaded machine a round can pass 30 s."""
    url = _url(emu)
    writers = [_writer(emu, url) for _ in range(n)]
    for w in writers:
        w.log.index_interval = 1e9
    counter = emu["counter"]
    costs = []
    for round_ in range(3):
        for k, w in enumerate(writers):
            snap = counter.snapshot()
            w.append([_pts(f"run{k}", 10 * round_, 10)])
            if round_:
                costs.append(dict(counter.since(snap)))
    follower = Store.open(url, storage_options=emu["storage_options"])
    for k in range(n):
        assert _xs(follower, f"run{k}") == list(range(30))  # every point once, in order
    for w in writers:
        w.close()
    follower.close()
    return costs


def test_requests_per_flush_are_the_same_with_2_8_and_32_writers(emu) -> None:
    per_n = {n: _flush_costs(emu, n) for n in (2, 8, 32)}
    for n, costs in per_n.items():
        for c in costs:
            # one PUT, one probe listing (nothing above the new name), no GET
            assert c.get("put") == 1 and c.get("list") == 1, (n, c)
            assert c.get("requests") == 2 and not c.get("get"), (n, c)
            assert c.get("bytes_listed", 0) <= 2_000, (n, c)


def test_a_deletion_hides_what_others_wrote_before_it_and_not_after(emu) -> None:
    """Clocks 30 s apart both ways: the deleter lags, the later writer lags further."""
    url = _url(emu)
    ahead = _writer(emu, url, +30 * SECOND)
    deleter = _writer(emu, url, -30 * SECOND)
    late = _writer(emu, url, -60 * SECOND)
    ahead.append([_pts("run", 0, 5)])
    ahead.append([_pts("run", 5, 5)])
    deleter.delete("run", "loss")  # lists: its tombstone sorts after ahead's points
    late.append([_pts("run", 100, 3)])  # a first write lists: it sorts after the tombstone
    late.append([_pts("run", 103, 3)])
    for reader in (Store.open(url, storage_options=emu["storage_options"]), deleter):
        assert _xs(reader, "run") == list(range(100, 106))
    # the deleter's own later write follows its deletion too
    deleter.delete("run")
    deleter.append([_pts("run", 7, 1, name="acc")])
    with Store.open(url, storage_options=emu["storage_options"]) as reader:
        assert reader.names("run") == ["acc"]
    for s in (ahead, deleter, late):
        s.close()


def test_a_schema_race_resolves_the_same_for_every_reader(emu) -> None:
    url = _url(emu)
    a, b = _writer(emu, url, +30 * SECOND), _writer(emu, url, -30 * SECOND)
    early = Store.open(url, storage_options=emu["storage_options"])
    cursor = early.cursor()
    x = np.arange(3, dtype=np.int64)
    a.append([Points("run", "loss", 0, {"x": x, "y": np.ones(3, np.float32)})])
    b.append([Points("run", "loss", 0, {"x": x + 3, "z": np.ones(3, np.float64)})])
    a.append([Points("run", "loss", 0, {"x": x + 6, "y": np.ones(3, np.float32)})])
    b.append([Points("run", "loss", 0, {"x": x + 9, "z": np.ones(3, np.float64)})])
    views = []
    for reader in (
        early,
        Store.open(url, storage_options=emu["storage_options"]),
        _writer(emu, url, mode="r"),
    ):
        xs = _xs(reader, "run")  # reads catch up first
        views.append((set(reader.schema("run", "loss")), xs))
    xs = _xs(early, "run", since=cursor)
    views.append((set(early.schema("run", "loss")), xs))
    assert len({(frozenset(s), tuple(x)) for s, x in views}) == 1, views
    schema, xs = views[0]
    assert xs == ([0, 1, 2, 6, 7, 8] if "y" in schema else [3, 4, 5, 9, 10, 11])
    for s in (a, b, early):
        s.close()


def test_writers_30_s_apart_are_followed_exactly_once(emu) -> None:
    url = _url(emu)
    writers = [_writer(emu, url, k * 30 * SECOND) for k in (-1, 0, 1)]
    follower = Store.open(url, storage_options=emu["storage_options"])
    cursor, seen = follower.cursor(), {k: [] for k in range(3)}  # type: dict[int, list[int]]
    for round_ in range(4):
        for k, w in enumerate(writers):
            w.append([_pts(f"run{k}", 10 * round_, 10)])
        res = follower.read(since=cursor)
        cursor = res.cursor
        for k in range(3):
            t = res.tables.get((f"run{k}", "loss"))
            seen[k].extend(t.column("x").to_pylist() if t is not None else [])
    assert all(seen[k] == list(range(40)) for k in range(3)), seen
    # a writer that started before a faster clock appeared re-stores one batch, once
    assert [w.backend.republished for w in writers][2] == 0
    assert sum(w.backend.republished for w in writers) <= 2
    for s in (*writers, follower):
        s.close()
