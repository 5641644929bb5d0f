"""The DataLogger's table (issue 3): ``python -m benchmarks.logger_bench [--quick]``.

Medians of:
* one ``write`` call: a Python scalar, a 1,000-element float32 numpy vector, a torch
  scalar tensor (logger with default settings, its flush thread running);
* a small CPU torch training loop logging 10 scalars per step, against the same loop
  without logging (runs interleaved; ratio);
* sustained ingest (points/s, until ``close`` has delivered everything) to a local
  path and through a data server subprocess (``streamvis grpc-serve``).
"""

from __future__ import annotations

import collections
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.table import Table, per_call, progress

SECTION_CALL = "write() call"
SECTION_LOOP = "training loop, 10 scalars/step"
SECTION_INGEST = "sustained ingest"
SECTION_FLOOR = "scalar write incl. flush and close, vs the deque floor"
SECTION_WALL = "per-point wall time (issue 11)"
SECTION_CADENCE = "scalar write incl. flush, by writes per flush (CPU, caller's thread)"


def bench_calls(table: Table, tmp: str, quick: bool) -> None:
    from streamvis import DataLogger

    calls, runs = (2000, 7) if quick else (10000, 15)
    lg = DataLogger("bench", delete_existing=True).init(path=os.path.join(tmp, "calls.svl"))
    vec = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    write = lg.write
    progress("write(): Python scalar")
    table.add(SECTION_CALL, "Python scalar: write('s', x=i, y=0.5)",
              per_call(lambda i: write("s", x=i, y=0.5), calls, runs), "s",
              goal="< 2 us")
    progress("write(): numpy vector")
    table.add(SECTION_CALL, "numpy float32[1000]: write('v', y=vec)",
              per_call(lambda i: write("v", y=vec), calls // 4, runs), "s", goal="< 5 us")
    try:
        import torch
    except ImportError:
        table.add(SECTION_CALL, "torch scalar", [], "s", note="torch not installed")
    else:
        t = torch.tensor(0.5)
        progress("write(): torch scalar")
        table.add(SECTION_CALL, "torch scalar: write('t', x=i, y=tensor)",
                  per_call(lambda i: write("t", x=i, y=t), calls, runs), "s", goal="< 6 us")
    lg.close()
    for row in table.rows:
        if row.section == SECTION_CALL and row.samples and row.goal:
            row.met = row.value < float(row.goal.split()[1]) * 1e-6


def _floor_run(n: int) -> tuple[float, float]:
    """Seconds per call of the floor: a function that only appends the name and its
    kwargs to a deque (what any buffered logger must at least do)."""
    q: collections.deque[Any] = collections.deque()
    append = q.append

    def write(name: str, **kw: Any) -> None:
        append((name, kw))

    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        write("loss", x=i, y=0.5 * i)
    out = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
    q.clear()  # freeing what it queued: the logger's figure includes its own freeing
    return (*out, (time.perf_counter() - t0) / n, (time.process_time() - c0) / n)


def _logger_run(tmp: str, n: int, r: int) -> tuple[float, float]:
    """Seconds per ``write("loss", x=i, y=float)``, including the flush thread and
    ``close()`` (the data is durable when the clock stops)."""
    from streamvis import DataLogger

    lg = DataLogger("floor", delete_existing=True).init(
        path=os.path.join(tmp, f"floor{r}.svl"), flush_every=1.0)
    write = lg.write
    write("loss", x=0, y=0.0)  # the first write of a name takes the checked path
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(1, n):
        write("loss", x=i, y=0.5 * i)
    lg.close()
    return (time.perf_counter() - t0) / (n - 1), (time.process_time() - c0) / (n - 1)


def bench_floor(table: Table, tmp: str, quick: bool) -> None:
    """DataLogger.write of Python scalars against the deque floor, runs interleaved."""
    n, runs = (200_000, 3) if quick else (1_000_000, 7)
    floor, logged = [], []
    progress(f"scalar write vs the deque floor: {runs} interleaved runs of {n:,} writes")
    for r in range(runs):
        floor.append(_floor_run(n))
        logged.append(_logger_run(tmp, n, r))
    floor_label = "floor: def write(name, **kw): deque.append((name, kw))"
    for i, kind in ((0, "wall"), (1, "CPU, all threads")):
        table.add(SECTION_FLOOR, f"{floor_label}, {kind}", [f[i] for f in floor], "s",
                  note="per call")
        table.add(SECTION_FLOOR, f"{floor_label}, then freeing the deque, {kind}",
                  [f[i + 2] for f in floor], "s", note="per call; the logger frees what it drains")
        row = table.add(SECTION_FLOOR,
                        f"DataLogger.write('loss', x=i, y=float) + flush + close, {kind}",
                        [g[i] for g in logged], "s", baseline=f"{floor_label}, {kind}",
                        goal="<= 1.6x floor", note="per call, flush_every=1.0; stamps wall_time")
        ratio = table.ratio(row)
        row.met = ratio is not None and ratio <= 1.6
        table.add(SECTION_FLOOR, f"the same, against the floor that frees, {kind}",
                  [g[i] for g in logged], "s",
                  baseline=f"{floor_label}, then freeing the deque, {kind}", note="per call")


def _cpu_per_write(write: Any, drain: Any, n: int, k: int) -> float:
    """CPU seconds per ``write("loss", x=i, y=float)``, calling ``drain()`` every ``k``."""
    c0 = time.process_time()
    for j in range(n // k):
        for i in range(j * k, (j + 1) * k):
            write("loss", x=i, y=0.5 * i)
        drain()
    return (time.process_time() - c0) / n


def _cadence_run(tmp: str, n: int, k: int, r: int) -> tuple[float, float]:
    """CPU seconds per write, (floor, logger), each draining every ``k`` writes: the
    floor clears its deque, the logger flushes on this thread (``flush()``)."""
    from streamvis import DataLogger

    q: collections.deque[Any] = collections.deque()
    append = q.append

    def floor_write(name: str, **kw: Any) -> None:
        append((name, kw))

    floor = _cpu_per_write(floor_write, q.clear, n, k)
    lg = DataLogger("cadence", delete_existing=True).init(
        path=os.path.join(tmp, f"cadence{k}_{r}.svl"), flush_every=3600.0)
    lg.write("loss", x=0, y=0.0)
    lg.flush()
    logged = _cpu_per_write(lg.write, lg.flush, n, k)
    lg.close()
    return floor, logged


def bench_cadence(table: Table, tmp: str, quick: bool) -> None:
    """The scalar write when each flush holds few or many writes (the packed records
    trade a dearer call for a cheaper flush and no dicts held: see RESULTS.md)."""
    n, runs = (50_000, 3) if quick else (200_000, 5)
    for k in (k for k in (100, 1_000, 10_000, 100_000) if k <= n):
        progress(f"scalar write, a flush every {k:,} writes: {runs} runs of {n:,}")
        got = [_cadence_run(tmp, n, k, r) for r in range(runs)]
        base = f"floor, cleared every {k:,} writes"
        table.add(SECTION_CADENCE, base, [g[0] for g in got], "s", note="per write")
        table.add(SECTION_CADENCE, f"DataLogger.write + flush() every {k:,} writes",
                  [g[1] for g in got], "s", baseline=base, note="per write")


def bench_wall_time(table: Table, tmp: str, quick: bool) -> None:
    """What the per-write wall time costs: the clock read per call, and bytes per
    point on disk with and without the ``wall_time`` column (same points, same log)."""
    from streamvis import DataLogger
    from streamvis.storage import Store
    from streamvis.storage.format.model import Points

    n = 200_000 if quick else 1_000_000
    clock = time.time
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n // 10):
            clock()
        samples.append((time.perf_counter() - t0) / (n // 10))
    table.add(SECTION_WALL, "time.time() per write call", samples, "s",
              note="the only cost on the calling thread")
    for label, gap in (("a write every 1 ms", 1e-3), ("a write every 100 us", 1e-4)):
        path = os.path.join(tmp, f"wall{gap}.svl")
        with_wall, without = [], []
        lg = DataLogger("wall", delete_existing=True).init(path=path, flush_every=3600)
        steps = 4_000 if quick else 20_000
        for i in range(steps):
            lg.write("loss", x=i, y=0.5 * i)
            t_end = time.perf_counter() + gap
            while time.perf_counter() < t_end:
                pass
        lg.close()
        with Store.open(path, "r") as st:
            cols = st.read_arrays("wall", "loss")[("wall", "loss", 0)]
        bare = os.path.join(tmp, f"bare{gap}.svl")
        with Store.open(bare, "a") as st:
            st.append([Points("wall", "loss", 0, {"x": cols["x"], "y": cols["y"]})])
        log_bytes = os.path.getsize(path)
        bare_bytes = os.path.getsize(bare)
        with_wall.append(log_bytes / steps)
        without.append(bare_bytes / steps)
        table.add(SECTION_WALL, f"log bytes per scalar point without wall_time, {label}",
                  without, "B", note="same points appended without the column")
        table.add(SECTION_WALL, f"log bytes per scalar point with wall_time, {label}",
                  with_wall, "B", note="float64 s, BITS_DELTA_ZSTD; precision 2**-22 s")
        table.add(SECTION_WALL, f"wall_time column alone, {label}",
                  [a - b for a, b in zip(with_wall, without, strict=True)], "B",
                  note=f"{steps:,} writes")


def bench_training(table: Table, tmp: str, quick: bool) -> None:
    try:
        import torch
    except ImportError:
        table.add(SECTION_LOOP, "torch MLP", [], "s", note="torch not installed")
        return
    torch.set_num_threads(1)  # 2 cores here: leave one to the logger's flush thread
    # (hidden width, batch): a tiny model (~1 ms/step here) and a small one (~5-10 ms)
    for hidden, batch in ((128, 64), (512, 256)):
        _bench_model(table, tmp, quick, hidden, batch)


def _bench_model(table: Table, tmp: str, quick: bool, hidden: int, batch: int) -> None:
    import torch

    from streamvis import DataLogger

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xb, yb = torch.randn(batch, 64), torch.randint(0, 10, (batch,))
    steps, runs = (50, 10) if quick else (100, 30)

    def loop(logger: Any, step0: int) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(step0, step0 + steps):
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = torch.nn.functional.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            metrics = [loss.detach(), *(out[:, k].mean().detach() for k in range(9))]
            if logger is not None:
                for k, m in enumerate(metrics):
                    logger.write(f"m{k}", x=s, y=m)
        return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps

    lg = DataLogger(f"train{hidden}", delete_existing=True).init(
        path=os.path.join(tmp, f"train{hidden}.svl"), tensor_type="torch")
    loop(None, 0)
    loop(lg, 0)  # warm-up (schemas, first flush)
    base, logged, again = [], [], []
    progress(f"training loop (MLP {hidden}, batch {batch}): {runs} interleaved runs x {steps} steps")
    for r in range(runs):
        base.append(loop(None, 0))
        logged.append(loop(lg, (r + 1) * steps))
        again.append(loop(None, 0))  # A/A: shows the noise floor of this machine
    lg.close()  # its final flush is outside the timed loops, the periodic ones inside
    label = f"MLP 64-{hidden}-{hidden}-10, batch {batch}"
    for i, kind in ((0, "wall"), (1, "CPU (all threads)")):
        table.add(SECTION_LOOP, f"{label}: no logging, {kind}", [b[i] for b in base], "s",
                  note="per step")
        table.add(SECTION_LOOP, f"{label}: no logging again (A/A), {kind}",
                  [a[i] for a in again], "s", baseline=f"{label}: no logging, {kind}",
                  note="noise floor")
        row = table.add(SECTION_LOOP, f"{label}: with DataLogger, {kind}",
                        [g[i] for g in logged], "s", baseline=f"{label}: no logging, {kind}",
                        note="per step; 10 torch scalars/step", goal="< 1.02x")
        ratio = table.ratio(row)
        row.met = ratio is not None and ratio < 1.02


def _ingest(target: dict[str, str], n_writes: int, width: int) -> float:
    """Points/s of ``n_writes`` writes of ``width`` points each, until delivered."""
    from streamvis import DataLogger

    lg = DataLogger(f"ingest{width}", delete_existing=True).init(**target)  # type: ignore[arg-type]
    x = np.arange(width, dtype=np.int64)
    y = np.random.default_rng(0).standard_normal(width).astype(np.float32)
    write = lg.write
    t0 = time.perf_counter()
    if width == 1:  # Python scalars, as loss.item() gives
        for i in range(n_writes):
            write("pts", x=i, y=0.5)
    else:
        for i in range(n_writes):
            write("pts", x=x + i * width, y=y)
    lg.close(timeout=600)
    dt = time.perf_counter() - t0
    st = lg.stats()
    assert st["undelivered_points"] == 0 and st["dropped_points"] == 0, st
    return n_writes * width / dt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(path: str) -> tuple[subprocess.Popen[bytes], str]:
    from streamvis.logger.demo import server_answers

    port = _free_port()
    exe = shutil.which("streamvis")
    cmd = [exe] if exe else [sys.executable, "-m", "streamvis.cli"]
    proc = subprocess.Popen([*cmd, "grpc-serve", path, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server_answers(uri, timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"data server at {uri} did not start")
        time.sleep(0.1)
    return proc, uri


def bench_ingest(table: Table, tmp: str, quick: bool) -> None:
    runs = 3 if quick else 5
    n_vec = 500 if quick else 2000
    n_sc = 100000 if quick else 500000
    cases = [("1000-point vectors", n_vec, 1000), ("Python scalars (x, y)", n_sc, 1)]
    for label, n, width in cases:
        progress(f"ingest to a local path: {label}")
        samples = [_ingest({"path": os.path.join(tmp, f"ing{width}_{r}.svl")}, n, width)
                   for r in range(runs)]
        table.add(SECTION_INGEST, f"local path: {label}", samples, "points/s")
    try:
        proc, uri = _start_server(os.path.join(tmp, "server.svl"))
    except Exception as exc:  # the server is optional for this table
        table.add(SECTION_INGEST, "data server", [], "points/s", note=f"not run: {exc}")
        return
    try:
        for label, n, width in cases:
            progress(f"ingest through the data server: {label}")
            samples = [_ingest({"grpc_uri": uri}, n, width) for _ in range(runs)]
            table.add(SECTION_INGEST, f"data server (gRPC): {label}", samples, "points/s")
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    table = Table("DataLogger (issue 3)")
    tmp = tempfile.mkdtemp(prefix="svbench-logger-")
    try:
        bench_floor(table, tmp, quick)
        bench_cadence(table, tmp, quick)
        bench_wall_time(table, tmp, quick)
        if "--floor-only" in argv:
            table.print()
            return 0
        bench_calls(table, tmp, quick)
        bench_training(table, tmp, quick)
        bench_ingest(table, tmp, quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
