"""Object-store logs (``SegmentLog``) on memory:// and gs:// (the in-process GCS emulator).

Races the emulator cannot show (it ignores ``ifGenerationMatch``) go through
``FaultyFS``, an fsspec wrapper that enforces exclusive create and injects faults.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest

from streamvis.errors import ConflictError, CorruptDataError, CursorResetError, StorageIOError
from streamvis.storage import Points, Store
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.objects.segments import SegmentLog, parse_segment_name
from tests.helpers import spawn
from tests.storage.faulty_fs import FaultyFS

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["memory", "gs", "s3"])
def log(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(url, storage_options) of a fresh object-store log."""
    if request.param == "memory":
        return f"memory://seg-{uuid.uuid4().hex}/runs.log", {}
    emu = request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")
    url = f"{request.param}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log"
    return url, dict(emu["storage_options"])


def _open(log: tuple[str, dict[str, Any]], mode: str = "r", **kw: Any) -> Store:
    url, options = log
    return Store.open(url, mode, storage_options=options or None, **kw)  # type: ignore[arg-type]


def _fs(log: tuple[str, dict[str, Any]], **extra: Any) -> Any:
    """A filesystem of its own (not fsspec's cached instance) for ``log``."""
    url, options = log
    return fsspec.filesystem(url.split("://")[0], skip_instance_cache=True, **options, **extra)


def _pts(start: int, n: int, scope: str = "run", name: str = "loss", index: int = 0) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points(scope, name, index, {"x": x, "y": np.sin(x).astype(np.float32)})


def _xs(
    store: Store, scope: str = "run", name: str = "loss", since: str | None = None
) -> list[int]:
    tables = store.read(scope, name, since=since).tables
    return tables[(scope, name)].column("x").to_pylist() if (scope, name) in tables else []


def _segments(log: tuple[str, dict[str, Any]]) -> list[str]:
    fs = _fs(log)
    root = fs._strip_protocol(log[0])
    try:
        return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{root}/segments", detail=False))
    except FileNotFoundError:
        return []


def _faulty_store(log: tuple[str, dict[str, Any]], **kw: Any) -> tuple[Store, FaultyFS]:
    """An appending Store whose backend goes through a FaultyFS on its own filesystem."""
    faulty = FaultyFS(_fs(log, use_listings_cache=False))
    backend = SegmentLog(log[0], fs=faulty, **kw)
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, "a"), faulty


# -- round trips -------------------------------------------------------------------------
def test_round_trip_cursor_range_config_delete_reopen(log) -> None:
    with _open(log, "a") as s:
        s.write_config("run", {"lr": 0.1, "tags": ["a"]})
        s.append([_pts(0, 100), _pts(0, 10, name="acc"), _pts(0, 5, name="acc", index=1)])
        cursor = s.cursor()
        s.append([_pts(100, 50)])
        assert _xs(s) == list(range(150))
        assert _xs(s, since=cursor) == list(range(100, 150))
        rng = s.read_range("run", "loss", 0, 20, 29)
        assert rng.column("x").to_pylist() == list(range(20, 30))
        assert len(s.read_range("run", "loss", 0, max_points=20)) <= 20
        s.delete("run", "acc")
        s.append([_pts(0, 3, scope="other")])
    assert len(_segments(log)) == 5  # one immutable object per batch
    for drop_index in (False, True):
        if drop_index:
            fs = _fs(log)
            fs.rm(f"{fs._strip_protocol(log[0])}/index.arrow")
        with _open(log) as r:
            assert r.scopes() == ["run", "other"]
            assert r.names("run") == ["loss"]
            assert r.config("run") == {"lr": 0.1, "tags": ["a"]}
            assert _xs(r) == list(range(150))
            t = r.read("run", "loss").tables[("run", "loss")]
            np.testing.assert_array_equal(
                t.column("y").to_numpy(), np.sin(np.arange(150)).astype(np.float32)
            )
            assert _xs(r, since=cursor) == list(range(100, 150))


