"""Many writers through one data server: ``python -m benchmarks.concurrency_bench [--quick]``.

1. Group commit: 64 concurrent writers (DataClient threads in 4 client processes), each
   appending a 10-point batch with its own (writer_id, seq) as fast as acknowledgements
   come back, for a fixed time. Appends/s of a server with fsync (group commit, the
   default), with fsync and ``STREAMVIS_MAX_GROUP=1`` (one fsync per append, the old
   behaviour) and with ``--no-fsync``; the three servers run one after the other, in
   alternating rounds, so the machine's load hits them alike.
2. 1,000 DataLoggers: 1,000 ``DataLogger(grpc_uri=...)`` instances across 8 processes,
   each writing one point per second and flushing it (``flush()`` returns once the server
   acknowledged); every append must be acknowledged. Reports p50/p99 of write-to-ack
   latency and the server's CPU (user + system, /proc) over the run.

Client processes are this module run with ``--client``; each prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.server_bench import _STARTED, ROOT, _Server
from benchmarks.table import Table, progress

__all__ = ["main"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn_clients(mode: str, uri: str, n_procs: int, per_proc: int, seconds: float) -> list[dict]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.concurrency_bench", "--client", mode, uri,
             str(per_proc), str(seconds), str(p)],
            cwd=ROOT, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        for p in range(n_procs)
    ]
    _STARTED.extend(procs)
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=seconds + 300)
        if proc.returncode != 0:
            raise RuntimeError(f"a {mode} client failed (exit {proc.returncode})")
        out.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    return out


# -- client processes -----------------------------------------------------------------------
def _appender_client(uri: str, writers: int, seconds: float, proc_no: int) -> dict:
    """``writers`` threads, each its own DataClient, appending 10-point batches."""
    from streamvis.server.client import DataClient
    from streamvis.storage import Points

    counts = [0] * writers
    start = threading.Barrier(writers + 1)
    stop_at = [0.0]

    def run(w: int) -> None:
        client = DataClient(uri)
        client.scopes()  # connect before the clock starts
        wid = f"p{proc_no}w{w}".encode()
        y = np.ones(10, np.float32)
        start.wait()
        seq = 0
        while time.perf_counter() < stop_at[0]:
            x = np.arange(seq * 10, seq * 10 + 10, dtype=np.int64)
            client.append([Points(f"c{proc_no}", f"w{w}", 0, {"x": x, "y": y})],
                          writer_id=wid, seq=seq)
            seq += 1
        counts[w] = seq
        client.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    start.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    return {"appends": sum(counts), "seconds": time.perf_counter() - t0}


def _logger_client(uri: str, loggers: int, seconds: float, proc_no: int) -> dict:
    """``loggers`` DataLoggers, each writing one point a second and flushing it; a pool
    of threads serves the ticks (phases spread over the second)."""
    from concurrent.futures import ThreadPoolExecutor

    from streamvis.logger import DataLogger

    lgs = [
        DataLogger(f"p{proc_no}-l{i}").init(grpc_uri=uri, flush_every=3600.0)
        for i in range(loggers)
    ]
    latencies: list[float] = []
    failed = 0
    lock = threading.Lock()

    def tick(i: int, step: int) -> None:
        nonlocal failed
        t0 = time.perf_counter()
        lgs[i].write("loss", x=step, y=float(step))
        ok = lgs[i].flush(timeout=30.0)
        dt = time.perf_counter() - t0
        with lock:
            if ok:
                latencies.append(dt)
            else:
                failed += 1

    ticks = int(seconds)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        for step in range(ticks):
            for i in range(loggers):
                due = t0 + step + i / loggers
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(tick, i, step))
        for f in futures:
            f.result()
    elapsed = time.perf_counter() - t0
    undelivered = 0
    for lg in lgs:
        lg.close()
        undelivered += lg.stats().get("undelivered_points", 0)
    return {"acked": len(latencies), "failed": failed, "undelivered": undelivered,
            "sent": ticks * loggers, "latencies": latencies, "seconds": elapsed}


# -- the benchmarks -------------------------------------------------------------------------
def bench_group_commit(table: Table, tmp: Path, rounds: int, seconds: float) -> None:
    writers, n_procs = 64, 4
    configs = {
        "fsync, group commit": ((), {}),
        "fsync, one fsync per append (STREAMVIS_MAX_GROUP=1)": ((), {"STREAMVIS_MAX_GROUP": "1"}),
        "--no-fsync": (("--no-fsync",), {}),
    }
    rates: dict[str, list[float]] = {k: [] for k in configs}
    cpu: dict[str, list[float]] = {k: [] for k in configs}
    section = f"{writers} concurrent writers, 10-point appends"
    for r in range(rounds):
        for label, (args, env) in configs.items():
            progress(f"{section}: {label}, round {r + 1}/{rounds}")
            old = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                srv = _Server(str(tmp / f"gc-{len(rates[label])}-{hash(label)}.svl"), *args)
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            try:
                c0 = _cpu_seconds(srv.proc.pid)
                res = _spawn_clients("append", srv.uri, n_procs, writers // n_procs, seconds)
                c1 = _cpu_seconds(srv.proc.pid)
            finally:
                srv.stop()
            total = sum(x["appends"] for x in res)
            span = max(x["seconds"] for x in res)
            rates[label].append(total / span)
            cpu[label].append((c1 - c0) / span)
    base = "--no-fsync"
    ratio = float(np.median(rates["fsync, group commit"]) / np.median(rates[base]))
    table.add(section, base, rates[base], "appends/s",
              note=f"server CPU {np.median(cpu[base]):.2f} cores")
    for label in list(configs)[:2]:
        grouped = label.startswith("fsync, group")
        table.add(section, label, rates[label], "appends/s", baseline=base,
                  goal=">= 0.9x --no-fsync" if grouped else "",
                  met=(ratio >= 0.9) if grouped else None,
                  note=f"server CPU {np.median(cpu[label]):.2f} cores")


def bench_loggers(table: Table, tmp: Path, loggers: int, n_procs: int, seconds: float) -> None:
    section = f"{loggers:,} DataLoggers in {n_procs} processes, 1 append/s each"
    progress(f"{section}: {seconds:.0f} s")
    srv = _Server(str(tmp / "loggers.svl"))
    try:
        c0, t0 = _cpu_seconds(srv.proc.pid), time.perf_counter()
        res = _spawn_clients("logger", srv.uri, n_procs, loggers // n_procs, seconds)
        c1, t1 = _cpu_seconds(srv.proc.pid), time.perf_counter()
    finally:
        srv.stop()
    lat = [v for x in res for v in x["latencies"]]
    sent = sum(x["sent"] for x in res)
    acked = sum(x["acked"] for x in res)
    failed = sum(x["failed"] for x in res) + sum(x["undelivered"] for x in res)
    from streamvis.storage import Store

    with Store.open(str(tmp / "loggers.svl")) as st:
        stored = sum(t.num_rows for t in st.read().tables.values())
    span = max(x["seconds"] for x in res)
    note = (f"{acked:,} of {sent:,} appends acknowledged, {stored:,} points stored, "
            f"{failed} failed; {acked / span:.0f} appends/s")
    table.add(section, "write-to-ack latency p50", [float(np.percentile(lat, 50))], "s",
              goal="every append acknowledged", met=acked == sent == stored and failed == 0,
              note=note)
    table.add(section, "write-to-ack latency p99", [float(np.percentile(lat, 99))], "s")
    table.add(section, "server CPU (user + system)", [(c1 - c0) / (t1 - t0)], "cores",
              note=f"over {t1 - t0:.0f} s incl. the loggers' connecting")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--client":
        mode, uri, n, seconds, proc_no = argv[1], argv[2], int(argv[3]), float(argv[4]), int(argv[5])
        fn = _appender_client if mode == "append" else _logger_client
        print(json.dumps(fn(uri, n, seconds, proc_no)), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 200 loggers")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="per group-commit run")
    parser.add_argument("--logger-seconds", type=float, default=None)
    parser.add_argument("--skip-loggers", action="store_true")
    parser.add_argument("--skip-group", action="store_true")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    table = Table("many writers through one data server")
    tmp = Path(tempfile.mkdtemp(prefix="streamvis-concurrency-bench-"))
    try:
        if not args.skip_group:
            bench_group_commit(table, tmp, rounds, seconds)
        if not args.skip_loggers:
            n = 200 if args.quick else 1000
            bench_loggers(table, tmp, n, 8, args.logger_seconds or (10.0 if args.quick else 45.0))
    finally:
        for proc in _STARTED:
            if proc.poll() is None:
                proc.kill()
                proc.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
