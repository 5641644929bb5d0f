"""Data server benchmarks: ``python -m benchmarks.server_bench [--quick] [--runs N]``.

Prints medians of:
- ingest points/s through the server (DataClient -> server -> Store) vs. direct to a Store;
- fetch throughput of N points (default 20M) over gRPC vs. the local export;
- subscribe latency from append to client receipt at 1 kHz writes (one point per write);
- range read of 2,000 points from a 10M-point group over gRPC vs. local.

The server is a real ``python -m streamvis.grpc_server`` process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.table import Table, progress, time_once, time_runs

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_STARTED: list[subprocess.Popen[bytes]] = []


class _Server:
    """A data server subprocess, started and waited for through the health service."""

    def __init__(self, path: str, *args: str) -> None:
        import grpc

        self.port = _free_port()
        self.uri = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamvis.grpc_server", path, str(self.port), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        _STARTED.append(self.proc)
        with grpc.insecure_channel(self.uri) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            stub.Check(health_pb2.HealthCheckRequest(), timeout=120, wait_for_ready=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


def _batches(n_batches: int, per_batch: int, scope: str) -> list[list]:
    from streamvis.storage import Points

    rng = np.random.default_rng(0)
    out = []
    for b in range(n_batches):
        x = np.arange(b * per_batch, (b + 1) * per_batch, dtype=np.int64)
        out.append([Points(scope, "loss", b % 4, {"x": x, "y": rng.random(per_batch, np.float32)})])
    return out


def bench_ingest(table: Table, tmp: Path, runs: int, quick: bool) -> None:
    shapes = [(10, 200_000), (50, 20_000), (1000, 100)]
    if quick:
        shapes = [(5, 200_000), (20, 20_000), (300, 100)]
    for fsync in (True, False):
        for n_batches, per_batch in shapes:
            _ingest_shape(table, tmp, runs, n_batches, per_batch, fsync)


def _ingest_shape(
    table: Table, tmp: Path, runs: int, n_batches: int, per_batch: int, fsync: bool
) -> None:
    """Direct and server runs alternate, so shared-disk contention hits both alike."""
    from streamvis.server.client import DataClient
    from streamvis.storage import Store

    section = f"ingest {n_batches}x{per_batch} pts, " + ("fsync" if fsync else "no fsync")
    points = n_batches * per_batch
    batches = _batches(n_batches, per_batch, "ingest")
    progress(f"{section}: direct to Store and through the server, alternating")
    store = Store.open(str(tmp / f"direct-{per_batch}-{fsync}.svl"), "a", fsync=fsync)
    srv = _Server(str(tmp / f"server-{per_batch}-{fsync}.svl"), *(() if fsync else ("--no-fsync",)))
    client = DataClient(srv.uri)
    seq = iter(range(10**9))

    def direct() -> None:
        for items in batches:
            store.append(items)

    def through() -> None:
        for items in batches:
            client.append(items, writer_id=b"bench", seq=next(seq))

    through()  # warm up the connection and the server's imports
    t_direct, t_server = [], []
    for _ in range(runs):
        t_direct.append(time_once(direct))
        t_server.append(time_once(through))
    store.close()
    client.close()
    srv.stop()
    ratio = float(np.median(t_direct) / np.median(t_server))
    table.add(section, "direct Store.append", [points / t for t in t_direct], "pts/s")
    table.add(section, "through the server", [points / t for t in t_server], "pts/s",
              baseline="direct Store.append", goal=">= 0.5x direct", met=ratio >= 0.5)


def _build_big_log(path: str, total: int) -> None:
    from streamvis.storage import Points, Store

    per_group = total // 2
    chunk = 1_000_000
    with Store.open(path, "a", fsync=False) as store:
        for index in (0, 1):
            for start in range(0, per_group, chunk):
                n = min(chunk, per_group - start)
                x = np.arange(start, start + n, dtype=np.int64)
                y = np.sin(x / 10_000.0).astype(np.float32)
                store.append([Points("big", "y", index, {"x": x, "y": y})])
        store.save_index()


def bench_fetch_and_range(table: Table, tmp: Path, runs: int, total: int) -> None:
    from streamvis import script
    from streamvis.server.client import GrpcSource
    from streamvis.source import LocalSource

    path = str(tmp / "big.svl")
    progress(f"building a log of {total:,} points")
    _build_big_log(path, total)
    srv = _Server(path)
    section = f"fetch {total / 1e6:g}M pts"
    progress(f"{section}: local export")
    t_local = time_runs(lambda: script.export_arrow(path), runs, warmup=1)
    table.add(section, "local export_arrow", [total / t for t in t_local], "pts/s")
    progress(f"{section}: over gRPC")
    t_grpc = time_runs(lambda: script.gfetch_arrow(srv.uri), runs, warmup=1)
    table.add(section, "gfetch_arrow (gRPC)", [total / t for t in t_grpc], "pts/s",
              baseline="local export_arrow")

    per_group = total // 2
    section = f"read_range 2,000 of {per_group / 1e6:g}M pts"
    rng = np.random.default_rng(1)
    windows = [sorted(rng.uniform(0, per_group, 2)) for _ in range(max(runs, 10) * 2)]
    it_local, it_remote = iter(windows), iter(windows)
    local = LocalSource.open(path)
    remote = GrpcSource(srv.uri)
    remote.read_range("big", "y", 0, max_points=2000)  # connect
    progress(f"{section}")
    t_full_local = time_runs(lambda: local.read_range("big", "y", 0, max_points=2000), runs)
    t_full_remote = time_runs(lambda: remote.read_range("big", "y", 0, max_points=2000), runs)
    t_win_local = time_runs(
        lambda: local.read_range("big", "y", 0, *next(it_local), max_points=2000), runs * 2
    )
    t_win_remote = time_runs(
        lambda: remote.read_range("big", "y", 0, *next(it_remote), max_points=2000), runs * 2
    )
    table.add(section, "local, whole group", t_full_local, "s")
    table.add(section, "gRPC, whole group", t_full_remote, "s", baseline="local, whole group",
              goal="< 100 ms", met=float(np.median(t_full_remote)) < 0.1)
    table.add(section, "local, random window", t_win_local, "s")
    table.add(section, "gRPC, random window", t_win_remote, "s",
              baseline="local, random window", goal="< 100 ms",
              met=float(np.median(t_win_remote)) < 0.1)
    local.close()
    remote.close()
    srv.stop()


def bench_latency(table: Table, tmp: Path, seconds: float, fsync: bool, batch: int) -> None:
    """Points made at 1 kHz, appended one per call (batch=1) or ``batch`` per call;
    latency = receipt by a subscriber - the moment the point was made."""
    from streamvis.server.client import DataClient
    from streamvis.storage import Points

    how = "1 point per append" if batch == 1 else f"{batch} points per append"
    label = f"{how}, {'fsync every write' if fsync else 'server --no-fsync'}"
    srv = _Server(str(tmp / f"latency-{fsync}-{batch}.svl"), *(() if fsync else ("--no-fsync",)))
    writer, reader = DataClient(srv.uri), DataClient(srv.uri)
    writer.append([Points("lat", "t", 0, {"t": np.array([time.perf_counter()])})])
    latencies: list[float] = []
    n_points = int(seconds * 1000)
    updates = reader.subscribe("lat", since=writer.cursor())

    def read() -> None:
        for update in updates:
            now = time.perf_counter()
            for t in update.tables.values():
                latencies.extend(now - t.column("t").to_numpy())
            if len(latencies) >= n_points:
                return

    reader_thread = threading.Thread(target=read, daemon=True)
    reader_thread.start()
    progress(f"subscribe latency: {n_points} points at 1 kHz, {label}")
    start = time.perf_counter()
    pending: list[float] = []
    for i in range(n_points):
        delay = start + i / 1000.0 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pending.append(time.perf_counter())
        if len(pending) == batch or i == n_points - 1:
            writer.append([Points("lat", "t", 0, {"t": np.array(pending)})])
            pending = []
    rate = n_points / (time.perf_counter() - start)
    reader_thread.join(30)
    updates.close()
    writer.close()
    reader.close()
    srv.stop()
    med = float(np.median(latencies)) if latencies else float("nan")
    p95 = float(np.percentile(latencies, 95)) * 1e3 if latencies else float("nan")
    table.add("subscribe, points made at 1 kHz", label, latencies or [med], "s",
              goal="< 50 ms", met=med < 0.05,
              note=f"{len(latencies)} points, p95 {p95:.1f} ms, achieved {rate:.0f} points/s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2M points, fewer runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--points", type=int, default=None, help="points for the fetch benchmark")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    total = args.points or (2_000_000 if args.quick else 20_000_000)
    table = Table("data server")
    tmp = Path(tempfile.mkdtemp(prefix="streamvis-server-bench-"))
    try:
        bench_ingest(table, tmp, runs, args.quick)
        for fsync, batch in ((True, 1), (False, 1), (True, 5)):
            bench_latency(table, tmp, 2.0 if args.quick else 5.0, fsync, batch)
        bench_fetch_and_range(table, tmp, runs, total)
    finally:
        for proc in _STARTED:  # servers left running by a failed step
            if proc.poll() is None:
                proc.kill()
                proc.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
