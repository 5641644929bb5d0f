"""``python -m benchmarks.groups_bench [--quick] [--runs-count R] [--points P]``: a page of
groups of runs (issue 22, part 1) in Chromium over a real ``streamvis web-serve``.

Rows (medians of several tries):

* navigation to drawn: from ``page.goto('/?rows=loss&group=lr')`` until every group's
  line is in the page's document and a frame has been painted (goal <= 2 s at 1,000 runs
  x 10,000 points in 10 groups: the ungrouped page's budget);
* one poll, every run +10 points: the web server's CPU time (user + system, from
  ``/proc``) from the append until the page shows the new points in every group (goal
  <= 100 ms at full size); it includes the page's poll (a read of the new points into
  each run's arrays), the recomputation of the plot's groups (the source keeps the query
  current: it takes the new points from the poll's read and computes only the x they
  touch, so this cost follows the new points, not the runs' total) and sending the
  lines (every group's line, thinned to the plot's share of points, as binary arrays).

Full size: 1,000 runs x 10,000 points of ``loss`` in 10 groups (``lr``); ``--quick``:
100 runs x 1,000 points.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.table import Table, progress, sized_main
from benchmarks.web_bench import CHROMIUM, CHROMIUM_ARGS, MAIN_COUNT_JS, PAINTED_JS

__all__ = ["GroupSizes", "FULL", "QUICK", "run", "main"]

GROUPS = 10
# the largest x drawn in every group (-1 until there are ``n`` groups)
TOP_JS = """(n) => { try { const s = Bokeh.documents[0].get_model_by_name('group_lines:0');
  if (!s || s.data.xs.length !== n) return -1;
  return Math.min(...s.data.xs.map(x => x[x.length - 1])); } catch (e) { return -1; } }"""


@dataclass(frozen=True)
class GroupSizes:
    runs_count: int = 1_000
    points: int = 10_000
    tries: int = 3


FULL = GroupSizes()
QUICK = GroupSizes(runs_count=100, points=1_000, tries=3)


def _append(path: str, runs: int, start: int, count: int, *, configs: bool) -> None:
    from streamvis.storage import ConfigUpdate, Points, Store

    rng = np.random.default_rng(start)
    x = np.arange(start, start + count)
    with Store.open(path, mode="a", fsync=False) as st:
        batch: list[Any] = []
        for r in range(runs):
            scope = f"run{r:05d}"
            if configs:
                batch.append(ConfigUpdate(scope, {"lr": 10.0 ** -(1 + r % GROUPS), "seed": r // GROUPS}))
            y = np.exp(-x / 3000.0) + 0.01 * (r % GROUPS) + 0.05 * rng.random(count)
            batch.append(Points(scope, "loss", 0, {"x": x, "y": y.astype(np.float32)}))
            if len(batch) >= 200:
                st.append(batch)
                batch = []
        if batch:
            st.append(batch)


def _cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(s: GroupSizes, wd: str) -> Table:
    from playwright.sync_api import sync_playwright

    from benchmarks.web_bench import WebServe

    t = Table("groups of runs (issue 22, part 1)")
    sec = f"/?rows=loss&group=lr, {s.runs_count:,} runs x {s.points:,} points in {GROUPS} groups"
    log = os.path.join(wd, "groups.svl")
    progress(f"writing {sec}")
    _append(log, s.runs_count, 0, s.points, configs=True)
    schema = os.path.join(wd, "groups.yaml")
    Path(schema).write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    srv = WebServe(log, schema, 0.5)
    nav, poll_cpu, poll_wall, main_nav = [], [], [], []
    top = s.points - 1
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for k in range(s.tries):
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    t0 = time.perf_counter()
                    page.goto(srv.url + "/?rows=loss&group=lr")
                    page.wait_for_function(f"() => ({TOP_JS})({GROUPS}) === {top}", timeout=300_000,
                                           polling="raf")
                    page.evaluate(PAINTED_JS)
                    nav.append(time.perf_counter() - t0)
                    progress(f"navigation {k + 1}/{s.tries}: {nav[-1]:.2f} s")
                    page.close()
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    t0 = time.perf_counter()  # the baseline: the ungrouped page, same machine
                    page.goto(srv.url + "/?rows=loss")
                    page.wait_for_function(f"() => ({MAIN_COUNT_JS})() === {s.runs_count}",
                                           timeout=300_000, polling="raf")
                    page.evaluate(PAINTED_JS)
                    main_nav.append(time.perf_counter() - t0)
                    page.close()
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(srv.url + "/?rows=loss&group=lr")
                page.wait_for_function(f"() => ({TOP_JS})({GROUPS}) === {top}", timeout=300_000)
                for k in range(s.tries):
                    time.sleep(1.0)  # (idle: the page's periodic polls are not counted below)
                    c0, w0 = _cpu(srv.proc.pid), time.perf_counter()
                    _append(log, s.runs_count, top + 1, 10, configs=False)
                    top += 10
                    page.wait_for_function(f"() => ({TOP_JS})({GROUPS}) === {top}", timeout=120_000,
                                           polling="raf")
                    poll_cpu.append(_cpu(srv.proc.pid) - c0)
                    poll_wall.append(time.perf_counter() - w0)
                    progress(f"poll {k + 1}/{s.tries}: {poll_cpu[-1] * 1000:.0f} ms CPU")
                page.close()
            finally:
                browser.close()
    finally:
        srv.stop()
    full = s.runs_count >= 1_000 and s.points >= 10_000
    t.add(sec, "ungrouped page /?rows=loss, navigation to drawn", main_nav, "s",
          note="baseline: every run's line, same machine and load")
    t.add(sec, "navigation to drawn", nav, "s", goal="<= 2 s at 1,000 runs x 10,000 points",
          baseline="ungrouped page /?rows=loss, navigation to drawn",
          met=(float(np.median(nav)) <= 2.0) if full else None)
    t.add(sec, "one poll, every run +10 points: server CPU", poll_cpu, "s",
          goal="<= 100 ms at 1,000 runs", met=(float(np.median(poll_cpu)) <= 0.1) if full else None,
          note="the poll, the aggregate folding in the new points, the new lines")
    t.add(sec, "one poll, every run +10 points: append to drawn", poll_wall, "s",
          note="wall clock, includes the page's refresh interval (0.5 s)")
    return t


def main(argv: list[str] | None = None) -> int:
    return sized_main(argv, prog="python -m benchmarks.groups_bench", doc=__doc__, quick=QUICK, full=FULL,
                      run=run, prefix="streamvis-groups-bench-")


if __name__ == "__main__":
    sys.exit(main())
