"""Disk full and I/O errors during append.

* A real file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) in a child process: the Store
  raises a clear ``StorageIOError`` ("disk full"), the file is cut back, the log stays
  readable and verifiable, and a ``DataLogger`` writing to the path keeps buffering
  and retrying; when the limit is raised every point arrives, exactly once, in order.
* A fault-injecting write (ENOSPC after a partial write, EIO, a failing fsync) in this
  process: the same guarantees, and the logger's retries are deduplicated.

(tests/storage/test_faults.py::test_failed_append_leaves_no_partial_batch covers one
failed Store append alone.)
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from streamvis.errors import StorageIOError, StreamvisError
from streamvis.logger import DataLogger
from streamvis.storage import Points, Store
from streamvis.storage.local import log_file as backend_mod
from streamvis.storage.verify import verify

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_CHILD = r"""
import json, os, resource, signal, sys, time
import numpy as np
from streamvis.errors import StorageIOError
from streamvis.logger import DataLogger
from streamvis.storage import Points, Store
from streamvis.storage.verify import verify

path = sys.argv[1]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
out = {}
lg = DataLogger("dl").init(path=path, flush_every=3600.0, max_batch_bytes=64 << 10)
total = 0

def write(n):
    global total
    x = np.arange(total, total + n, dtype=np.int64)
    lg.write("m", x=x, y=x * 0.25)
    total += n

write(1000)
assert lg.flush(timeout=10)
size = os.path.getsize(path)
out["size_before"] = size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 3000, hard))  # the disk is (nearly) full

# the Store alone: a clear error, nothing partial, the log readable
with Store.open(path, "a", index_interval=1e9) as s:
    big = np.random.default_rng(0).random(50_000)
    try:
        s.append([Points("direct", "d", 0, {"y": big})])
        out["store_error"] = None
    except StorageIOError as exc:
        out["store_error"] = str(exc)
        out["store_errno"] = exc.errno
out["size_after_failed_append"] = os.path.getsize(path)

# the logger: keeps buffering and retrying while writes fail
for _ in range(30):
    write(2000)
t0 = time.monotonic()
out["flush_while_full"] = lg.flush(timeout=1.0)
out["stats_while_full"] = lg.stats()
for _ in range(10):
    write(500)  # still accepted while the sink is down
with Store.open(path) as r:  # a reader meanwhile: a consistent prefix
    t = r.read("dl", "m").tables[("dl", "m")]
    out["readable_points_while_full"] = t.num_rows
    out["prefix_ok"] = bool((t.column("x").to_numpy() == np.arange(t.num_rows)).all())
out["verify_while_full"] = verify(path).ok

resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space returns
out["flush_after"] = lg.flush(timeout=60.0)
out["stats_after"] = lg.stats()
lg.close()
out["total"] = total
print("RESULT " + json.dumps(out))
"""


@pytest.mark.timeout(180)
def test_file_size_limit_store_error_and_logger_retries(tmp_path) -> None:
    path = str(tmp_path / "full.log")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, path], cwd=ROOT, capture_output=True, text=True,
        timeout=170, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    print(out)
    # a clear error, naming the cause, and no partial batch left behind
    assert out["store_error"] is not None and "disk full" in out["store_error"]
    assert out["store_errno"] in (errno.EFBIG, errno.ENOSPC)
    assert out["size_after_failed_append"] == out["size_before"]
    # the logger buffered and retried, losing nothing and refusing nothing
    assert out["flush_while_full"] is False
    full = out["stats_while_full"]
    assert full["retries"] >= 1 and full["undelivered_points"] > 0 and full["dropped_points"] == 0
    assert out["prefix_ok"] and out["verify_while_full"]
    assert out["readable_points_while_full"] == full["delivered_points"]
    assert out["flush_after"] is True
    after = out["stats_after"]
    assert after["delivered_points"] == out["total"] and after["undelivered_points"] == 0
    assert after["refused_points"] == 0 and after["dropped_points"] == 0
    # every point exactly once, in order, exact values
    with Store.open(path) as s:
        t = s.read("dl", "m").tables[("dl", "m")]
        assert "direct" not in s.scopes()
    x = t.column("x").to_numpy()
    np.testing.assert_array_equal(x, np.arange(out["total"]))
    np.testing.assert_array_equal(t.column("y").to_numpy(), x * 0.25)
    assert verify(path).ok


# -- fault injection in this process -------------------------------------------------
class Faults:
    """Replaces the backend's write loop: while ``fail`` is set, write part of the data
    (a torn write) and then raise ``OSError(errno)``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fail: int | None = None
        self.failures = 0
        self._real = backend_mod._write_all
        monkeypatch.setattr(backend_mod, "_write_all", self._write_all)

    def _write_all(self, fd: int, data: bytes, offset: int) -> None:
        if self.fail is None:
            return self._real(fd, data, offset)
        self.failures += 1
        self._real(fd, data[: len(data) // 2], offset)  # half of it reached the file
        raise OSError(self.fail, os.strerror(self.fail))


def _pts(i: int, n: int = 100) -> Points:
    return Points("run", "v", 0, {"x": np.arange(i * n, (i + 1) * n), "y": np.full(n, i, np.float32)})


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code,words", [(errno.ENOSPC, "disk full"), (errno.EIO, "Input/output error")])
def test_injected_write_error_is_clear_and_leaves_the_log_whole(tmp_path, monkeypatch, code, words) -> None:
    path = str(tmp_path / "a.log")
    faults = Faults(monkeypatch)
    with Store.open(path, "a", index_interval=1e9) as s:
        s.append([_pts(0)])
        size = os.path.getsize(path)
        faults.fail = code
        for i in range(3):
            with pytest.raises(StorageIOError, match=words) as err:
                s.append([_pts(1 + i)])
            assert err.value.errno == code
            assert os.path.getsize(path) == size  # the torn half was cut back
            with Store.open(path) as r:  # readable meanwhile, nothing partial
                assert r.read().tables[("run", "v")].num_rows == 100
            assert verify(path).ok
        faults.fail = None
        s.append([_pts(4)])
    with Store.open(path) as r:
        t = r.read().tables[("run", "v")]
    np.testing.assert_array_equal(t.column("y").to_numpy(), np.repeat([0, 4], 100).astype(np.float32))


@pytest.mark.timeout(60)
def test_failing_fsync_is_a_storage_error(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "s.log")
    with Store.open(path, "a", index_interval=1e9) as s:
        s.append([_pts(0)])

        def bad_fsync(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(backend_mod.os, "fsync", bad_fsync)
        with pytest.raises(StorageIOError, match="fsync.*Input/output error"):
            s.append([_pts(1)])
        monkeypatch.undo()
        with Store.open(path) as r:  # readable, and the batch that was not durable is gone
            assert r.read().tables[("run", "v")].num_rows == 100
        assert verify(path).ok
        s.append([_pts(2)])
    with Store.open(path) as r:
        assert r.read().tables[("run", "v")].num_rows == 200


@pytest.mark.timeout(90)
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_logger_buffers_through_injected_errors(tmp_path, monkeypatch, code) -> None:
    path = str(tmp_path / "l.log")
    faults = Faults(monkeypatch)
    lg = DataLogger("lg").init(path=path, flush_every=0.05, max_batch_bytes=16 << 10)
    total = 0

    def write(n: int) -> None:
        nonlocal total
        x = np.arange(total, total + n, dtype=np.int64)
        lg.write("m", x=x, y=-x)
        total += n

    try:
        write(500)
        assert lg.flush(timeout=10)
        faults.fail = code
        for _ in range(40):
            write(300)
        deadline = time.monotonic() + 20  # the flush thread keeps trying: poll for it
        while lg.stats()["retries"] < 3:
            assert time.monotonic() < deadline, lg.stats()
            time.sleep(0.01)
        assert lg.flush(timeout=0.3) is False
        st = lg.stats()
        assert st["undelivered_points"] > 0 and st["dropped_points"] == 0
        with Store.open(path) as r:
            assert r.read("lg", "m").tables[("lg", "m")].num_rows == st["delivered_points"]
        faults.fail = None
        write(1000)
        assert lg.flush(timeout=30)
    finally:
        lg.close()
    st = lg.stats()
    assert st["delivered_points"] == total and st["refused_points"] == 0
    assert faults.failures >= 3
    with Store.open(path) as r:
        t = r.read("lg", "m").tables[("lg", "m")]
    np.testing.assert_array_equal(t.column("x").to_numpy(), np.arange(total))
    np.testing.assert_array_equal(t.column("y").to_numpy(), -np.arange(total))
    assert verify(path).ok


def test_storage_io_error_is_a_streamvis_error() -> None:
    assert issubclass(StorageIOError, StreamvisError) and issubclass(StorageIOError, OSError)
