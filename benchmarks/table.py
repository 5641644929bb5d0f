"""Shared helpers for every benchmark module: timing, medians, and one table printer.

Usage::

    from benchmarks.table import Table, time_runs, progress

    t = Table("storage")
    t.add("append scalars", "raw write", time_runs(raw, runs=5), "s")
    t.add("append scalars", "streamvis", time_runs(sv, runs=5), "s", baseline="raw write")
    t.add("bytes/point", "streamvis", [7.9], "B", goal="<= 8", met=7.9 <= 8)
    print(t.to_markdown())

A row holds all samples; the table shows their median, the number of runs, and the
ratio of this row's median to its baseline row's median (same section, same run).
Rows can be turned into JSON and back (``Table.to_json`` / ``Table.from_json``) so a
workload run in another interpreter (the competitors' venv) joins the same table.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Row",
    "Table",
    "fmt_value",
    "median",
    "peak_rss_bytes",
    "per_call",
    "progress",
    "run_in_tempdir",
    "time_once",
    "time_runs",
]


def progress(msg: str) -> None:
    """One progress line on stderr (long work must say what it is doing)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(samples: Iterable[float]) -> float:
    xs = [float(s) for s in samples]
    return statistics.median(xs) if xs else float("nan")


def time_once(fn: Callable[[], Any]) -> float:
    """Seconds for one call of ``fn`` (GC collected before, disabled during)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


def time_runs(
    fn: Callable[[], Any],
    runs: int = 5,
    *,
    setup: Callable[[], Any] | None = None,
    warmup: int = 0,
) -> list[float]:
    """Seconds per call for ``runs`` calls; ``setup`` runs untimed before each call."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    out = []
    for _ in range(runs):
        if setup is not None:
            setup()
        out.append(time_once(fn))
    return out


def per_call(fn: Callable[[int], Any], calls: int, runs: int, chunk: int = 100) -> list[float]:
    """Seconds per call of ``fn(i)``: ``runs`` x ``calls`` calls timed in chunks of
    ``chunk`` calls, one sample per chunk (the median then ignores the chunks in
    which the OS or another process took the CPU away)."""
    out = []
    i = 0
    for _ in range(runs * max(1, calls // chunk)):
        t0 = time.perf_counter()
        for _ in range(chunk):
            fn(i)
            i += 1
        out.append((time.perf_counter() - t0) / chunk)
    return out


def peak_rss_bytes(pid: int | None = None) -> int:
    """Peak resident set size (VmHWM) of a process from /proc, in bytes (0 if unknown)."""
    path = f"/proc/{pid or os.getpid()}/status"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


_SCALES = {
    "s": [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")],
    "B": [(2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1.0, "B")],
}


def fmt_value(value: float, unit: str) -> str:
    """Human-readable value: seconds scaled to ms/us, bytes to KiB/MiB, rates with SI."""
    if value != value:  # NaN
        return "n/a"
    if unit in _SCALES:
        for scale, name in _SCALES[unit]:
            if abs(value) >= scale or scale == _SCALES[unit][-1][0]:
                return f"{value / scale:.3g} {name}"
    if unit.endswith("/s") and abs(value) >= 1e3:
        for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


@dataclass
class Row:
    section: str
    label: str
    samples: list[float]
    unit: str
    baseline: str | None = None  # label of a row in the same section
    note: str = ""
    goal: str = ""
    met: bool | None = None

    @property
    def value(self) -> float:
        return median(self.samples)


@dataclass
class Table:
    title: str = ""
    rows: list[Row] = field(default_factory=list)

    def add(
        self,
        section: str,
        label: str,
        samples: float | Sequence[float],
        unit: str,
        *,
        baseline: str | None = None,
        note: str = "",
        goal: str = "",
        met: bool | None = None,
    ) -> Row:
        if isinstance(samples, (int, float)):
            samples = [float(samples)]
        row = Row(section, label, [float(s) for s in samples], unit, baseline, note, goal, met)
        self.rows.append(row)
        return row

    def get(self, section: str, label: str) -> Row | None:
        for r in self.rows:
            if r.section == section and r.label == label:
                return r
        return None

    def ratio(self, row: Row) -> float | None:
        """This row's median over its baseline's median (same section), or None."""
        if row.baseline is None:
            return None
        base = self.get(row.section, row.baseline)
        if base is None or not base.value or base.value != base.value:
            return None
        return row.value / base.value

    def extend(self, other: Table) -> None:
        self.rows.extend(other.rows)

    # -- output ---------------------------------------------------------------------
    def to_markdown(self) -> str:
        head = "| workload | tool / measure | median | runs | ratio | goal | note |"
        lines = [f"### {self.title}", ""] if self.title else []
        lines += [head, "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            ratio = self.ratio(r)
            rtxt = f"{ratio:.3g}x {r.baseline}" if ratio is not None else ""
            goal = r.goal
            if r.met is not None and goal:
                goal = f"{goal} ({'met' if r.met else 'MISSED'})"
            runs = str(len(r.samples)) if r.samples else "-"
            val = fmt_value(r.value, r.unit) if r.samples else "-"
            lines.append(
                f"| {r.section} | {r.label} | {val} | {runs} | {rtxt} | {goal} | {r.note} |"
            )
        return "\n".join(lines) + "\n"

    def print(self, file: Any = None) -> None:
        print(self.to_markdown(), file=file or sys.stdout, flush=True)

    def to_json(self) -> str:
        return json.dumps({"title": self.title, "rows": [asdict(r) for r in self.rows]})

    @classmethod
    def from_json(cls, text: str) -> Table:
        data = json.loads(text)
        return cls(data.get("title", ""), [Row(**r) for r in data["rows"]])


def run_in_tempdir(run: Callable[[str], Table], prefix: str, size: str, json_path: str | None) -> int:
    """A benchmark's ``main`` tail: ``run(workdir)`` in a fresh temporary directory
    (removed afterwards), its table titled with ``size``, printed, and saved as JSON
    when ``json_path`` is given. Returns the exit status (0)."""
    import shutil
    import tempfile

    wd = tempfile.mkdtemp(prefix=prefix)
    try:
        t = run(wd)
        t.title += f" ({size})"
        t.print()
        if json_path:
            with open(json_path, "w") as f:
                f.write(t.to_json())
    finally:
        shutil.rmtree(wd, ignore_errors=True)
    return 0


def sized_main(argv: list[str] | None, *, prog: str, doc: str | None, quick: Any, full: Any,
               run: Callable[[Any, str], Table], prefix: str, help: Mapping[str, str] | None = None) -> int:
    """The ``main`` of a benchmark sized by a frozen dataclass with ``runs_count``,
    ``points`` and ``tries``: ``--quick`` picks ``quick`` (else ``full``), ``--runs-count``,
    ``--points`` and ``--tries`` override its fields, ``--json`` saves the table; then
    ``run(sizes, workdir)`` in ``run_in_tempdir``."""
    help = help or {}
    ap = argparse.ArgumentParser(prog=prog, description=doc)
    ap.add_argument("--quick", action="store_true")
    for name in ("runs_count", "points", "tries"):
        ap.add_argument("--" + name.replace("_", "-"), type=int, default=None, help=help.get(name))
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    sizes = quick if a.quick else full
    given = {f: getattr(a, f) for f in ("runs_count", "points", "tries") if getattr(a, f)}
    sizes = dataclasses.replace(sizes, **given)
    size = f"{'quick' if a.quick else 'full'} size, medians of {sizes.tries} tries"
    return run_in_tempdir(lambda wd: run(sizes, wd), prefix, size, a.json)
