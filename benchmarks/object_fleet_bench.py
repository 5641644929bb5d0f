"""Many machines, one bucket (issue 23): the rows ``object_store_bench`` adds for it.

* requests per writer flush with 1 / 8 / 64 / 256 writers on one prefix (simulated in
  one process, each writer a Store of its own), after every writer's first flush;
* names one idle reader poll lists at the largest N, ``idle_wait`` seconds after the
  last flush (the full size waits a minute with the default bounds; the quick size
  shrinks the Listing rule's bounds so that it waits seconds);
* one reader poll after each of the N writers flushed once: one listing and N GETs,
  fetched concurrently (``FETCH_BATCH`` per batch);
* the longest writer flush while a background compaction of ``compact_segments``
  segments runs, against the longest without.

Request counts are exact (the emulators count them); times are noisy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.table import Table, median, progress

__all__ = ["FleetSizes", "bench_fleet"]


@dataclass(frozen=True)
class FleetSizes:
    writers: tuple[int, ...] = ()  # N of the per-flush rows (empty: skip this section)
    idle_wait: float = 60.0  # seconds after the last flush before the idle poll
    shrink: bool = False  # the Listing rule's bounds shrunk (quick runs)
    compact_segments: int = 0  # the compaction row's log size (0: skip)
    flushes: int = 30  # flushes timed with and without the compaction
    server_loggers: int = 0  # loggers of the data-server row (0: skip)
    server_seconds: float = 5.0  # how long they log


def _bounds(s: FleetSizes) -> dict[str, Any]:
    if not s.shrink:
        return {}
    return {"slow_upload_s": 1.0, "relist_after_s": 0.5, "hold_margin_s": 0.5}


def _store(emu: Any, url: str, s: FleetSizes, mode: str = "a") -> Any:
    return _open_store(emu.scheme, emu.storage_options, url, s, mode)


def _open_store(scheme: str, storage_options: dict[str, Any], url: str, s: FleetSizes,
                mode: str = "a") -> Any:
    import fsspec

    from streamvis.storage import Store
    from streamvis.storage.format.framing import encode_frame
    from streamvis.storage.format.records import header_payload
    from streamvis.storage.objects.segments import SegmentLog

    fs = fsspec.filesystem(scheme, skip_instance_cache=True, **storage_options)
    backend = SegmentLog(url, fs=fs, **_bounds(s))
    backend.auto_compact_at = None
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, mode)


def _pts(scope: str, start: int, n: int = 100) -> Any:
    from streamvis.storage import Points

    x = np.arange(start, start + n, dtype=np.int64)
    return Points(scope, "loss", 0, {"x": x, "y": (x * 0.5).astype(np.float32)})


def _counted(emu: Any, fn: Any) -> tuple[float, dict[str, int]]:
    snap = emu.counter.snapshot()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, dict(emu.counter.since(snap))


def bench_fleet(t: Table, emu: Any, s: FleetSizes) -> None:
    """The rows above, for one emulator."""
    from streamvis.storage.objects.listing import list_names

    if s.writers:
        per_n: dict[int, float] = {}
        for n in s.writers:
            progress(f"{emu.scheme}: {n} writers on one prefix")
            url = emu.url(f"fleet-{uuid.uuid4().hex}/runs.svl")
            plain = FleetSizes()  # writers keep the default bounds; a reader's hold shrinks
            writers = [_store(emu, url, plain) for _ in range(n)]
            for w in writers:  # its periodic index save (a PUT per 30 s, not per flush) aside:
                w.log.index_interval = 1e9  # a round of 256 writers on moto passes 30 s
            reader = _store(emu, url, s, "r")
            for k, w in enumerate(writers):
                w.append([_pts(f"run{k}", 0)])  # a name's first write lists first
            flushes = []
            for k, w in enumerate(writers):
                # a writer in steady state flushes every flush_every (<= 10 s); one round of
                # N writers in this process can take longer on a slow emulator, which would
                # add the listing of a writer silent for 10 s: its turn starts with a flush
                w.append([_pts(f"run{k}", 100)])
                flushes.append(_counted(emu, lambda w=w, k=k: w.append([_pts(f"run{k}", 200)])))
            reqs = [c.get("requests", 0) for _, c in flushes]
            per_n[n] = median(reqs)
            flat = median(reqs) <= 2
            t.add(f"{emu.scheme} many writers, one prefix", f"flush, {n} writers",
                  [d for d, _ in flushes], "s", goal="<= 2 requests, flat in N", met=flat,
                  note=f"{median(reqs):.0f} requests (1 PUT + 1 probe; max {max(reqs)}: + 1 "
                       "listing where a writer's turn came > 10 s after its last), "
                       f"{median([c.get('get', 0) for _, c in flushes]):.0f} GET "
                       f"(before: 2 + N - 1 = {n + 1})")
            reader.read(since=reader.cursor())  # the reader is up to date, then each writer flushes once
            cursor = reader.cursor()
            reader.read(since=cursor)
            cursor = reader.cursor()
            for k, w in enumerate(writers):
                w.append([_pts(f"run{k}", 300)])
            backend = reader.backend
            start = backend._start()  # noqa: SLF001 - what the poll lists from
            relisted = len(list_names(backend.prefix.fs, backend.prefix.segments_dir, f"{start:020d}")) - n
            got: dict[str, int] = {}

            def poll(reader: Any = reader, cursor: str = cursor, got: dict = got) -> None:
                res = reader.read(since=cursor)
                for (scope, _), table in res.tables.items():
                    got[scope] = got.get(scope, 0) + table.num_rows

            took, c = _counted(emu, poll)
            ok = c.get("list", 0) == 1 and c.get("get", 0) == n and all(
                got.get(f"run{k}") == 100 for k in range(n))
            t.add(f"{emu.scheme} many writers, one prefix", f"one reader poll, {n} writers +1 flush",
                  [took], "s", goal="1 listing + N concurrent GETs, <= 2 s",
                  met=ok and took <= 2.0,
                  note=f"{c.get('list', 0)} listing, {c.get('get', 0)} GET, "
                       f"{c.get('bytes_listed', 0) / 1000:.1f} KB listed: the {n} new names and "
                       f"{relisted} listed before (at most RELIST_DEPTH, 500, or 5 s of names)")
            if n == max(s.writers):
                progress(f"{emu.scheme}: idle reader, {s.idle_wait:g} s after the last flush")
                deadline = time.monotonic() + s.idle_wait
                while time.monotonic() < deadline:
                    reader.refresh()
                    time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
                backend = reader.backend
                start = backend._start()  # noqa: SLF001 - what the next poll lists from
                _, c = _counted(emu, reader.refresh)
                names = len(list_names(backend.prefix.fs, backend.prefix.segments_dir, f"{start:020d}"))
                t.add(f"{emu.scheme} many writers, one prefix",
                      f"idle reader poll, {n} writers, {s.idle_wait:g} s after the last flush",
                      [float(names)], "names", goal="<= 10 names", met=names <= 10,
                      note=f"{c.get('requests', 0)} request, {c.get('bytes_listed', 0)} B listed"
                           f" (before: every name of the last 5 s, ~{2 * n})")
            for w in writers:
                w.close()
            reader.close()
        t.add(f"{emu.scheme} many writers, one prefix", "requests per flush, largest / smallest N",
              [per_n[max(per_n)] / max(per_n[min(per_n)], 1)], "x", goal="flat in N (1.0x)",
              met=per_n[max(per_n)] == per_n[min(per_n)])
    if s.compact_segments:
        _bench_compaction_off_path(t, emu, s)
    if s.server_loggers:
        _bench_server(t, emu, s)


def _bench_server(t: Table, emu: Any, s: FleetSizes) -> None:
    """A data server on the bucket (``--commit-interval 1``), ``server_loggers`` clients
    appending one batch every 0.1 s each for ``server_seconds``: objects per second."""
    import asyncio
    import socket
    import threading

    from streamvis.server.client import DataClient
    from streamvis.server.server import DataServer

    progress(f"{emu.scheme}: a data server with {s.server_loggers} loggers")
    url = emu.url(f"fleet-srv-{uuid.uuid4().hex}/runs.svl")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = DataServer(url, port, store_options={"storage_options": emu.storage_options},
                        commit_interval=1.0)

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(120)

    sent = [0] * s.server_loggers
    try:
        uri = call(server.start())
        snap = emu.counter.snapshot()
        deadline = time.monotonic() + s.server_seconds

        def client(k: int) -> None:
            with DataClient(uri) as dc:
                seq = 0
                while time.monotonic() < deadline:
                    dc.append([_pts(f"l{k}", 100 * seq)], writer_id=f"l{k}".encode(), seq=seq)
                    seq += 1
                    time.sleep(0.1)  # a logger's flush_every
                sent[k] = seq

        t0 = time.monotonic()
        workers = [threading.Thread(target=client, args=(k,)) for k in range(s.server_loggers)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        took = time.monotonic() - t0
        c = dict(emu.counter.since(snap))
    finally:
        call(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    per_s = max(0, c.get("put", 0) - 1) / took  # the first group commits at once
    t.add(f"{emu.scheme} data server on the bucket", f"{s.server_loggers} loggers, --commit-interval 1",
          [per_s], "objects/s", goal="<= 1.1 objects/s", met=per_s <= 1.1,
          note=f"{c.get('put', 0)} objects (the first at once, then one per interval) for "
               f"{sum(sent):,} appends in {took:.1f} s; "
               f"{c.get('list', 0)} listings (probes and the server's poll)")


# The compaction row's emulator runs in a process of its own, as a bucket does: in this
# process its request handling would compete for the GIL with the writer's flushes and
# the compaction, which no real bucket does. It builds the log first, then serves.
_EMULATOR_PROCESS = """
import json, sys
from streamvis.testing.object_stores import gcs_emulator, s3_server, write_segment_log
scheme, segments, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with (gcs_emulator if scheme == "gs" else s3_server)("bench") as emu:
    url = emu.url("fleet-cmp/runs.svl")
    write_segment_log(url, emu.storage_options, segments, points=200, t0_ns=t0, put=emu.bulk_put)
    print(json.dumps({"url": url, "storage_options": emu.storage_options}), flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
"""


@contextmanager
def _emulator_process(scheme: str, segments: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(url, storage_options) of a ``segments``-segment log in an emulator process."""
    t0 = time.time_ns() - segments * 200_000_000 - 10**10
    proc = subprocess.Popen([sys.executable, "-c", _EMULATOR_PROCESS, scheme, str(segments), str(t0)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the log is built (or the process died: "")
        if not line:
            raise RuntimeError(f"the {scheme} emulator process exited with {proc.wait(60)}")
        ready = json.loads(line)
        yield ready["url"], ready["storage_options"]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bench_compaction_off_path(t: Table, emu: Any, s: FleetSizes) -> None:
    n = s.compact_segments
    progress(f"{emu.scheme}: flushes while a compaction of {n} segments runs "
             "(the emulator in a process of its own)")
    with _emulator_process(emu.scheme, n) as (url, options):
        writer = _open_store(emu.scheme, options, url, s)
        start = 10**9

        def flush(i: int) -> float:
            t0 = time.perf_counter()
            writer.append([_pts("run", start + 200 * i, 200)])
            return time.perf_counter() - t0

        flush(0)
        before = [flush(i) for i in range(1, s.flushes)]
        writer.backend.auto_compact_at = 1
        writer.backend.generations.compact_after = 0  # the next flush starts it
        during: list[float] = []
        i = s.flushes
        t0 = time.perf_counter()
        while writer.backend.compaction is None or writer.backend.compaction.is_alive():
            during.append(flush(i))
            writer.backend.auto_compact_at = None  # one compaction
            i += 1
        took = time.perf_counter() - t0
        # as many flushes without as during, so that the two longest compare like with like
        without = before + [flush(i + k) for k in range(max(0, len(during) - len(before)))]
        generation = writer.backend.generation
        writer.close()
    ratio = max(during) / max(without)
    t.add(f"{emu.scheme} compaction off the flush path", f"longest flush, compacting {n:,} segments",
          [max(during)], "s", goal="<= 2x the longest without", met=ratio <= 2.0,
          note=f"{ratio:.2f}x the longest of {len(without)} without ({max(without) * 1000:.1f} ms);"
               f" median {median(during) * 1000:.1f} ms during, {median(without) * 1000:.1f} ms "
               f"without; {len(during)} flushes during the {took:.1f} s compaction (the writer "
               f"and its compaction share a process, the emulator runs in another); generation "
               f"{generation}")
