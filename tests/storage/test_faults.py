"""Crash and corruption: torn tails, flipped bytes, stale indexes, retries."""

from __future__ import annotations

import glob
import os
import shutil

import numpy as np
import pytest

from streamvis.errors import CorruptDataError
from streamvis.storage import Points, Store
from streamvis.storage.verify import verify


def _points(i: int, n: int = 20) -> Points:
    return Points("run", "loss", 0, {"x": np.arange(i * n, (i + 1) * n), "y": np.full(n, i, np.float32)})


def _make_log(path: str, batches: int = 3) -> list[int]:
    """Write ``batches`` batches; return the file size after each."""
    sizes = []
    with Store.open(path, "a") as s:
        for i in range(batches):
            s.append([_points(i)])
            sizes.append(os.path.getsize(path))
    os.unlink(path + ".idx")
    return sizes


def _count(path: str) -> int:
    with Store.open(path) as s:
        t = s.read().tables.get(("run", "loss"))
        return 0 if t is None else t.num_rows


def test_truncation_at_every_offset_of_the_last_batch(tmp_path) -> None:
    src = str(tmp_path / "src.log")
    sizes = _make_log(src, 3)
    original = open(src, "rb").read()
    for cut in range(sizes[1] + 1, sizes[2]):
        path = str(tmp_path / f"cut{cut}.log")
        with open(path, "wb") as f:
            f.write(original[:cut])
        assert _count(path) == 40, cut  # the partial batch is invisible
        with Store.open(path, "a") as s:  # the next writer cuts it off, saving the bytes
            s.append([_points(7)])
            assert len(s.quarantined) == 1
        quarantined = open(s.quarantined[0], "rb").read()
        assert quarantined == original[sizes[1] : cut]
        assert _count(path) == 60
        assert verify(path).ok
        for f in glob.glob(path + "*"):
            os.unlink(f)


def test_flipped_byte_in_the_middle_is_detected(tmp_path) -> None:
    path = str(tmp_path / "a.log")
    sizes = _make_log(path, 3)
    data = bytearray(open(path, "rb").read())
    for pos in (sizes[0] + 2, (sizes[0] + sizes[1]) // 2):  # a length byte, a payload byte
        damaged = bytearray(data)
        damaged[pos] ^= 0xFF
        open(path, "wb").write(damaged)
        with pytest.raises(CorruptDataError) as err:
            Store.open(path)
        assert err.value.offset is not None and err.value.offset <= pos
        assert str(sizes[0]) in str(err.value)
        with Store.open(path, skip_damaged=True) as s:  # asked to skip: reports the damage
            assert len(s.damaged) == 1
            assert s.read().tables[("run", "loss")].num_rows == 40
        assert not verify(path).ok


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "stale", "foreign", "flipped"])
def test_index_is_never_trusted_over_the_log(tmp_path, damage: str) -> None:
    path = str(tmp_path / "a.log")
    with Store.open(path, "a") as s:
        for i in range(4):
            s.append([_points(i)])
    expected = _count(path)
    idx = path + ".idx"
    if damage == "delete":
        os.unlink(idx)
    elif damage == "truncate":
        data = open(idx, "rb").read()
        open(idx, "wb").write(data[: len(data) // 2])
    elif damage == "garbage":  # random bytes with our magic: ours, damaged, rebuilt
        open(idx, "wb").write(os.urandom(500) + b"SVIDXC1\n")
    elif damage == "flipped":  # a bad checksum
        data = bytearray(open(idx, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(idx, "wb").write(bytes(data))
    elif damage == "stale":  # index covers more than a truncated log holds
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 30)
        expected -= 20
    elif damage == "foreign":  # index of another log beside a recreated one
        shutil.copy(idx, str(tmp_path / "keep.idx"))
        for f in glob.glob(path + "*"):
            os.unlink(f)
        with Store.open(path, "a") as s:
            s.append([_points(0)])
        shutil.copy(str(tmp_path / "keep.idx"), idx)
        expected = 20
    assert _count(path) == expected


def test_retried_batch_is_stored_once(tmp_path) -> None:
    path = str(tmp_path / "a.log")
    writer = b"w1234567"
    with Store.open(path, "a") as s:
        assert not s.append([_points(0)], writer_id=writer, seq=1).duplicate
        assert s.append([_points(0)], writer_id=writer, seq=1).duplicate
    with Store.open(path, "a") as s:  # another process retrying after a lost ack
        assert s.append([_points(0)], writer_id=writer, seq=1).duplicate
        assert not s.append([_points(1)], writer_id=writer, seq=2).duplicate
    assert _count(path) == 40


def test_failed_append_leaves_no_partial_batch(tmp_path) -> None:
    import resource
    import signal

    path = str(tmp_path / "a.log")
    with Store.open(path, "a") as s:
        s.append([_points(0)])
    size = os.path.getsize(path)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
        big = Points("run", "loss", 0, {"x": np.arange(10_000), "y": np.random.rand(10_000).astype(np.float32)})
        from streamvis.errors import StorageIOError

        with Store.open(path, "a", index_interval=1e9) as s:
            with pytest.raises(StorageIOError, match="disk full|File too large"):
                s.append([big])
            assert os.path.getsize(path) == size  # cut back
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            s.append([_points(1)])  # and the next append works
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert _count(path) == 40
