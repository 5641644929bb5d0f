"""Issue 6's workloads through streamvis (project venv): DataLogger writes, export reads.

Writes go through the public logger exactly as a training loop would::

    logger = DataLogger(scope=..., delete_existing=True)
    logger.init(path=..., flush_every=1.0)
    with logger:
        logger.write("loss", x=i, y=v)          # v a Python float, as loss.item() gives

Reads are cold opens through ``streamvis.script.export`` (a new Store each time).
``python -m benchmarks.streamvis_workloads fresh|open PATH SCOPE NAME`` reads one group in
a fresh process and prints its peak-RSS growth (for the memory goal; see
``peak_read_memory`` for the two methods).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from benchmarks.table import peak_rss_bytes
from benchmarks.workloads import batch_data, scalar_data

__all__ = [
    "WriteResult",
    "log_bytes",
    "write_scalars",
    "write_batches",
    "read_group",
    "make_scalar_log",
    "peak_read_memory",
]

SCOPE = "bench"


@dataclass
class WriteResult:
    seconds: float  # all writes + close (data durable)
    call_seconds: float  # the write() calls alone
    batches: int  # appends the logger made (each fsynced): the raw baseline's fsyncs
    cpu_seconds: float = 0.0  # process CPU time (all threads), robust to a busy machine


def log_bytes(path: str) -> int:
    """Bytes of a log including its sidecar index."""
    idx = path + ".idx"
    return os.path.getsize(path) + (os.path.getsize(idx) if os.path.exists(idx) else 0)


def _remove(path: str) -> None:
    for p in (path, path + ".idx"):
        if os.path.exists(p):
            os.unlink(p)


def write_scalars(path: str, n: int) -> WriteResult:
    from streamvis.logger import DataLogger

    _remove(path)
    _steps, values = scalar_data(n)
    vals = values.tolist()  # Python floats, as loss.item() gives
    logger = DataLogger(scope=SCOPE, delete_existing=True)
    logger.init(path=path, flush_every=1.0)
    c0 = time.process_time()
    t0 = time.perf_counter()
    with logger:
        write = logger.write
        for i in range(n):
            write("loss", x=i, y=vals[i])
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    return WriteResult(t2 - t0, t1 - t0, logger.stats().get("delivered_batches", 1), cpu)


def write_batches(path: str, steps: int, batch: int) -> WriteResult:
    from streamvis.logger import DataLogger

    _remove(path)
    data = [batch_data(batch, s) for s in range(steps)]  # made before the clock starts
    logger = DataLogger(scope=SCOPE, delete_existing=True)
    logger.init(path=path, flush_every=1.0)
    t0 = time.perf_counter()
    with logger:
        for s, (x, y) in enumerate(data):
            logger.write("points", start_index=s, x=x, y=y)
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    return WriteResult(t2 - t0, t1 - t0, logger.stats().get("delivered_batches", 1))


def read_group(path: str, name: str) -> dict[str, np.ndarray]:
    """Everything of (SCOPE, name) as one numpy array per column, from a cold open.

    The ``index`` column comes as its dictionary codes (int8/int16 per row, what the
    read made); ``.to_numpy()`` of it would expand it to int64 on demand."""
    import streamvis.script as script

    tables = script.export_arrow(path=path, scope=SCOPE, name=name)
    return _numpy_columns(tables[(SCOPE, name)])


def _numpy_columns(table: pa.Table) -> dict[str, np.ndarray]:
    out = {}
    for c in table.column_names:
        col = table.column(c)
        if pa.types.is_dictionary(col.type) and col.num_chunks == 1:
            out[c] = col.chunk(0).indices.to_numpy()
        else:
            out[c] = col.to_numpy()
    return out


def make_scalar_log(
    path: str, n: int, *, chunk: int = 1_000_000, scope: str = SCOPE, name: str = "loss"
) -> None:
    """A scalar log of n points written in large appends (fast set-up for big logs)."""
    from streamvis.storage import Points, Store

    _remove(path)
    with Store.open(path, "a", fsync=False) as st:
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            steps, values = scalar_data(hi - lo)
            st.append([Points(scope, name, 0, {"x": steps + lo, "y": values})])


def peak_read_memory(path: str, name: str = "loss", method: str = "fresh") -> tuple[int, int]:
    """(peak RSS growth while reading, points read), measured in a fresh interpreter.

    ``fresh``: growth of the peak RSS over the RSS after imports (``export_arrow``
    opens the store itself). ``open``: the peak RSS reset once ``Store.open`` returned
    (``/proc/self/clear_refs``), growth over the RSS then: the read alone (``Store.read``).
    ``open-arrays``: the same for ``Store.read_arrays`` (``script.export``'s shape)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.streamvis_workloads", method, path, SCOPE, name],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout.split()
    return int(out[0]), int(out[1])


def _rss() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _open_main(path: str, scope: str, name: str, arrays: bool) -> None:
    from streamvis.storage import Store

    with Store.open(path, "r") as st:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # peak RSS := current RSS
        base = _rss()
        if arrays:  # script.export's shape
            cols = next(iter(st.read_arrays(scope, name).values()))
        else:
            cols = _numpy_columns(st.read(scope, name).tables[(scope, name)])
        print(peak_rss_bytes() - base, len(next(iter(cols.values()))))


def _peak_main(path: str, scope: str, name: str) -> None:
    import streamvis.script  # noqa: F401  (imports are not the read's memory)
    from streamvis.storage import Store  # noqa: F401

    base = _rss()
    cols = read_group(path, name) if scope == SCOPE else {}
    n = len(next(iter(cols.values())))
    print(peak_rss_bytes() - base, n)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("fresh", "peak"):
        _peak_main(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] in ("open", "open-arrays"):
        _open_main(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[1] == "open-arrays")
    else:
        sys.exit(
            "usage: python -m benchmarks.streamvis_workloads fresh|open|open-arrays PATH SCOPE NAME"
        )