def test_two_writers_and_a_follower(log) -> None:
    a, b = _open(log, "a"), _open(log, "a")
    follower = _open(log)
    cursor = follower.cursor()
    for i in range(4):
        a.append([_pts(20 * i, 10)])
        b.append([_pts(20 * i + 10, 10)])
    # the follower lists new segments written by the other stores
    assert sorted(_xs(follower, since=cursor)) == list(range(80))
    cursor = follower.cursor()
    b.delete("run", "loss")  # b catches up first, so its tombstone sorts after a's data
    a.append([_pts(1000, 2)])
    assert _xs(follower, since=cursor) == [1000, 1001]
    assert _xs(follower) == [1000, 1001]
    with _open(log) as fresh:
        assert _xs(fresh) == [1000, 1001]
    for s in (a, b, follower):
        s.close()


def test_follower_is_not_fooled_by_listing_caches(log) -> None:
    """Reader and writer on separate filesystem instances, the reader's caching listings."""
    url, options = log
    if url.startswith("gs://"):
        fs = _fs(log, use_listings_cache=True)
        root = fs._strip_protocol(url)
        fs.pipe_file(f"{root}-probe/a", b"1")
        assert len(fs.ls(f"{root}-probe")) == 1
        _fs(log).pipe_file(f"{root}-probe/b", b"2")  # another writer
        assert len(fs.ls(f"{root}-probe")) == 1, "gcsfs listing cache is stale: the hazard"
    with _open(log, "a") as w:
        w.append([_pts(0, 5)])
        reader_opts = dict(options, use_listings_cache=True, skip_instance_cache=True)
        reader = Store.open(url, storage_options=reader_opts)
        cursor = reader.cursor()
        for i in range(1, 4):
            w.append([_pts(5 * i, 5)])
            assert _xs(reader, since=cursor) == list(range(5 * i, 5 * i + 5))
            cursor = reader.cursor()
        assert _xs(reader) == list(range(20))


def test_reopen_with_a_stale_index_fetches_only_new_segments(log) -> None:
    with _open(log, "a") as w:
        for i in range(5):
            w.append([_pts(10 * i, 10)])
    late = _open(log, "a", index_interval=1e9)
    late.append([_pts(50, 10)])
    late._dirty_since = None  # a writer that dies without saving the index
    late.close()
    faulty = FaultyFS(_fs(log, use_listings_cache=False))
    r = Store(SegmentLog(log[0], fs=faulty), "r")
    fetched = {p.rsplit("/", 1)[-1] for p, _, _ in faulty.reads if "/segments/" in p}
    assert len(fetched) <= 2  # the new segment (and the index's last-record check)
    assert _xs(r) == list(range(60))


def test_segments_are_never_read_with_suffix_ranges(log) -> None:
    s, faulty = _faulty_store(log)
    s.append([_pts(0, 50)])
    s.append([_pts(50, 50)])
    s.close()
    backend = SegmentLog(log[0], fs=faulty)
    r = Store(backend, "r")
    faulty.reads.clear()
    assert r.read_range("run", "loss", 0, 60, 70).column("x").to_pylist() == list(range(60, 71))
    ranged = [(p, a, b) for p, a, b in faulty.reads if "/segments/" in p]
    assert ranged and all(
        a is not None and a >= 0 and b is not None and b > a for _, a, b in ranged
    )


# -- races and retries -------------------------------------------------------------------
def _frozen_clock() -> int:
    return 10**18


def test_exclusive_create_same_bytes_succeeds_other_bytes_conflict(log) -> None:
    """Two backends create the very same segment name (frozen clocks)."""
    _faulty_store(log)  # creates the header
    a = SegmentLog(log[0], fs=FaultyFS(_fs(log, use_listings_cache=False)), clock=_frozen_clock)
    faulty_b = FaultyFS(_fs(log, use_listings_cache=False))
    b = SegmentLog(log[0], fs=faulty_b, clock=_frozen_clock)
    c = SegmentLog(log[0], fs=faulty_b, clock=_frozen_clock)
    for early in (b, c):
        early.order()  # they list before a's segment exists (a writer lists before naming)
    key, _ = a.append(b"batch-1", writer="ab", seq=1)
    faulty_b.before_create = None
    assert b.append(b"batch-1", writer="ab", seq=1) == (key, 0)  # its own earlier attempt
    with pytest.raises(ConflictError):
        c.append(b"other", writer="ab", seq=1)
    assert _segments(log) == [key]
    assert faulty_b.inner.cat_file(f"{b.segments_dir}/{key}") == b"batch-1"


