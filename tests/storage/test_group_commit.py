"""``Store.append_many``: several batches under one writer lock and one fsync, each
standing alone (its own duplicate check, schema check and outcome)."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from streamvis.errors import SchemaMismatchError, StorageIOError
from streamvis.storage import Points, Store
from streamvis.storage.local import log_file as backend_mod
from streamvis.storage.verify import verify


def _pts(i: int, name: str = "v", n: int = 10, dtype: type = np.float32) -> Points:
    return Points("run", name, 0, {"x": np.arange(i * n, (i + 1) * n), "y": np.full(n, i, dtype)})


@pytest.fixture
def fsyncs(monkeypatch) -> list[int]:
    """Counts the log's fsyncs (the real fsync still runs)."""
    calls: list[int] = []
    real = backend_mod.os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(backend_mod.os, "fsync", counting)
    return calls


def test_one_fsync_for_a_group(tmp_path, fsyncs) -> None:
    path = str(tmp_path / "g.log")
    with Store.open(path, "a", index_interval=1e9) as s:
        s.append([_pts(0)])
        before = len(fsyncs)
        out = s.append_many([([_pts(i)], f"w{i}".encode(), 0) for i in range(1, 33)])
        assert len(fsyncs) - before == 1
        assert all(not o.duplicate for o in out)  # type: ignore[union-attr]
    with Store.open(path) as r:
        y = r.read().tables[("run", "v")].column("y").to_numpy()
    np.testing.assert_array_equal(y, np.repeat(np.arange(33), 10).astype(np.float32))


def test_each_batch_stands_alone(tmp_path) -> None:
    """A duplicate inside the group, a retry of a stored batch and a batch whose schema
    clashes with an earlier member: each gets its own outcome, the others are stored."""
    path = str(tmp_path / "g.log")
    with Store.open(path, "a") as s:
        s.append([_pts(0)], writer_id=b"a", seq=0)
        out = s.append_many([
            ([_pts(1)], b"a", 0),  # stored before: duplicate
            ([_pts(2, "new")], b"b", 0),  # fixes the schema of "new" (float32)
            ([_pts(3, "new")], b"b", 0),  # same (writer, seq) within the group
            ([_pts(4, "new", dtype=np.int64)], b"c", 0),  # clashes with member 2
            ([_pts(5)], b"d", 0),
        ])
        assert [getattr(o, "duplicate", None) for o in out] == [True, False, True, None, False]
        assert isinstance(out[3], SchemaMismatchError)
        assert s.committed_seq(b"c") is None
    with Store.open(path) as r:
        t = r.read().tables
        assert t[("run", "v")].column("y").to_numpy().tolist() == [0] * 10 + [5] * 10
        assert t[("run", "new")].column("y").to_numpy().tolist() == [2] * 10


def test_failed_fsync_cuts_back_the_whole_group(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "g.log")
    with Store.open(path, "a", index_interval=1e9) as s:
        s.append([_pts(0)])

        def bad_fsync(fd: int) -> None:
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(backend_mod.os, "fsync", bad_fsync)
        out = s.append_many([([_pts(i)], f"w{i}".encode(), 0) for i in range(1, 5)])
        assert all(isinstance(o, StorageIOError) for o in out)
        monkeypatch.undo()
        assert s.read().tables[("run", "v")].num_rows == 10  # the store forgot them too
        assert s.committed_seq(b"w1") is None
        with Store.open(path) as r:
            assert r.read().tables[("run", "v")].num_rows == 10
        assert verify(path).ok
        retry = s.append_many([([_pts(i)], f"w{i}".encode(), 0) for i in range(1, 5)])
        assert all(not o.duplicate for o in retry)  # type: ignore[union-attr]
    with Store.open(path) as r:
        assert r.read().tables[("run", "v")].num_rows == 50
