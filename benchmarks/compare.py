"""``python -m benchmarks compare``: issue 6's workloads through streamvis, TensorBoard,
MLflow and Aim, plus the machine's limits, in one run and one table.

streamvis runs in this interpreter (the project venv); each competitor runs as a
subprocess of .venv-bench (built by ``benchmarks/setup_env.sh``), whose protobuf and
friends need not agree with streamvis's. Their rows come back as JSON and join one table;
every ratio is computed between rows of this run.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace

from benchmarks import limits
from benchmarks import streamvis_workloads as sv
from benchmarks.table import Table, median, progress, time_once
from benchmarks.workloads import FULL, QUICK, SEC, Sizes

__all__ = ["main", "run_streamvis", "run_competitors", "add_goals"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_VENV = os.environ.get("STREAMVIS_BENCH_VENV", os.path.join(ROOT, ".venv-bench"))
COMPETITORS = ("tensorboard", "mlflow", "aim")
SV = "streamvis"
RAW_W = "raw sequential write (same bytes, same fsyncs)"
RAW_R = "raw sequential read (same bytes)"
NP_COPY = "numpy copy of the column bytes"


def run_streamvis(s: Sizes, workdir: str, *, memory_points: int) -> Table:
    """streamvis rows and the limits rows of every section (in-process)."""
    t = Table()
    sp = os.path.join(workdir, "scalars.log")
    bp = os.path.join(workdir, "batches.log")
    raw = os.path.join(workdir, "raw.bin")

    # 1. scalars
    res = []
    for r in range(s.runs):
        progress(f"streamvis: {s.scalars:,} DataLogger.write + close, run {r + 1}/{s.runs}")
        res.append(sv.write_scalars(sp, s.scalars))
    nbytes = sv.log_bytes(sp)
    fsyncs = max(1, res[-1].batches)
    raw_w = limits.raw_write_times(raw, nbytes, s.runs, flush_bytes=math.ceil(nbytes / fsyncs))
    sec = SEC.write_scalars(s)
    t.add(
        sec,
        RAW_W,
        [x / s.scalars for x in raw_w],
        "s",
        note=f"{nbytes:,} B, {fsyncs} fsync(s) (one per logger append), per point",
    )
    calls = sorted(x.call_seconds / s.scalars for x in res)[len(res) // 2]
    t.add(
        sec,
        SV,
        [x.seconds / s.scalars for x in res],
        "s",
        baseline=RAW_W,
        note=f"DataLogger.write(x=i, y=float) incl. close; the call alone {calls * 1e6:.2g} us",
    )
    t.add(
        SEC.cpu_scalars(s),
        SV,
        [x.cpu_seconds / s.scalars for x in res],
        "s",
        note="process CPU time incl. the flush thread and close",
    )
    t.add(
        SEC.bytes_scalars(s),
        SV,
        nbytes / s.scalars,
        "B/point",
        note="int64 step + float32 value; log + .idx",
        goal="<= 8",
        met=nbytes / s.scalars <= 8,
    )

    # 3a. read scalars (cold open each time)
    sec = SEC.read_scalars(s)
    t.add(sec, RAW_R, limits.raw_read_times(sp, s.runs), "s", note=f"the log's {nbytes:,} B")
    t.add(sec, NP_COPY, limits.numpy_copy(s.scalars * 12, s.runs), "s", note="12 B/point")
    progress(f"streamvis: export {s.scalars:,} scalars")
    sv.read_group(sp, "loss")  # warm-up: imports and page cache, as for the raw read
    samples = [time_once(lambda: sv.read_group(sp, "loss")) for _ in range(s.runs)]
    got = len(sv.read_group(sp, "loss")["y"])
    t.add(
        sec,
        SV,
        samples,
        "s",
        baseline=RAW_R,
        note=f"cold Store open + read into numpy ({got:,} points)",
    )

    # 2. batches
    res = []
    for r in range(s.runs):
        progress(f"streamvis: {s.steps} x {s.batch:,}-point writes + close, run {r + 1}/{s.runs}")
        res.append(sv.write_batches(bp, s.steps, s.batch))
    nbytes = sv.log_bytes(bp)
    fsyncs = max(1, res[-1].batches)
    sec = SEC.write_batches(s)
    raw_w = limits.raw_write_times(raw, nbytes, s.runs, flush_bytes=math.ceil(nbytes / fsyncs))
    t.add(sec, RAW_W, raw_w, "s", note=f"{nbytes:,} B, {fsyncs} fsync(s)")
    t.add(
        sec,
        SV,
        [x.seconds for x in res],
        "s",
        baseline=RAW_W,
        note="DataLogger.write(start_index=step, x=, y=) incl. close",
        goal="<= 2x raw",
        met=None,
    )
    t.add(
        SEC.bytes_batches(s), SV, nbytes / s.batch_points, "B/point", note="2 x float32; log + .idx"
    )

    sec = SEC.read_batches(s)
    t.add(sec, RAW_R, limits.raw_read_times(bp, s.runs), "s", note=f"the log's {nbytes:,} B")
    t.add(sec, NP_COPY, limits.numpy_copy(s.batch_points * 8, s.runs), "s", note="8 B/point")
    progress(f"streamvis: export {s.batch_points:,} batch points")
    out_bytes = sum(a.nbytes for a in sv.read_group(bp, "points").values())  # and warm-up
    t.add(sec, "fresh read + first touch of the output",
          limits.fresh_read_and_touch_times(bp, out_bytes, s.runs), "s",
          note=f"the log into a fresh buffer, fresh arrays of the exported size filled "
               f"({out_bytes / s.batch_points:.0f} B/point: x, y, index codes)")
    samples = [time_once(lambda: sv.read_group(bp, "points")) for _ in range(s.runs)]
    t.add(
        sec,
        SV,
        samples,
        "s",
        baseline=RAW_R,
        note="cold Store open + read into numpy",
        goal="<= 2x raw",
    )
    t.add(sec, f"{SV} (vs fresh read + touch)", samples, "s",
          baseline="fresh read + first touch of the output", goal="<= 2x",
          met=median(samples) <= 2 * median(
              t.get(sec, "fresh read + first touch of the output").samples))  # type: ignore[union-attr]

    # 5. memory
    mp = os.path.join(workdir, "memory.log")
    progress(f"streamvis: peak memory reading {memory_points:,} scalars (fresh process)")
    sv.make_scalar_log(mp, memory_points)
    peaks, opened, arrays = [], [], []
    for _ in range(min(s.runs, 2)):
        peak, got = sv.peak_read_memory(mp)
        peaks.append(peak)
        opened.append(sv.peak_read_memory(mp, method="open")[0])
        arrays.append(sv.peak_read_memory(mp, method="open-arrays")[0])
    raw_cols = memory_points * 12
    t.add(
        SEC.memory(s),
        f"column bytes of {memory_points:,} scalars",
        raw_cols,
        "B",
        note="int64 step + float32 value",
    )
    t.add(
        SEC.memory(s),
        f"{SV}, {memory_points:,} scalars (peak RSS growth)",
        peaks,
        "B",
        baseline=f"column bytes of {memory_points:,} scalars",
        goal="<= 1.2x column bytes",
        met=max(peaks) <= 1.2 * raw_cols,
        note=f"read {got:,} points in a fresh process (export_arrow; x, y to numpy)",
    )
    t.add(
        SEC.memory(s),
        f"{SV}, {memory_points:,} scalars (peak RSS growth after Store.open)",
        opened,
        "B",
        baseline=f"column bytes of {memory_points:,} scalars",
        goal="<= 1.2x column bytes",
        met=max(opened) <= 1.2 * raw_cols,
        note="peak RSS reset after the open: the read alone (Store.read)",
    )
    t.add(
        SEC.memory(s),
        f"{SV}, {memory_points:,} scalars (read_arrays, after Store.open)",
        arrays,
        "B",
        baseline=f"column bytes of {memory_points:,} scalars",
        goal="<= 1.2x column bytes",
        met=max(arrays) <= 1.2 * raw_cols,
        note="script.export's shape: no index column",
    )
    os.unlink(mp)
    return t


def _competitor_status() -> dict[str, str]:
    out = {}
    path = os.path.join(BENCH_VENV, "competitors.txt")
    if os.path.exists(path):
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[1] == "FAIL":
                out[parts[0]] = parts[2]
    return out


def run_competitors(s: Sizes, workdir: str, names: tuple[str, ...]) -> Table:
    t = Table()
    py = os.path.join(BENCH_VENV, "bin", "python")
    failed = _competitor_status()
    for name in names:
        sec = SEC.write_scalars(s)
        if not os.path.exists(py):
            t.add(
                sec,
                name,
                [],
                "s",
                note=f"not run: {BENCH_VENV} missing (bash benchmarks/setup_env.sh)",
            )
            continue
        why = [f"{k}: {v}" for k, v in failed.items() if k.lower().startswith(name)]
        if why and name != "tensorboard":
            t.add(sec, name, [], "s", note="not installed: " + "; ".join(why))
            continue
        wd = tempfile.mkdtemp(prefix=f"{name}-", dir=workdir)
        progress(f"competitor {name} (in {BENCH_VENV})")
        env = dict(os.environ, PYTHONPATH=ROOT, MLFLOW_ALLOW_FILE_STORE="true")
        try:
            proc = subprocess.run(
                [
                    py,
                    "-m",
                    f"benchmarks.competitors.{name}",
                    "--sizes",
                    s.to_json(),
                    "--workdir",
                    wd,
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
                timeout=3600,
            )
            text = proc.stdout
            if "@@TABLE@@" not in text:
                t.add(sec, name, [], "s", note=f"failed: exit {proc.returncode} (see stderr)")
            else:
                t.extend(Table.from_json(text.rsplit("@@TABLE@@", 1)[1]))
        except subprocess.TimeoutExpired:
            t.add(sec, name, [], "s", note="timed out after 1 h")
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    return t


def _value(t: Table, section: str, label: str) -> float | None:
    r = t.get(section, label)
    return r.value if r is not None and r.samples else None


def add_goals(t: Table, s: Sizes) -> Table:
    """Issue 6's goals as rows: the factor achieved and whether it is met."""
    g = Table("Goals (issue 6)")
    sec = "goals"

    def ratio(section: str, num: str, den: str) -> float | None:
        a, b = _value(t, section, num), _value(t, section, den)
        return a / b if a and b else None

    def goal(label: str, value: float | None, unit: str, want: str, ok: bool | None) -> None:
        if ok is None:
            want += " (not judged at this size)"
        g.add(
            sec,
            label,
            [] if value is None else [value],
            unit,
            goal=want,
            met=None if value is None else ok,
            note="" if value is not None else "not measured",
        )

    w = ratio(SEC.write_scalars(s), "TensorBoard EventFileWriter", SV)
    goal(
        "scalar write: TensorBoard EventFileWriter / streamvis",
        w,
        "x",
        ">= 30x",
        w is not None and w >= 30,
    )
    w = ratio(SEC.cpu_scalars(s), "TensorBoard EventFileWriter", SV)
    goal(
        "scalar write, CPU time: TensorBoard EventFileWriter / streamvis",
        w,
        "x",
        ">= 30x",
        w is not None and w >= 30,
    )
    r = ratio(SEC.read_scalars(s), "TensorBoard EventAccumulator (size_guidance 0)", SV)
    goal(
        "read scalars: EventAccumulator / streamvis",
        r,
        "x",
        ">= 1000x",
        r is not None and r >= 1000,
    )
    r = ratio(SEC.read_scalars(s), "TB Rust data server: load + ReadScalars", SV)
    goal(
        "read scalars: Rust data server load+read / streamvis",
        r,
        "x",
        ">= 50x",
        r is not None and r >= 50,
    )
    v = _value(t, SEC.read_scalars(s), SV)
    full = s.scalars == 1_000_000
    goal(
        f"read {s.scalars:,} scalars, cold open",
        v,
        "s",
        "about 20 ms for 1M",
        (v is not None and v <= 0.025) if full else None,
    )
    m = [r for r in t.rows if r.section == SEC.memory(s) and r.label.startswith(SV)]
    if m:
        ratio_m = t.ratio(m[0])
        goal(
            "peak read memory / column bytes",
            ratio_m,
            "x",
            "<= 2x",
            ratio_m is not None and ratio_m <= 2,
        )
    for section, what in (
        (SEC.write_batches(s), "batch write"),
        (SEC.read_batches(s), "batch read"),
    ):
        rr = ratio(section, RAW_W if "write" in what else RAW_R, SV)
        goal(f"{what}: share of raw bandwidth", rr, "x", ">= 0.5", rr is not None and rr >= 0.5)
    b = _value(t, SEC.bytes_scalars(s), SV)
    goal("bytes per scalar point", b, "B", "<= 8", b is not None and b <= 8)
    return g


