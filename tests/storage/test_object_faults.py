"""Faults of the service under many writers (issue 23): 503s and timeouts on listings,
uploads and downloads, a lost answer. Nothing is lost, nothing doubled, readers are
never stuck (each failed call raises one StorageIOError; the next one goes on)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest

from streamvis.errors import StorageIOError
from streamvis.storage import Points, Store
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.objects.segments import SegmentLog
from tests.storage.faulty_fs import FaultyFS

pytestmark = pytest.mark.timeout(120)


def _503() -> OSError:
    return OSError("503 Service Unavailable")


@pytest.fixture(params=["memory", "gs", "s3"])
def log(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    if request.param == "memory":
        return f"memory://faults-{uuid.uuid4().hex}/runs.log", {}
    emu = request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")
    return f"{request.param}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log", emu["storage_options"]


def _store(log: tuple[str, dict[str, Any]], mode: str = "a") -> tuple[Store, FaultyFS]:
    url, options = log
    faulty = FaultyFS(fsspec.filesystem(url.split("://")[0], skip_instance_cache=True, **options))
    backend = SegmentLog(url, fs=faulty)
    backend.auto_compact_at = None
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, mode), faulty  # type: ignore[arg-type]


def _pts(scope: str, start: int, n: int = 5) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points(scope, "loss", 0, {"x": x, "y": x.astype(np.float32)})


def _xs(store: Store, scope: str, since: str | None = None) -> list[int]:
    t = store.read(scope, "loss", since=since).tables.get((scope, "loss"))
    return t.column("x").to_pylist() if t is not None else []


def test_503s_and_timeouts_lose_nothing_and_double_nothing(log) -> None:
    a, fa = _store(log)
    b, fb = _store(log)
    reader, fr = _store(log, "r")
    cursor, seen = reader.cursor(), []

    def follow() -> None:
        nonlocal cursor
        res = reader.read("run", "loss", since=cursor)
        cursor = res.cursor
        t = res.tables.get(("run", "loss"))
        seen.extend(t.column("x").to_pylist() if t is not None else [])

    wid = b"\x07" * 8
    a.append([_pts("run", 0)], writer_id=wid, seq=1)
    b.append([_pts("other", 0)])
    # the probe after an upload fails: the append succeeded; the next group probes again
    fa.fail_next["list"] = [_503()]
    a.append([_pts("run", 5)], writer_id=wid, seq=2)
    assert a.backend._unchecked  # noqa: SLF001
    a.append([_pts("run", 10)], writer_id=wid, seq=3)
    assert not a.backend._unchecked  # noqa: SLF001
    follow()
    # an upload refused (503 before it landed): the caller retries the same batch
    fa.fail_next["create"] = [_503()]
    with pytest.raises(StorageIOError):
        a.append([_pts("run", 15)], writer_id=wid, seq=4)
    assert not a.append([_pts("run", 15)], writer_id=wid, seq=4).duplicate
    # an upload that landed, its answer lost and the read-back timing out: the retry
    # finds the object (stored once) and is answered "duplicate"
    fa.fail_after_create = TimeoutError("timed out")
    fa.fail_next["read"] = [TimeoutError("timed out")]
    with pytest.raises(StorageIOError):
        a.append([_pts("run", 20)], writer_id=wid, seq=5)
    assert a.append([_pts("run", 20)], writer_id=wid, seq=5).duplicate
    # a reader's listing and download fail once each: one error, then it goes on
    for kind in ("list", "read"):
        fr.fail_next[kind] = [_503()]
        b.append([_pts("other", 5 if kind == "list" else 10)])
        with pytest.raises(StorageIOError):
            follow()
        follow()
    assert seen == list(range(25))  # every point once, in order
    with Store.open(log[0], storage_options=log[1] or None) as fresh:
        assert _xs(fresh, "run") == list(range(25))
        assert _xs(fresh, "other") == list(range(15))
    for s in (a, b, reader):
        s.close()


_APPENDER = """
import sys
import numpy as np
from streamvis.storage import Points, Store
url, opts = sys.argv[1], {"token": "anon", "endpoint_url": sys.argv[2]}
with Store.open(url, "a", storage_options=opts) as s:
    for i in range(100000):
        x = np.arange(10 * i, 10 * i + 10, dtype=np.int64)
        s.append([Points("killed", "loss", 0, {"x": x, "y": x.astype(np.float32)})])
        print(i, flush=True)
"""


def test_a_writer_killed_mid_upload_leaves_nothing_doubled_or_stuck(gcs_emulator) -> None:
    """SIGKILL while appending in a loop (most of its time is in an upload or a probe):
    every acknowledged batch is there, at most one more, none twice; followers go on."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import spawn

    url = f"gs://{gcs_emulator['bucket']}/{uuid.uuid4().hex}/runs.log"
    opts = gcs_emulator["storage_options"]
    root = Path(__file__).resolve().parents[2]
    proc = spawn([sys.executable, "-c", _APPENDER, url, gcs_emulator["endpoint"]],
                 stdout=subprocess.PIPE, text=True, cwd=str(root),
                 env={**os.environ, "PYTHONPATH": str(root)})
    acked = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        acked = int(line)
        if acked >= 30:
            break
    with Store.open(url, storage_options=opts) as follower:
        cursor = follower.cursor()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        acked = max([acked] + [int(n) for n in proc.stdout.read().split()])  # printed since
        res = follower.read(since=cursor)
        assert res.num_points >= 0  # not stuck
        with Store.open(url, storage_options=opts) as fresh:
            xs = _xs(fresh, "killed")
        batches = sorted({x // 10 for x in xs})
        assert len(xs) == len(set(xs)) == 10 * len(batches)  # none twice, none partial
        assert batches == list(range(len(batches))) and acked < len(batches) <= acked + 2
        other, _ = _store((url, opts))
        other.append([_pts("after", 0)])
        assert _xs(follower, "after") == list(range(5))
        other.close()