def test_race_on_one_segment_stores_the_batch_once(log) -> None:
    """Two stores send one batch (same writer id and seq) and race to create its segment.

    Each encoding carries its own wall time, so the bytes differ: the loser's backend
    raises ConflictError and its Store answers "duplicate" after catching up.
    """
    wid = b"\x01" * 8
    a, _ = _faulty_store(log, clock=_frozen_clock)
    b, faulty_b = _faulty_store(log, clock=_frozen_clock)
    batch = [_pts(0, 7)]
    # a wins the race between b's catch-up and b's create of the very same object
    faulty_b.before_create = lambda path, data: a.append(batch, writer_id=wid, seq=1)
    assert b.append(batch, writer_id=wid, seq=1).duplicate
    assert len(_segments(log)) == 1
    assert _xs(b) == list(range(7))
    assert b.append(batch, writer_id=wid, seq=1).duplicate  # a later retry: duplicate too
    assert b.append([_pts(200, 1)]).duplicate is False  # b goes on writing
    with _open(log) as r:
        assert _xs(r) == list(range(7)) + [200]


def test_lost_acknowledgement_is_recovered_or_retried_as_a_duplicate(log) -> None:
    s, faulty = _faulty_store(log)
    wid = b"\x03" * 8
    # the write landed but its answer was lost: the backend finds its bytes and succeeds
    faulty.fail_after_create = ConnectionResetError("response lost")
    assert not s.append([_pts(0, 4)], writer_id=wid, seq=9).duplicate
    # the answer was lost and the object cannot be read back either: an error, then
    # the caller's retry of the same (writer id, seq) is recognised
    faulty.fail_after_create = ConnectionResetError("response lost")
    inner_cat = faulty.inner.cat_file

    def cat_down(path: str, *a: Any, **k: Any) -> bytes:
        if "/segments/" in path:
            raise ConnectionResetError("down")
        return inner_cat(path, *a, **k)

    faulty.inner.cat_file = cat_down
    try:
        with pytest.raises(StorageIOError):
            s.append([_pts(4, 4)], writer_id=wid, seq=10)
    finally:
        faulty.inner.cat_file = inner_cat
    assert s.append([_pts(4, 4)], writer_id=wid, seq=10).duplicate
    assert len(_segments(log)) == 2
    assert _xs(s) == list(range(8))
    with _open(log) as r:
        assert _xs(r) == list(range(8))


def test_damaged_upload_is_removed_and_reported(log) -> None:
    """A store that keeps a damaged copy (gcsfs's MD5 check fails): no segment is left."""
    s, faulty = _faulty_store(log)
    inner_pipe = faulty.inner.pipe_file

    def truncating_pipe(path: str, value: bytes, mode: str = "overwrite", **kw: Any) -> None:
        faulty.inner.pipe_file = inner_pipe
        inner_pipe(path, value[:-1], mode=mode, **kw)
        raise OSError("MD5 checksum failed")

    faulty.inner.pipe_file = truncating_pipe
    with pytest.raises(StorageIOError):
        s.append([_pts(0, 4)])
    assert _segments(log) == []
    s.append([_pts(0, 4)])
    with _open(log) as r:
        assert _xs(r) == [0, 1, 2, 3]


