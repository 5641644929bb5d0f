"""``python -m benchmarks.object_store_bench [--quick] [--only gs,s3]``: object-store logs
at scale (issue 12), against the emulators of ``streamvis.testing.object_stores``
(gcp-storage-emulator made to page and precondition like GCS; moto's S3 server), with
their request counters.

Logs are laid out as a 1 kHz logger flushing every 0.2 s leaves them: one segment of
200 scalar points per 0.2 s of name time (written straight into the emulator, so
building 20,000 segments takes seconds). Rows, per backend:

* idle refresh and read since a cursor of the newest batch at 100 / 1,000 / 20,000
  segments: time, requests, bytes listed; baseline: one listing of the whole prefix
  (what every refresh cost before), measured in the same run;
* writer flush at 20,000 segments, 1 writer and 4 writers appending in turn;
* cold open with the index of a 20,000-segment log, after compaction (baseline:
  before compaction);
* an idle browser tab per day at GCS prices (Class A list $0.005 / 1,000, Class B GET
  $0.0004 / 1,000), polling at 1 s with ``IdleBackoff`` (baseline: without);
* compaction of the 20,000-segment log while a writer appends and a reader follows:
  time, objects a reader opens before and after, and whether the reader saw every
  point exactly once.

The emulators run in this process on a shared 2-core machine: times are noisy, the
request counts and bytes are exact. Medians of ``runs`` where repeated.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.object_fleet_bench import FleetSizes, bench_fleet
from benchmarks.table import Table, median, progress

__all__ = ["ObjectSizes", "FULL", "QUICK", "run", "main"]

CLASS_A = 0.005 / 1000  # $ per list / write request (GCS Standard)
CLASS_B = 0.0004 / 1000  # $ per read request
DAY = 86_400.0


@dataclass(frozen=True)
class ObjectSizes:
    segments: tuple[int, ...] = (100, 1_000, 20_000)
    runs: int = 5
    writers: int = 4
    tab_refresh: float = 1.0  # a web tab's poll interval, seconds
    fleet: FleetSizes = FleetSizes()  # issue 23's rows (none by default)


FULL = ObjectSizes(
    fleet=FleetSizes(writers=(1, 8, 64, 256), idle_wait=60.0, compact_segments=20_000,
                     server_loggers=64)
)
QUICK = ObjectSizes(
    segments=(100, 300),
    runs=3,
    fleet=FleetSizes(writers=(1, 8, 64), idle_wait=3.0, shrink=True, compact_segments=2_000,
                     server_loggers=64),
)


_X = itertools.count(10**9, 200)  # x of appended batches: unique across the run


def _pts(start: int | None = None, n: int = 200) -> Any:
    from streamvis.storage import Points

    first = next(_X) if start is None else start
    x = np.arange(first, first + n, dtype=np.int64)
    return Points("run", "loss", 0, {"x": x, "y": (x * 0.5).astype(np.float32)})


class _Count:
    """Requests, list bytes and time of one measured call."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu

    def __call__(self, fn: Any) -> tuple[float, dict[str, int]]:
        snap = self.emu.counter.snapshot()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        return dt, dict(self.emu.counter.since(snap))


def _make_log(emu: Any, n: int) -> tuple[str, int]:
    from streamvis.testing.object_stores import write_segment_log

    url = emu.url(f"bench-{uuid.uuid4().hex}/runs.svl")
    t0 = time.time_ns() - n * 200_000_000 - 10**10  # the newest segment: 10 s ago
    last = write_segment_log(
        url, emu.storage_options, n, points=200, t0_ns=t0, put=emu.bulk_put
    )
    return url, last


def _add(
    t: Table, section: str, label: str, samples: list[float], counts: list[dict[str, int]],
    *, baseline: str | None = None, goal: str = "", ok: bool | None = None,
) -> None:
    req = median([c.get("requests", 0) for c in counts])
    listed = median([c.get("bytes_listed", 0) for c in counts])
    gets = median([c.get("get", 0) for c in counts])
    note = f"{req:.0f} requests ({gets:.0f} GET), {listed / 1000:.1f} KB listed"
    t.add(section, label, samples, "s", baseline=baseline, note=note, goal=goal, met=ok)


