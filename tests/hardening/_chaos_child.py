"""A logger process of the chaos test (started with multiprocessing ``spawn``).

It logs known values through the data server: ``y`` (one index) and ``z`` (two
indices) at x = 0 .. n-1, plus ``bulk`` (not plotted) at x = 0 .. bulk_n-1, and
reports its flush result, stats and peak RSS on ``out``. Values: ``expected_y``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def expected_y(k: int, index: int, x: np.ndarray) -> np.ndarray:
    """The y of logger ``k``, index ``index`` at steps ``x`` (exact in float64)."""
    return k * 1_000_000.0 + index * 100_000.0 + x * 0.5


def vm_hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size (VmHWM) of a process in KiB, 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_logger(
    uri: str,
    k: int,
    n: int,
    chunk: int,
    bulk_chunk: int,
    pace: float,
    hold_at: int,
    go: Any,
    release: Any,
    out: Any,
) -> None:
    """Write ``n`` steps in chunks, pausing ``pace`` s between chunks, once ``go`` is
    set; before step ``hold_at`` wait for ``release`` (the last writes follow the kills)."""
    try:
        from streamvis.logger import DataLogger

        scope = f"chaos-{k}"
        lg = DataLogger(scope).init(grpc_uri=uri, flush_every=0.05, close_timeout=120)
        out.put(("started", k, os.getpid()))
        go.wait(120)
        held = False
        for s in range(0, n, chunk):
            if s >= hold_at and not held:
                held = True
                release.wait(120)
            x = np.arange(s, s + chunk, dtype=np.float64)
            lg.write("y", x=x, y=expected_y(k, 0, x))
            lg.write("z", x=x, y=np.stack([expected_y(k, 0, x), expected_y(k, 1, x)]))
            bx = np.arange(s // chunk * bulk_chunk, (s // chunk + 1) * bulk_chunk, dtype=np.float64)
            lg.write("bulk", x=bx, y=expected_y(k, 0, bx))
            time.sleep(pace)
        t0 = time.monotonic()
        ok = lg.flush(timeout=120)
        stats = lg.stats()
        lg.close()
        out.put(("done", k, ok, stats, time.monotonic() - t0, vm_hwm_kib()))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        import traceback

        out.put(("error", k, f"{exc!r}\n{traceback.format_exc()}"))