@pytest.mark.parametrize("tail", [b"\r", b"\r\n", b"\n", b""])
def test_segment_bytes_are_stored_exactly(log, tail: bytes) -> None:
    backend = SegmentLog(log[0], log[1])
    backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    data = os.urandom(100) + tail
    key, _ = backend.append(data, writer="ab", seq=1)
    assert backend.read(key, 0, len(data)) == data
    assert backend.read(key, 50, 10) == data[50:60]
    assert backend.read_many([(key, 0, 3), (key, 50, 10)]) == [data[:3], data[50:60]]


def test_transport_retry_finding_its_own_object_succeeds(log) -> None:
    """gcsfs retries a create whose answer was lost and gets 412: same bytes, success."""
    s, faulty = _faulty_store(log)
    inner_pipe = faulty.inner.pipe_file

    def create_twice(path: str, data: bytes) -> None:
        inner_pipe(path, data)  # the first attempt landed

    faulty.before_create = create_twice
    assert not s.append([_pts(0, 4)]).duplicate
    assert len(_segments(log)) == 1
    with _open(log) as r:
        assert _xs(r) == [0, 1, 2, 3]


def test_two_copies_of_a_batch_under_different_names_read_once(log) -> None:
    """Retries racing at different times leave two objects; every reader sees one."""
    wid = b"\x04" * 8
    a, _ = _faulty_store(log)
    b, faulty_b = _faulty_store(log)
    cursor = a.cursor()
    faulty_b.before_create = lambda path, data: a.append([_pts(0, 5)], writer_id=wid, seq=1)
    b.append([_pts(0, 5)], writer_id=wid, seq=1)  # different time prefix: no conflict
    assert len(_segments(log)) == 2
    for s in (a, b):
        assert _xs(s) == list(range(5))
    with _open(log) as r:
        assert _xs(r) == list(range(5))
        assert _xs(r, since=cursor) == list(range(5))


def test_lamport_clock_orders_a_delete_after_what_its_writer_saw(log) -> None:
    """b's clock is an hour behind, but its tombstone still follows a's data."""
    hour = 3600 * 10**9
    a, _ = _faulty_store(log)
    b, _ = _faulty_store(log, clock=lambda: 10**18 - hour)
    a.append([_pts(0, 5)])
    b.delete("run", "loss")
    names = _segments(log)
    assert [parse_segment_name(n)[1] for n in names] == [a.writer_id.hex(), b.writer_id.hex()]
    with _open(log) as r:
        assert r.scopes() == []


def test_schema_race_between_lock_free_writers_keeps_the_log_readable(log) -> None:
    """No lock on object stores: two writers may fix different schemas for a new name.

    The first in log order wins and the other's records are skipped (LogState and the
    cursor reader both check). (A store that applied its own write before seeing an
    earlier concurrent one keeps its view until it reopens.)
    """
    a, _ = _faulty_store(log)
    b, faulty_b = _faulty_store(log)
    x = np.arange(3, dtype=np.int64)
    ys = Points("run", "loss", 0, {"x": x, "y": np.ones(3, np.float32)})
    zs = Points("run", "loss", 0, {"x": x, "z": np.ones(3, np.float64)})
    faulty_b.before_create = lambda path, data: a.append([ys])  # races b's create
    cursor = a.cursor()
    b.append([zs])
    with _open(log) as r:
        assert set(r.schema("run", "loss")) in ({"x", "y"}, {"x", "z"})
        assert _xs(r) == [0, 1, 2]
    for s in (a, b):
        assert _xs(s) == [0, 1, 2]
        assert _xs(s, since=cursor) == [0, 1, 2]


# -- replacement and damage -----------------------------------------------------------------
def test_a_generation_manifest_means_a_new_generation(log) -> None:
    from streamvis.storage.objects.segments import manifest_name

    with _open(log, "a") as w:
        w.append([_pts(0, 3)])
    r = _open(log)
    old = r.cursor()
    assert r.generation == 1
    fs = _fs(log)
    root = fs._strip_protocol(log[0])
    fs.pipe_file(f"{root}/segments/{manifest_name(2)}", b'{"generation": 2}')  # as compaction would
    assert _xs(r) == [0, 1, 2]
    assert r.generation == 2
    assert _xs(r, since=old) == []  # an older generation's cursor carries over
    forged = r.cursor().replace(r.cursor(), old)
    from streamvis.storage.read.cursor import encode_cursor

    with pytest.raises(CursorResetError):  # a cursor from a generation to come does not
        r.read(since=encode_cursor(r.log_id, 3, {}))
    assert forged