def bench_refresh(t: Table, emu: Any, s: ObjectSizes) -> dict[int, tuple[str, int]]:
    from streamvis.storage import Store

    logs: dict[int, tuple[str, int]] = {}
    count = _Count(emu)
    opts = emu.storage_options
    for n in s.segments:
        progress(f"{emu.scheme}: {n} segments")
        url, last = _make_log(emu, n)
        logs[n] = (url, last)
        section = f"{emu.scheme} {n:,} segments"
        with Store.open(url, "a", storage_options=opts) as writer, Store.open(
            url, storage_options=opts
        ) as reader:
            writer.backend.auto_compact_at = None  # compaction is measured below
            backend = reader.backend
            full = [count(lambda b=backend: b.prefix.fs.ls(b.segments_dir, detail=True))
                    for _ in range(s.runs)]
            _add(t, section, "full listing (before: every refresh)", [d for d, _ in full],
                 [c for _, c in full])
            idle = [count(reader.refresh) for _ in range(s.runs)]
            ok = all(c.get("requests", 0) <= 2 and c.get("bytes_listed", 0) <= 10_000
                     for _, c in idle)
            _add(t, section, "idle refresh", [d for d, _ in idle], [c for _, c in idle],
                 baseline="full listing (before: every refresh)", goal="<= 2 req, <= 10 KB",
                 ok=ok)
            reads = []
            cursor = reader.cursor()
            for _ in range(s.runs):
                writer.append([_pts()])

                def read() -> None:
                    nonlocal cursor
                    res = reader.read(since=cursor)
                    assert res.num_points == 200, res.num_points
                    cursor = res.cursor

                reads.append(count(read))
            ok = all(c.get("requests", 0) <= 2 and c.get("bytes_listed", 0) <= 10_000
                     for _, c in reads)
            _add(t, section, "read since cursor (newest batch)", [d for d, _ in reads],
                 [c for _, c in reads], baseline="full listing (before: every refresh)",
                 goal="<= 2 req, <= 10 KB", ok=ok)
    return logs


def bench_writers(t: Table, emu: Any, s: ObjectSizes, url: str, n: int) -> None:
    from streamvis.storage import Store

    count = _Count(emu)
    opts = emu.storage_options
    section = f"{emu.scheme} writer flush, {n:,} segments"
    progress(f"{emu.scheme}: writer flushes at {n} segments")
    with ExitStack() as stack:
        writers = [stack.enter_context(Store.open(url, "a", storage_options=opts))
                   for _ in range(s.writers)]
        for w in writers:
            w.backend.auto_compact_at = None  # measured separately below
        writers[0].append([_pts()])  # a name's first write lists first (ordering)
        one = [count(lambda: writers[0].append([_pts()])) for _ in range(s.runs)]
        ok = all(c.get("requests", 0) <= 2 for _, c in one)
        _add(t, section, "1 writer", [d for d, _ in one], [c for _, c in one],
             goal="<= 2 requests", ok=ok)
        for w in writers:
            w.append([_pts()])  # every writer has caught up once
        many: list[tuple[float, dict[str, int]]] = []
        for _ in range(s.runs):
            for w in writers:
                many.append(count(lambda w=w: w.append([_pts()])))
        ok = all(c.get("requests", 0) <= 2 for _, c in many)
        _add(t, section, f"{s.writers} writers in turn", [d for d, _ in many],
             [c for _, c in many], baseline="1 writer",
             goal="<= 2 requests (one PUT, one probe)", ok=ok)


