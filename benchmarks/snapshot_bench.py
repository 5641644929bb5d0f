"""``python -m benchmarks.snapshot_bench [--quick] [--runs-count R] [--points P]``: a
page saved as one HTML file (issue 25, part 2), and that file opened offline in Chromium.

Rows (medians of several tries):

* snapshot time: ``snapshot_html`` of ``/?rows=loss`` over a local log, from the call to
  the HTML text (goal <= 5 s at 1,000 runs x 10,000 points), and the CLI's whole run
  (``streamvis snapshot``: interpreter start, imports, the file written) beside it;
* file size (goal <= 20 MiB at full size; BokehJS inline is about 2 MiB of it);
* opened offline: from ``page.goto('file://...')`` with the network cut until every run's
  line is in the page's document and a frame has been painted (goal <= 2 s); beside it,
  the baseline: the live page of the same view (``web-serve``, canvas) navigation to
  drawn, in the same browser and at the same load.

Full size: 1,000 runs x 10,000 points of ``loss`` (each run a config); ``--quick``:
50 runs x 1,000 points.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.table import Table, progress, sized_main
from benchmarks.web_bench import CHROMIUM, CHROMIUM_ARGS, PAINTED_JS

__all__ = ["SnapshotSizes", "FULL", "QUICK", "run", "main"]

COUNT_JS = """() => { try { const l = Bokeh.documents[0].get_model_by_name('lines:0:source');
  return l && l.data.xs ? l.data.xs.length : -1; } catch (e) { return -1; } }"""


@dataclass(frozen=True)
class SnapshotSizes:
    runs_count: int = 1_000
    points: int = 10_000
    tries: int = 3


FULL = SnapshotSizes()
QUICK = SnapshotSizes(runs_count=50, points=1_000, tries=2)


def write_runs(path: str, runs: int, points: int) -> None:
    """``runs`` runs, each with a config and ``points`` points of ``loss``."""
    from streamvis.storage import ConfigUpdate, Points, Store

    rng = np.random.default_rng(0)
    x = np.arange(points, dtype=np.float64)
    with Store.open(path, mode="a", fsync=False) as st:
        batch: list[Any] = []
        for r in range(runs):
            scope = f"run{r:05d}"
            batch.append(ConfigUpdate(scope, {"lr": float(10 ** rng.uniform(-5, -1)), "seed": r}))
            y = np.exp(-x / (points / 5)) + 0.05 * rng.random(points) + r * 1e-3
            batch.append(Points(scope, "loss", 0, {"x": x, "y": y.astype(np.float32)}))
            if len(batch) >= 200:
                st.append(batch)
                batch = []
        if batch:
            st.append(batch)


def run(s: SnapshotSizes, wd: str, *, cli: bool = True) -> Table:
    """The table; ``cli``: time the CLI's whole run too (a subprocess per try)."""
    from benchmarks.web_bench import WebServe
    from streamvis.source import LocalSource
    from streamvis.web.page.snapshot import snapshot_html
    from streamvis.web.schema import Schema

    t = Table("page snapshot (issue 25, part 2)")
    sec = f"/?rows=loss, {s.runs_count:,} runs x {s.points:,} points, 1400x900"
    log = os.path.join(wd, "snap.svl")
    progress(f"writing {sec}")
    write_runs(log, s.runs_count, s.points)
    args = {"rows": ["loss"]}
    times, sizes = [], []
    out = os.path.join(wd, "snap.html")
    for k in range(s.tries):
        source = LocalSource.open(log)  # a cold source each time, as the CLI's
        try:
            t0 = time.perf_counter()
            html = snapshot_html(source, Schema(plots={}), args)
            times.append(time.perf_counter() - t0)
        finally:
            source.close()
        sizes.append(len(html.encode()) / 2**20)
        progress(f"snapshot {k + 1}/{s.tries}: {times[-1]:.2f} s, {sizes[-1]:.1f} MiB")
    with open(out, "w", encoding="utf-8") as f:
        f.write(html)
    cli_runs = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p)}
    for _ in range(s.tries if cli else 0):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "streamvis.cli", "snapshot", log, os.path.join(wd, "cli.html"),
                        "--page", "rows=loss"], check=True, env=env, capture_output=True, timeout=600)
        cli_runs.append(time.perf_counter() - t0)
    schema = os.path.join(wd, "loss.yaml")
    with open(schema, "w") as f:
        f.write("loss:\n  name_pattern: ^loss$\n  columns: [x, y]\n")
    srv = WebServe(log, schema, 1.0, "--budget", "1000000")  # the default, as the snapshot
    opened, live = [], []
    try:
        _open_both(s, out, srv.url, opened, live)
    finally:
        srv.stop()
    full = s.runs_count >= 1_000 and s.points >= 10_000
    t.add(sec, "snapshot_html", times, "s", goal="<= 5 s at full size",
          met=(float(np.median(times)) <= 5.0) if full else None)
    if cli_runs:
        t.add(sec, "streamvis snapshot (CLI, whole run)", cli_runs, "s", baseline="snapshot_html",
              note="interpreter start and imports included")
    t.add(sec, "file size", sizes, "MiB", goal="<= 20 MiB at full size",
          met=(float(np.median(sizes)) <= 20.0) if full else None, note="BokehJS inline: ~2 MiB")
    t.add(sec, "live page (web-serve, canvas): navigation to drawn", live, "s",
          note="baseline: the same view, same browser and load")
    t.add(sec, "opened offline: navigation to drawn", opened, "s", goal="<= 2 s",
          baseline="live page (web-serve, canvas): navigation to drawn",
          met=(float(np.median(opened)) <= 2.0) if full else None)
    return t


def _drawn(page: Any, runs: int, *, file: bool = False) -> None:
    """Every run's line in the document (and, in the file, shown: ``data-sv-drawn``),
    then two frames painted."""
    shown = " && document.documentElement.dataset.svDrawn === '1'" if file else ""
    page.wait_for_function(f"() => ({COUNT_JS})() === {runs}{shown}", timeout=120_000, polling="raf")
    page.evaluate(PAINTED_JS)


def _open_both(s: SnapshotSizes, out: str, url: str, opened: list[float], live: list[float]) -> None:
    """The file offline and the live page, in turn, ``s.tries`` times each."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(s.tries):
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                ctx.set_offline(True)
                ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto("file://" + out)
                _drawn(page, s.runs_count, file=True)
                opened.append(time.perf_counter() - t0)
                ctx.close()
                progress(f"opened offline: {opened[-1]:.2f} s")
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page.goto(url + "/?rows=loss&webgl=off")
                _drawn(page, s.runs_count)
                live.append(time.perf_counter() - t0)
                page.close()
                progress(f"live page: {live[-1]:.2f} s")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    return sized_main(argv, prog="python -m benchmarks.snapshot_bench", doc=__doc__, quick=QUICK, full=FULL,
                      run=run, prefix="streamvis-snapshot-bench-",
                      help={"runs_count": "runs in the log", "points": "points of loss per run"})


if __name__ == "__main__":
    sys.exit(main())