def test_damaged_or_cut_segment_is_corruption(log) -> None:
    with _open(log, "a") as w:
        w.append([_pts(0, 30)])
    fs = _fs(log)
    root = fs._strip_protocol(log[0])
    path = f"{root}/segments/{_segments(log)[0]}"
    data = fs.cat_file(path)
    fs.pipe_file(path, data[:-5])  # a segment is whole: a short one is not a torn tail
    with pytest.raises(CorruptDataError, match="ends inside a batch"):
        _open(log)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    fs.pipe_file(path, bytes(flipped))
    fs.rm(f"{root}/index.arrow")
    with pytest.raises(CorruptDataError):
        _open(log)
    with _open(log, skip_damaged=True) as r:
        assert r.damaged and r.scopes() == []


def test_create_keeps_an_existing_header(log) -> None:
    with _open(log, "a") as w:
        w.append([_pts(0, 2)])
        log_id = w.log_id
    backend = SegmentLog(log[0], log[1])
    backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    with _open(log) as r:
        assert r.log_id == log_id and _xs(r) == [0, 1]


def test_odd_writer_ids_and_large_seqs_round_trip(log) -> None:
    with _open(log, "a") as w:
        w.append([_pts(0, 2)], writer_id=b"", seq=0)
        w.append([_pts(2, 2)], writer_id=b"\xff" * 32, seq=10**15)
        assert w.append([_pts(2, 2)], writer_id=b"\xff" * 32, seq=10**15).duplicate
    with _open(log) as r:
        assert _xs(r) == [0, 1, 2, 3]


def test_foreign_objects_under_segments_are_ignored(log) -> None:
    with _open(log, "a") as w:
        w.append([_pts(0, 2)])
    fs = _fs(log)
    fs.pipe_file(f"{fs._strip_protocol(log[0])}/segments/tmp-upload", b"junk")
    with _open(log) as r:
        assert _xs(r) == [0, 1]


_WRITER = """
import sys, numpy as np
from streamvis.storage import Points, Store
url, endpoint, tag = sys.argv[1], sys.argv[2], int(sys.argv[3])
opts = {"token": "anon", "endpoint_url": endpoint}
with Store.open(url, "a", storage_options=opts) as s:
    for i in range(8):
        x = np.arange(1000 * tag + 10 * i, 1000 * tag + 10 * i + 10, dtype=np.int64)
        s.append([Points("run", "loss", 0, {"x": x, "y": x.astype(np.float32)})])
"""


def test_follower_while_two_processes_append(gcs_emulator) -> None:
    """Writers in other processes (own gcsfs instances): every read gives whole batches."""
    import sys
    import time

    url = f"gs://{gcs_emulator['bucket']}/{uuid.uuid4().hex}/runs.log"
    opts = gcs_emulator["storage_options"]
    Store.open(url, "a", storage_options=opts).close()
    env = dict(os.environ, GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false")
    procs = [
        spawn(
            [sys.executable, "-c", _WRITER, url, gcs_emulator["endpoint"], str(tag)], env=env
        )
        for tag in (1, 2)
    ]
    reader = Store.open(url, storage_options=opts)
    cursor, seen = reader.cursor(), []
    while True:
        done = all(p.poll() is not None for p in procs)
        new = _xs(reader, since=cursor)
        cursor = reader.cursor()
        assert len(new) % 10 == 0  # whole batches only
        seen.extend(new)
        if done and not new:
            break
        if not new:
            time.sleep(0.05)  # a follower's poll interval
    assert [p.returncode for p in procs] == [0, 0]
    want = sorted(1000 * t + k for t in (1, 2) for k in range(80))
    assert sorted(seen) == want
    assert sorted(_xs(reader)) == want