def bench_compaction(t: Table, emu: Any, s: ObjectSizes, url: str, n: int) -> None:
    from streamvis.errors import CursorResetError
    from streamvis.storage import Store
    from streamvis.storage.objects.compact import compact_store, live_objects, retire

    count = _Count(emu)
    opts = emu.storage_options
    section = f"{emu.scheme} compaction, {n:,} segments"
    progress(f"{emu.scheme}: compaction of {n} segments while a writer appends")
    cold = [count(lambda: Store.open(url, storage_options=opts).close()) for _ in range(s.runs)]
    _add(t, section, "cold open with index, before", [d for d, _ in cold], [c for _, c in cold])
    with Store.open(url, "a", storage_options=opts) as writer, Store.open(
        url, storage_options=opts
    ) as follower_store, Store.open(url, "a", storage_options=opts) as compactor:
        writer.backend.auto_compact_at = None
        compactor.backend.auto_compact_at = None
        objects_before, _ = live_objects(compactor.backend)
        first = follower_store.read("run", "loss")
        expected = first.num_points
        state = {
            "cursor": first.cursor,
            "points": first.tables[("run", "loss")].column("x").to_pylist(),
            "resets": 0,
        }
        stop = threading.Event()
        errors: list[BaseException] = []

        def follow() -> None:
            try:
                res = follower_store.read("run", "loss", since=state["cursor"])
            except CursorResetError:
                state["resets"] += 1
                res = follower_store.read("run", "loss")
                state["points"] = []
            state["cursor"] = res.cursor
            table = res.tables.get(("run", "loss"))
            if table is not None:
                state["points"].extend(table.column("x").to_pylist())

        def background() -> None:
            i = 0
            try:
                while not stop.is_set():
                    writer.append([_pts()])
                    i += 1
                    follow()
                    time.sleep(0.02)
            except BaseException as exc:  # reported below
                errors.append(exc)
            state["appended"] = i

        thread = threading.Thread(target=background)
        thread.start()
        try:
            t0 = time.perf_counter()
            stats = compact_store(compactor)
            took = time.perf_counter() - t0
        finally:
            stop.set()
            thread.join()
        if errors:
            raise errors[0]
        for _ in range(3):
            follow()
        objects_after, _ = live_objects(compactor.backend)
        retire(compactor.backend, compactor.generation)  # what a --grace 0 compact deletes
        stored = len(compactor.backend.prefix.fs.find(compactor.backend.prefix.root))
        appended = state["appended"]
        total = expected + 200 * appended
        points = sorted(state["points"])
        fresh = Store.open(url, storage_options=opts)
        table = fresh.read("run", "loss").tables[("run", "loss")]
        fresh.close()
        exact = len(points) == total and points == sorted(
            table.column("x").to_pylist()
        )
        merged = stats.segments_merged if stats else 0
        t.add(section, "compact while a writer appends and a reader follows", [took], "s",
              note=(f"{merged:,} segments merged; reader resets {state['resets']}; "
                    f"objects a reader opens {objects_before:,} -> "
                    f"{objects_after}; stored after retiring {stored}; writer appended "
                    f"{appended} batches meanwhile"),
              goal="reader sees every point once", met=exact)
    cold = [count(lambda: Store.open(url, storage_options=opts).close()) for _ in range(s.runs)]
    # header, index, listing, manifest, then each object a reader opens: the base and the
    # segments above the new frontier (those written in the last LOOKBACK_NS of name time
    # before the compaction stay segments, and those the writer stored after it)
    ok = all(c.get("requests", 0) <= 4 + objects_after for _, c in cold)
    _add(t, section, "cold open with index, after", [d for d, _ in cold], [c for _, c in cold],
         baseline="cold open with index, before", goal="<= 4 requests + 1 per object a reader opens",
         ok=ok)


def bench_idle_tab(t: Table, emu: Any, s: ObjectSizes, url: str) -> None:
    from streamvis.backoff import IdleBackoff
    from streamvis.storage import Store

    count = _Count(emu)
    with Store.open(url, storage_options=emu.storage_options) as reader:
        idle = [count(reader.refresh)[1] for _ in range(s.runs)]
    lists = median([c.get("list", 0) for c in idle])
    gets = median([c.get("get", 0) + c.get("head", 0) for c in idle])
    per_poll = lists * CLASS_A + gets * CLASS_B

    def polls(backoff: bool) -> float:
        if not backoff:
            return DAY / s.tab_refresh
        b, now, n = IdleBackoff(s.tab_refresh), 0.0, 0
        while now < DAY:
            now += b.after(False)
            n += 1
        return float(n)

    section = f"{emu.scheme} idle tab, per day"
    plain, backed = polls(False) * per_poll, polls(True) * per_poll
    t.add(section, f"poll every {s.tab_refresh:g} s", [plain], "$",
          note=f"{polls(False):,.0f} polls x {lists:.0f} list + {gets:.0f} GET")
    t.add(section, "IdleBackoff (up to 10 s)", [backed], "$", baseline=f"poll every {s.tab_refresh:g} s",
          note=f"{polls(True):,.0f} polls", goal="<= $0.05", met=backed <= 0.05)


def _emulators(only: set[str]) -> Iterator[Any]:
    from streamvis.testing.object_stores import gcs_emulator, s3_server

    if "gs" in only:
        with gcs_emulator("bench") as emu:
            yield emu
    if "s3" in only:
        with s3_server("bench") as emu:
            yield emu


def run(s: ObjectSizes, only: set[str]) -> Table:
    t = Table("object stores at scale (issue 12)")
    for emu in _emulators(only):
        logs = bench_refresh(t, emu, s)
        big = max(s.segments)
        url, _ = logs[big]
        bench_writers(t, emu, s, url, big)
        bench_idle_tab(t, emu, s, url)
        bench_compaction(t, emu, s, url, big)
        bench_fleet(t, emu, s.fleet)
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.object_store_bench", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--only", default="gs,s3", help="comma-separated: gs, s3")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.runs:
        s = ObjectSizes(**{**s.__dict__, "runs": a.runs})
    t = run(s, set(a.only.split(",")))
    t.title += f" ({'quick' if a.quick else 'full'} size, medians of {s.runs} runs; noisy machine)"
    t.print()
    if a.json:
        with open(a.json, "w") as f:
            f.write(t.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
