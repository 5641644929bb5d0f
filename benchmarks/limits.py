"""The machine's limits, measured in the same run as the tools they bound.

* sequential write of N bytes in chunks, fsync per flush (every ``flush_bytes``) and at
  close — the same policy as a streamvis log opened with ``fsync=True``;
* sequential read of the same file (page cache warm, as for every tool's read);
* ``numpy`` copy of N bytes (the floor for any read that ends in a new array).
"""

from __future__ import annotations

import os

import numpy as np

from benchmarks.table import time_runs

__all__ = [
    "raw_write",
    "raw_read",
    "numpy_copy",
    "raw_write_times",
    "raw_read_times",
    "fresh_read_and_touch_times",
]

CHUNK = 1 << 20


def raw_write(
    path: str, nbytes: int, *, flush_bytes: int | None = None, fsync: bool = True
) -> None:
    """Append ``nbytes`` to a fresh file in writes of at most 1 MiB that never cross a flush
    boundary; fsync once per ``flush_bytes`` (and at the end)."""
    step = min(CHUNK, flush_bytes) if flush_bytes else CHUNK
    buf = memoryview(os.urandom(max(1, min(step, nbytes))))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        left = nbytes
        since_sync = 0
        while left > 0:
            # never write past a flush boundary: one fsync per flush, as the log does
            want = min(left, len(buf), (flush_bytes - since_sync) if flush_bytes else len(buf))
            n = os.write(fd, buf[:want])
            left -= n
            since_sync += n
            if flush_bytes and since_sync >= flush_bytes:
                if fsync:
                    os.fsync(fd)
                since_sync = 0
        if fsync and since_sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def raw_read(path: str) -> int:
    """Read a whole file into one bytearray (as a reader that decodes it would)."""
    size = os.path.getsize(path)
    out = bytearray(size)
    with open(path, "rb", buffering=0) as f:
        view = memoryview(out)
        got = 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
    return got


def raw_write_times(
    path: str, nbytes: int, runs: int, *, flush_bytes: int | None = None, fsync: bool = True
) -> list[float]:
    def setup() -> None:
        if os.path.exists(path):
            os.unlink(path)

    return time_runs(
        lambda: raw_write(path, nbytes, flush_bytes=flush_bytes, fsync=fsync), runs, setup=setup
    )


def raw_read_times(path: str, runs: int) -> list[float]:
    raw_read(path)  # warm the page cache, as every tool's read is measured warm
    return time_runs(lambda: raw_read(path), runs)


def numpy_copy(nbytes: int, runs: int) -> list[float]:
    src = np.ones(max(nbytes, 1), dtype=np.uint8)
    dst = np.empty_like(src)
    return time_runs(lambda: np.copyto(dst, src), runs, warmup=1)


def fresh_read_and_touch(path: str, out_bytes: int) -> None:
    """Read the whole file into a fresh buffer and fill fresh output arrays of
    ``out_bytes`` (the page faults of fresh memory cost as much as the read here)."""
    size = os.path.getsize(path)
    buf = np.empty(size, dtype=np.uint8)
    with open(path, "rb", buffering=0) as f:
        view = memoryview(buf)
        got = 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
    out = np.empty(out_bytes, dtype=np.uint8)
    out.fill(0)


def fresh_read_and_touch_times(path: str, out_bytes: int, runs: int) -> list[float]:
    raw_read(path)  # page cache warm, as for every read
    return time_runs(lambda: fresh_read_and_touch(path, out_bytes), runs)
