"""``python -m benchmarks.storage_bench [--quick]``: the storage engine's table (issue 2).

Rows, medians of several runs, ratios to baselines measured in the same run:

* append throughput (points/s, MB/s) for scalar batches and 10,000-point batches, fsync
  per append (the Store default) and without, vs raw sequential write of the same bytes
  in the same number of writes under the same fsync policy;
* export of a 20M-point log (``streamvis.script.export``) vs raw read of its bytes;
* read since a cursor of the newest 1,000 points on logs of 1M, 10M, 100M points;
* a poll's read since a cursor when each of 1,000 / 10,000 runs logged 10 more points (a
  record each): found in the in-memory index (``since_index``) against scanning the same
  bytes (``tail_reading``, what every read after a cursor did before);
* ``read_range`` of a screen's worth (2,000 points) from a 10M-point group;
* open time of a 10M-point log with and without its sidecar index;
* ``scopes()`` and ``names(scope)`` on a log of 1,000 scopes x 1,000 names;
* bytes per scalar point (int64 step, float32 value; log + index).

Big logs are written in appends of 250,000 points (what the DataLogger's 3 MiB batch
cap gives for scalars), so records have the sizes real logs have.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from benchmarks import limits
from benchmarks.table import Table, progress, time_once, time_runs
from benchmarks.workloads import scalar_data

__all__ = ["StorageSizes", "FULL", "QUICK", "run", "main"]

SCOPE = "bench"
CHUNK = 250_000


@dataclass(frozen=True)
class StorageSizes:
    scalar_appends: int = 1_000  # appends of ...
    scalar_batch: int = 1_000  # ... this many scalar points each
    batch_appends: int = 200  # appends of one 10,000-point (x, y) batch each
    batch: int = 10_000
    export_points: int = 20_000_000
    cursor_logs: tuple[int, ...] = (1_000_000, 10_000_000, 100_000_000)
    range_points: int = 10_000_000
    scopes: int = 1_000
    names: int = 1_000
    poll_runs: tuple[int, ...] = (1_000, 10_000)
    runs: int = 5


FULL = StorageSizes()
QUICK = StorageSizes(
    scalar_appends=50,
    scalar_batch=1_000,
    batch_appends=10,
    export_points=1_000_000,
    cursor_logs=(100_000, 1_000_000),
    range_points=1_000_000,
    scopes=30,
    names=30,
    poll_runs=(100,),
    runs=3,
)


def _rm(path: str) -> None:
    for p in (path, path + ".idx"):
        if os.path.exists(p):
            os.unlink(p)


def _log_bytes(path: str) -> int:
    idx = path + ".idx"
    return os.path.getsize(path) + (os.path.getsize(idx) if os.path.exists(idx) else 0)


def make_log(path: str, n: int, *, start: int = 0) -> None:
    """n scalar points (x int64 step, y float32) in appends of CHUNK, no fsync (set-up)."""
    from streamvis.storage import Points, Store

    _rm(path)
    with Store.open(path, "a", fsync=False) as st:
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            steps, values = scalar_data(hi - lo)
            st.append([Points(SCOPE, "loss", 0, {"x": steps + lo + start, "y": values})])


def bench_append(t: Table, s: StorageSizes, wd: str) -> None:
    from streamvis.storage import Points, Store

    path = os.path.join(wd, "append.log")
    raw = os.path.join(wd, "raw.bin")
    steps, values = scalar_data(s.scalar_appends * s.scalar_batch)
    scal = [
        [
            Points(
                SCOPE,
                "loss",
                0,
                {"x": steps[i : i + s.scalar_batch], "y": values[i : i + s.scalar_batch]},
            )
        ]
        for i in range(0, len(steps), s.scalar_batch)
    ]
    rng = np.random.default_rng(1)
    pts = [
        [
            Points(
                SCOPE,
                "points",
                k,
                {
                    "x": rng.normal(size=s.batch).astype(np.float32),
                    "y": rng.normal(size=s.batch).astype(np.float32),
                },
            )
        ]
        for k in range(s.batch_appends)
    ]
    cases = (
        (f"append scalars ({s.scalar_appends:,} appends x {s.scalar_batch:,} points)", scal, 12),
        (f"append batches ({s.batch_appends} appends x {s.batch:,} (x,y) points)", pts, 8),
    )
    for sec, batches, col_bytes in cases:
        npts = sum(len(b[0].columns["x"]) for b in batches)
        for fsync in (True, False):
            pol = "fsync per append" if fsync else "no fsync"

            def go(batches: list = batches, fsync: bool = fsync) -> None:
                with Store.open(path, "a", fsync=fsync) as st:
                    for b in batches:
                        st.append(b)

            progress(f"storage: {sec}, {pol}")
            raw_label = f"raw write, same bytes, {pol}"
            times: list[float] = []
            rtimes: list[float] = []
            for _ in range(s.runs):  # alternate, so disk contention hits both alike
                _rm(path)
                times.append(time_once(go))
                nbytes = _log_bytes(path)
                rtimes += limits.raw_write_times(
                    raw, nbytes, 1, flush_bytes=math.ceil(nbytes / len(batches)), fsync=fsync
                )
            t.add(
                sec,
                raw_label,
                [npts / x for x in rtimes],
                "points/s",
                note=f"{nbytes / min(rtimes) / 1e6:.3g} MB/s, {len(batches)} writes",
            )
            med = sorted(times)[len(times) // 2]
            t.add(
                sec,
                f"Store.append, {pol}",
                [npts / x for x in times],
                "points/s",
                baseline=raw_label,
                note=f"{nbytes / med / 1e6:.3g} MB/s on disk, "
                f"{npts * col_bytes / med / 1e6:.3g} MB/s of columns",
            )
        t.add(
            sec,
            "bytes per point",
            _log_bytes(path) / npts,
            "B/point",
            note="log + index",
            goal="<= 8" if col_bytes == 12 else "",
            met=(_log_bytes(path) / npts <= 8) if col_bytes == 12 else None,
        )
        _rm(path)


def bench_export(t: Table, s: StorageSizes, wd: str) -> None:
    import streamvis.script as script

    path = os.path.join(wd, "export.log")
    progress(f"storage: building a {s.export_points:,}-point log")
    make_log(path, s.export_points)
    sec = f"export of a {s.export_points:,}-point log"
    nb = os.path.getsize(path)
    t.add(
        sec,
        "raw read of the log's bytes",
        limits.raw_read_times(path, s.runs),
        "s",
        note=f"{nb:,} B ({nb / s.export_points:.2g} B/point)",
    )
    t.add(
        sec,
        "numpy copy of the column bytes",
        limits.numpy_copy(s.export_points * 12, s.runs),
        "s",
        note="12 B/point (int64 + float32)",
    )
    t.add(
        sec,
        "fresh read + first touch of the output",
        limits.fresh_read_and_touch_times(path, s.export_points * 12, s.runs),
        "s",
        note="the log's bytes into a fresh buffer, then fresh arrays of 12 B/point filled",
    )
    progress("storage: export")
    times = time_runs(lambda: script.export(path=path), s.runs)
    med = sorted(times)[len(times) // 2]
    t.add(
        sec,
        "streamvis.script.export",
        times,
        "s",
        baseline="raw read of the log's bytes",
        goal="<= 2x raw read",
        met=med <= 2 * t.rows[-2].value,
        note=f"{s.export_points / med / 1e6:.3g} M points/s, cold open",
    )
    t.rows[-1].met = med <= 2 * t.get(sec, "raw read of the log's bytes").value  # type: ignore[union-attr]
    floor = t.get(sec, "fresh read + first touch of the output")
    assert floor is not None
    t.add(sec, "streamvis.script.export (vs fresh read + touch)", times, "s",
          baseline="fresh read + first touch of the output", goal="<= 2x",
          met=med <= 2 * floor.value)
    _rm(path)


def bench_cursor(t: Table, s: StorageSizes, wd: str) -> None:
    from streamvis.storage import Points, Store

    sec = "read since a cursor: newest 1,000 points"
    for n in s.cursor_logs:
        path = os.path.join(wd, f"cursor{n}.log")
        progress(f"storage: building a {n:,}-point log")
        make_log(path, n)
        with Store.open(path, "a") as w, Store.open(path, "r") as r:
            cur = r.cursor()
            times = []
            for k in range(s.runs):
                steps, values = scalar_data(1_000)
                w.append([Points(SCOPE, "loss", 0, {"x": steps + n + 1_000 * k, "y": values})])
                box: dict = {}

                def go(cur: str = cur, box: dict = box) -> None:
                    box["res"] = r.read(SCOPE, "loss", since=cur)

                times.append(time_once(go))
                res = box["res"]
                got = sum(tb.num_rows for tb in res.tables.values())
                assert got == 1_000, got
                cur = res.cursor
        t.add(
            sec,
            f"log of {n:,} points",
            times,
            "s",
            goal="< 10 ms, flat",
            met=sorted(times)[len(times) // 2] < 0.010,
            note="refresh + read(since=cursor) on an open reader",
        )
        if n != s.range_points:
            _rm(path)
    missing = [n for n in FULL.cursor_logs if n not in s.cursor_logs]
    if missing:
        t.add(sec, f"log of {missing[-1]:,} points", [], "s", note="not run at this size")


def bench_poll(t: Table, s: StorageSizes, wd: str) -> None:
    from streamvis.storage import Points, Store
    from streamvis.storage.read.cursor import cursor_positions
    from streamvis.storage.read.tail_reading import read_between

    sec = "a poll: read since a cursor, every run +10 points (a record each)"
    for runs in s.poll_runs:
        path = os.path.join(wd, f"poll{runs}.log")
        progress(f"storage: a poll of {runs:,} runs")

        def grow(w: Store, start: int, n: int, runs: int = runs) -> None:
            x = np.arange(start, start + n)
            y = np.linspace(0, 1, n, dtype=np.float32)
            w.append([Points(f"run{r:05d}", "loss", 0, {"x": x, "y": y}) for r in range(runs)])

        indexed, scanned = [], []
        with Store.open(path, "a", fsync=False) as w, Store.open(path, "r") as r:
            grow(w, 0, 1_000)
            r.refresh()
            cur = r.cursor()
            for k in range(s.runs):
                grow(w, 1_000 + 10 * k, 10)
                r.refresh()
                box: dict = {}
                indexed.append(time_once(lambda cur=cur, box=box: box.update(res=r.read(since=cur))))
                _, start = cursor_positions(cur, r.log.log_id)
                end = dict(r.log.positions)
                scanned.append(time_once(lambda start=start, end=end: read_between(
                    r.backend, start, end, lambda _: True, lambda _: True)))
                got = sum(tb.num_rows for tb in box["res"].tables.values())
                assert got == 10 * runs, got
                cur = box["res"].cursor
        t.add(sec, f"{runs:,} runs: scan the new bytes", scanned, "s",
              note="the read before: frames, checksums, a table builder per record")
        t.add(sec, f"{runs:,} runs: from the index", indexed, "s",
              baseline=f"{runs:,} runs: scan the new bytes",
              note="Store.read(since=cursor) on a refreshed reader")
        _rm(path)


def bench_range_open(t: Table, s: StorageSizes, wd: str) -> None:
    from streamvis.storage import Store

    n = s.range_points
    path = os.path.join(wd, f"cursor{n}.log")
    if not os.path.exists(path):
        progress(f"storage: building a {n:,}-point log")
        make_log(path, n)
    sec = f"read_range on a {n:,}-point group"
    with Store.open(path, "r") as st:
        mid = n // 2
        box: dict = {}

        def window() -> None:
            box["w"] = st.read_range(SCOPE, "loss", 0, mid, mid + 1_999, max_points=2_000)

        def whole() -> None:
            box["a"] = st.read_range(SCOPE, "loss", 0, None, None, max_points=2_000)

        tw = time_runs(window, s.runs, warmup=1)
        t.add(
            sec,
            "window of 2,000 points (x in [n/2, n/2+2000))",
            tw,
            "s",
            goal="< 50 ms",
            met=sorted(tw)[len(tw) // 2] < 0.05,
            note=f"{box['w'].num_rows} rows",
        )
        progress("storage: read_range whole group decimated to 2,000")
        ta = time_runs(whole, max(1, s.runs // 2))
        t.add(
            sec,
            "whole group decimated to max_points=2,000",
            ta,
            "s",
            note=f"{box['a'].num_rows} rows (MinMaxLTTB over all {n:,})",
        )

    sec = f"open a {n:,}-point log"
    t.add(sec, "with its index", time_runs(lambda: Store.open(path, "r").close(), s.runs), "s")

    def drop_index() -> None:
        if os.path.exists(path + ".idx"):
            os.unlink(path + ".idx")

    t.add(
        sec,
        "without index (PATH.idx deleted)",
        time_runs(lambda: Store.open(path, "r").close(), s.runs, setup=drop_index),
        "s",
        baseline="with its index",
        note="scan + rebuild in memory",
    )
    _rm(path)


def bench_listing(t: Table, s: StorageSizes, wd: str) -> None:
    from streamvis.storage import Points, Store

    path = os.path.join(wd, "listing.log")
    _rm(path)
    progress(f"storage: building a log of {s.scopes:,} scopes x {s.names:,} names")
    one = {"x": np.zeros(1, np.int64), "y": np.zeros(1, np.float32)}
    with Store.open(path, "a", fsync=False) as st:
        for i in range(s.scopes):
            st.append([Points(f"scope{i:04d}", f"name{j:04d}", 0, one) for j in range(s.names)])
        st.save_index()
    sec = f"listing a log of {s.scopes:,} scopes x {s.names:,} names"
    t.add(
        sec,
        "open (with index)",
        time_runs(lambda: Store.open(path, "r").close(), min(s.runs, 2)),
        "s",
    )
    with Store.open(path, "r") as st:
        ts = time_runs(st.scopes, s.runs)
        t.add(
            sec,
            "scopes()",
            ts,
            "s",
            goal="< 50 ms",
            met=sorted(ts)[len(ts) // 2] < 0.05,
            note=f"{len(st.scopes()):,} scopes",
        )
        mid = f"scope{s.scopes // 2:04d}"
        tn = time_runs(lambda: st.names(mid), s.runs)
        t.add(
            sec,
            "names(scope)",
            tn,
            "s",
            goal="< 50 ms",
            met=sorted(tn)[len(tn) // 2] < 0.05,
            note=f"{len(st.names(mid)):,} names",
        )
    _rm(path)


SECTIONS = ("append", "export", "cursor", "poll", "range_open", "listing")


def run(s: StorageSizes, workdir: str, only: tuple[str, ...] = SECTIONS) -> Table:
    t = Table("storage engine (issue 2)")
    benches = {"append": bench_append, "export": bench_export, "cursor": bench_cursor,
               "poll": bench_poll, "range_open": bench_range_open, "listing": bench_listing}
    for name in SECTIONS:
        if name in only:
            benches[name](t, s, workdir)
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.storage_bench", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--no-100m", action="store_true", help="skip the 100M-point cursor log")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--object-stores", action="store_true",
                    help="also the gs:// and s3:// table (issue 12, benchmarks.object_store_bench)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma list of " + ", ".join(SECTIONS))
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.runs:
        s = StorageSizes(**{**s.__dict__, "runs": a.runs})
    if a.no_100m:
        s = StorageSizes(
            **{**s.__dict__, "cursor_logs": tuple(n for n in s.cursor_logs if n < 100_000_000)}
        )
    wd = a.workdir or tempfile.mkdtemp(prefix="streamvis-storage-bench-")
    os.makedirs(wd, exist_ok=True)
    try:
        t = run(s, wd, tuple(x.strip() for x in a.only.split(",")))
        if a.object_stores:
            from benchmarks import object_store_bench as osb

            t.extend(osb.run(osb.QUICK if a.quick else osb.FULL, {"gs", "s3"}))
        t.title += f" ({'quick' if a.quick else 'full'} size, medians of {s.runs} runs)"
        t.print()
        if a.json:
            with open(a.json, "w") as f:
                f.write(t.to_json())
    finally:
        if a.workdir is None:
            shutil.rmtree(wd, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
