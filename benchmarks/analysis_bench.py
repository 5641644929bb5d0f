"""``python -m benchmarks.analysis_bench [--quick]``: run summaries and group
aggregates (issue 22), computed over every point.

Rows (medians of several runs; ratios to a baseline measured in the same run):

* summaries of R runs x 5 names: the first ``SummaryBook.refresh`` (every point read
  and folded) against reading the same points (``fetch``), and each poll after, when
  every run has logged one more point per name (goal <= 1 s / <= 50 ms at 10,000 runs);
* ``aggregate`` of G runs x P points grouped into 10 (``group=-seed``), against reading
  the same points; and the same through a real data server (the RPC computes on the
  server; goal for the page: <= 2 s navigation to drawn at 1,000 x 10,000).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np

from benchmarks.table import Table, progress, run_in_tempdir, time_runs

__all__ = ["AnalysisSizes", "FULL", "QUICK", "run", "main"]

NAMES = ("loss", "val/loss", "acc", "lr", "grad_norm")


@dataclass(frozen=True)
class AnalysisSizes:
    summary_runs: int = 10_000
    summary_points: int = 1_000  # per run and name
    group_runs: int = 1_000
    group_points: int = 10_000
    runs: int = 5


FULL = AnalysisSizes()
QUICK = AnalysisSizes(summary_runs=300, summary_points=100, group_runs=60, group_points=1_000, runs=3)


def _write(path: str, runs: int, names: tuple[str, ...], points: int, start: int = 0) -> None:
    from streamvis.storage import ConfigUpdate, Points, Store

    rng = np.random.default_rng(start)
    with Store.open(path, mode="a", fsync=False) as st:
        batch: list = []
        for r in range(runs):
            if start == 0:
                batch.append(ConfigUpdate(f"run{r:05d}", {"lr": [1e-3, 1e-4][r % 2], "depth": r % 5,
                                                         "seed": r, "id": f"run{r:05d}"}))
            x = np.arange(start, start + points)
            for n in names:
                batch.append(Points(f"run{r:05d}", n, 0, {"x": x, "y": rng.random(points, dtype=np.float32)}))
            if len(batch) >= 2_000:
                st.append(batch)
                batch = []
        if batch:
            st.append(batch)


def run(s: AnalysisSizes, wd: str) -> Table:
    from streamvis.run_analysis import SummaryBook
    from streamvis.source import LocalSource
    from streamvis.storage import Store

    t = Table("run summaries and group aggregates (issue 22)")
    sec = f"summaries {s.summary_runs:,} runs x {len(NAMES)} names x {s.summary_points:,} pts"
    path = os.path.join(wd, "summaries.svl")
    progress(f"writing {sec}")
    _write(path, s.summary_runs, NAMES, s.summary_points)
    with LocalSource(Store.open(path, "r")) as src:
        pattern = "^(?:" + "|".join(NAMES) + ")$"
        t.add(sec, "fetch the same points", time_runs(lambda: src.fetch(name_pattern=pattern), s.runs), "s")
        first = time_runs(lambda: SummaryBook(src, NAMES).refresh(), s.runs)
        t.add(sec, "first summaries", first, "s", baseline="fetch the same points",
              goal="<= 1 s at 10,000 runs")
        book = SummaryBook(src, NAMES)
        book.refresh()
        polls = []
        for i in range(s.runs):
            _write(path, s.summary_runs, NAMES, 1, start=s.summary_points + i)
            src.store.refresh()
            polls += time_runs(book.refresh, 1)
        t.add(sec, "poll: +1 point per run and name", polls, "s", goal="<= 50 ms at 10,000 runs")

    sec = f"aggregate {s.group_runs:,} runs x {s.group_points:,} pts into 10 groups"
    path = os.path.join(wd, "groups.svl")
    progress(f"writing {sec}")
    _write(path, s.group_runs, ("loss",), s.group_points)
    with LocalSource(Store.open(path, "r")) as src:
        t.add(sec, "fetch the same points", time_runs(lambda: src.fetch(name="loss"), s.runs), "s")
        t.add(sec, "aggregate (local)", time_runs(lambda: src.aggregate("loss", "-seed"), s.runs), "s",
              baseline="fetch the same points")
        groups = src.aggregate("loss", "-seed")
        assert len(groups.aggregates) == 10, groups.notes
    srv = _server(path)
    try:
        from streamvis.server.client import GrpcSource

        with GrpcSource(srv[1], timeout=None) as remote:
            t.add(sec, "aggregate (data server RPC)",
                  time_runs(lambda: remote.aggregate("loss", "-seed"), s.runs), "s",
                  baseline="fetch the same points")
    finally:
        srv[0].terminate()
        srv[0].wait(30)
    return t


def _server(path: str) -> tuple:
    import socket
    import subprocess

    from streamvis.server.client import DataClient

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamvis.cli", "grpc-serve", path, str(port)],
                            stdout=subprocess.DEVNULL)
    uri = f"127.0.0.1:{port}"
    try:
        with DataClient(uri, timeout=60) as c:
            c.wait_ready(60)
    except Exception:
        proc.kill()
        raise
    return proc, uri


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.analysis_bench", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.runs:
        s = AnalysisSizes(**{**s.__dict__, "runs": a.runs})
    size = f"{'quick' if a.quick else 'full'} size, medians of {s.runs} runs"
    return run_in_tempdir(lambda wd: run(s, wd), "streamvis-analysis-bench-", size, a.json)


if __name__ == "__main__":
    sys.exit(main())