def _order(t: Table, s: Sizes) -> Table:
    order = [
        SEC.write_scalars(s),
        SEC.cpu_scalars(s),
        SEC.write_batches(s),
        SEC.read_scalars(s),
        SEC.read_batches(s),
        SEC.bytes_scalars(s),
        SEC.bytes_batches(s),
        SEC.memory(s),
    ]
    rank = {name: i for i, name in enumerate(order)}
    out = Table(t.title)
    out.rows = sorted(t.rows, key=lambda r: rank.get(r.section, len(order)))  # stable
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks compare", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="CI size: under a minute")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (median)")
    ap.add_argument(
        "--only",
        default=None,
        help="comma-separated: streamvis,tensorboard,mlflow,aim (default all)",
    )
    ap.add_argument(
        "--memory-points",
        type=int,
        default=None,
        help="scalars for the peak-memory read (default 10M full, 1M quick)",
    )
    ap.add_argument("--workdir", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.runs:
        s = replace(s, runs=a.runs)
    only = tuple(x.strip() for x in (a.only or "streamvis," + ",".join(COMPETITORS)).split(","))
    mem = a.memory_points or (1_000_000 if a.quick else 10_000_000)
    workdir = a.workdir or tempfile.mkdtemp(prefix="streamvis-bench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        mode = "quick" if a.quick else "full"
        t = Table(f"streamvis vs TensorBoard, MLflow, Aim ({mode} size, medians of {s.runs} runs)")
        if "streamvis" in only:
            t.extend(run_streamvis(s, workdir, memory_points=mem))
        t.extend(run_competitors(s, workdir, tuple(c for c in COMPETITORS if c in only)))
        t = _order(t, s)
        goals = add_goals(t, s)
        t.print()
        goals.print()
        if a.json:
            with open(a.json, "w") as f:
                full = Table(t.title, t.rows + goals.rows)
                f.write(full.to_json())
    finally:
        if a.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
