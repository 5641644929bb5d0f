"""Sweep-scale web benchmarks: ``python -m benchmarks.web_sweep_bench [--quick] [--runs N]``.

Prints medians of, for one plot of N runs (a real ``streamvis web-serve`` subprocess
over a local log, Debian's headless Chromium):

- navigation to every run drawn (each run's line holds points and a frame was
  painted after), for 100 x 10,000, 1,000 x 10,000 and 10,000 x 1,000 points, with
  the canvas and the WebGL backends (``webgl=off`` / ``on``; what ``auto`` picks is
  reported: in CI's Chromium WebGL is software-rendered, so ``auto`` picks canvas);
- web-serve's resident memory with the 1,000-run page open, and with ten tabs of it;
- zoom on the 1,000-run plot: from RangesUpdate sent to the re-read lines painted;
- one poll with all 1,000 runs growing by 10 points: web-serve's CPU per poll;
- smoothing (EMA on the server over every point) of the 1,000-run plot: slider set to
  smoothed lines painted.

Goals (issue 10): <= 1 s, <= 2 s, <= 5 s; <= 400 / 500 MiB; <= 500 ms; <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.table import Table, progress
from benchmarks.web_bench import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FRAME_JS,
    PHASES_JS,
    WATCH_JS,
    WebServe,
    _rss,
)

__all__ = ["main"]

# every row of plot 0 holds points (the page is fully drawn once a frame follows)
DRAWN_JS = """n => { try { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  const ns = s.data.n; if (ns.length !== n) return false;
  for (const v of ns) if (!(v > 0)) return false; return true; } catch (e) { return false; } }"""
TOTAL_JS = """() => { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  let t = 0; for (const v of s.data.n) t += v; return t; }"""
FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
WEBGL_JS = """() => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  return views.filter(v => v.canvas_view).every(v => v.canvas_view.webgl != null); }"""
SMOOTHED_JS = """n => { try { const s = Bokeh.documents[0].get_model_by_name('smooth:0:source');
  return s.data.n.length === n && s.data.n.every(v => v > 0); } catch (e) { return false; } }"""
GROWN_JS = """([n, want]) => { try { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  const d = s.data; if (d.n.length !== n) return false;
  for (let j = 0; j < d.n.length; j++) if (d.xs[j][d.n[j] - 1] !== want) return false;
  return true; } catch (e) { return false; } }"""


def write_sweep(path: str, runs: int, steps: int, *, wall_time: bool = False) -> None:
    """``runs`` runs of one ``loss`` line of ``steps`` points (``wall_time``: stamped as
    the logger does, a point every millisecond)."""
    from streamvis.columns import WALL_TIME_COLUMN
    from streamvis.storage import Points, Store

    rng = np.random.default_rng(0)
    x = np.arange(steps, dtype=np.int64)
    t0 = time.time() - 3600
    with Store.open(path, "a", fsync=False) as s:
        batch = []
        for r in range(runs):
            y = (np.exp(-x / (steps / 3)) + 0.05 * rng.random(steps)).astype(np.float32)
            cols = {"x": x, "y": y}
            if wall_time:
                cols[WALL_TIME_COLUMN] = t0 + r + x * 1e-3
            batch.append(Points(f"run{r:05d}", "loss", 0, cols))
            if len(batch) == 100:
                s.append(batch)
                batch = []
        if batch:
            s.append(batch)


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _navigate(browser: Any, url: str, runs: int) -> tuple[float, Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN_JS, arg=runs, timeout=300_000, polling=20)
    page.evaluate(FRAMES_JS)
    return time.perf_counter() - t0, page


def bench_draw(browser: Any, tmp: str, runs: int, steps: int, reps: int, table: Table) -> None:
    log = os.path.join(tmp, f"sweep{runs}x{steps}.svl")
    schema = os.path.join(tmp, "sweep.yaml")
    Path(schema).write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    progress(f"writing {runs:,} runs x {steps:,} points")
    write_sweep(log, runs, steps)
    goal = {100: 1.0, 1000: 2.0, 10000: 5.0}.get(runs)
    sec = f"{runs:,} runs x {steps:,} points, one plot"
    srv = WebServe(log, schema, 1.0, "--budget", "1000000")
    try:
        _, warm = _navigate(browser, srv.url + "/?rows=loss&webgl=off", runs)  # fills the cache
        points = warm.evaluate(TOTAL_JS)
        auto = warm.evaluate(WEBGL_JS)
        warm.close()
        for backend in ("off", "on"):
            samples = []
            for _ in range(reps if backend == "off" else 1):  # software WebGL: minutes
                t, page = _navigate(browser, srv.url + f"/?rows=loss&webgl={backend}", runs)
                samples.append(t)
                page.close()
            med = float(np.median(samples))
            table.add(
                sec,
                f"navigation to every run drawn ({'canvas' if backend == 'off' else 'WebGL'})",
                samples,
                "s",
                goal=f"<= {goal:g} s" if goal and backend == "off" else "",
                met=(med <= goal) if goal and backend == "off" else None,
                note=f"{points:,} points in the browser" + ("" if backend == "off" else
                     "; software WebGL here"),
            )
        _, page = _navigate(browser, srv.url + "/?rows=loss", runs)
        table.add(sec, "webgl=auto picks", [0.0], "", note="WebGL" if page.evaluate(WEBGL_JS) else "canvas")
        page.close()
        del auto
        if runs >= 1000:
            bench_panel(browser, srv, runs, sec, table)
            bench_index(browser, tmp, runs, steps, reps, sec, table)
        if runs == 1000:
            bench_thousand(browser, srv, log, runs, steps, reps, sec, table)
    finally:
        srv.stop()


PANEL_ROWS_JS = """n => { try { return Bokeh.documents[0].get_model_by_name('runs:source')
  .data.scope.length === n; } catch (e) { return false; } }"""
ONLY_ONE_JS = """() => { try { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  const r = Bokeh.documents[0].get_model_by_name('plot:0').renderers.find(r => r.data_source === s);
  const f = r.view.filter; return f.booleans !== undefined && f.booleans.filter(b => b).length === 1;
  } catch (e) { return false; } }"""


ALL_SHOWN_JS = """() => { try { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  const r = Bokeh.documents[0].get_model_by_name('plot:0').renderers.find(r => r.data_source === s);
  const f = r.view.filter; return f.booleans === undefined || f.booleans.every(b => b);
  } catch (e) { return false; } }"""


def bench_panel(browser: Any, srv: WebServe, runs: int, sec: str, table: Table, reps: int = 5) -> None:
    """The runs panel: navigation to its table holding every run; then, on the drawn and
    idle page, ``reps`` times: a search typed, then "only these", to the plots redrawn
    with the one run left ("show all" and a cleared search between them)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    t0 = time.perf_counter()
    page.goto(srv.url + "/?rows=loss")
    page.wait_for_function(PANEL_ROWS_JS, arg=runs, timeout=300_000, polling=20)
    table.add(sec, "runs panel: navigation to every run listed", time.perf_counter() - t0, "s",
              goal="<= 2 s", met=time.perf_counter() - t0 <= 2)
    page.wait_for_function(DRAWN_JS, arg=runs, timeout=300_000, polling=20)
    search = page.get_by_placeholder("search runs")
    samples = []
    for k in range(reps):
        page.evaluate(FRAMES_JS)  # the first paint (or the last "show all") is done
        t0 = time.perf_counter()
        search.fill(f"run{(7 + runs // reps * k) % runs:05d}")  # a different run each time
        page.get_by_role("button", name="only these").click()
        page.wait_for_function(ONLY_ONE_JS, timeout=60_000, polling=10)
        page.evaluate(FRAMES_JS)
        samples.append(time.perf_counter() - t0)
        search.fill("")
        page.get_by_role("button", name="show all").click()
        page.wait_for_function(ALL_SHOWN_JS, timeout=60_000, polling=10)
    med = float(np.median(samples))
    table.add(sec, "runs panel: search + only these -> plots redrawn", samples, "s",
              goal="<= 300 ms", met=med <= 0.3, note="includes typing and the click; on an idle page")
    page.close()


INDEX_ROWS_JS = """n => { try { return Bokeh.documents[0].get_model_by_name('index:runs')
  .data.scope.length === n; } catch (e) { return false; } }"""
INDEX_TIMES_JS = """n => Bokeh.documents[0].get_model_by_name('index:runs')
  .data.updated.every(v => v !== '')"""


def bench_index(browser: Any, tmp: str, runs: int, steps: int, reps: int, sec: str, table: Table) -> None:
    """The index page of a sweep logged with wall times: navigation to its table holding
    every run, and to every run's last update read (in the server's worker)."""
    log = os.path.join(tmp, f"sweep{runs}x{steps}-timed.svl")
    schema = os.path.join(tmp, "sweep.yaml")
    write_sweep(log, runs, steps, wall_time=True)
    srv = WebServe(log, schema, 1.0)
    try:
        listed, filled = [], []
        for _ in range(reps):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(srv.url + "/index")
            page.wait_for_function(INDEX_ROWS_JS, arg=runs, timeout=300_000, polling=20)
            listed.append(time.perf_counter() - t0)
            page.wait_for_function(INDEX_TIMES_JS, arg=runs, timeout=300_000, polling=20)
            filled.append(time.perf_counter() - t0)
            page.close()
        table.add(sec, "index page: navigation to every run listed", listed, "s",
                  goal="<= 2 s", met=float(np.median(listed)) <= 2)
        table.add(sec, "index page: ... and every run's last update read", filled, "s",
                  note="points stamped with wall times, as the logger writes them")
    finally:
        srv.stop()


def bench_thousand(
    browser: Any, srv: WebServe, log: str, runs: int, steps: int, reps: int, sec: str, table: Table
) -> None:
    from streamvis.storage import Points, Store

    bench_tabs_and_zoom(browser, srv, runs, reps, sec, table)
    # live: every run grows by 10 points per poll; web-serve's CPU per poll. The tabs
    # closed before are destroyed ~5-7 s after closing: until then they poll too
    time.sleep(8)
    _, page = _navigate(browser, srv.url + "/?rows=loss", runs)  # the only tab open
    cpu, store = [], Store.open(log, "a", fsync=False)
    try:
        for k in range(reps):
            x = np.arange(steps + 10 * k, steps + 10 * (k + 1), dtype=np.int64)
            c0 = _cpu_s(srv.proc.pid)
            store.append([
                Points(f"run{r:05d}", "loss", 0, {"x": x, "y": np.ones(10, np.float32)})
                for r in range(runs)
            ])
            page.wait_for_function(GROWN_JS, arg=[runs, float(x[-1])], timeout=60000, polling=20)
            page.wait_for_timeout(1100)  # one more idle poll, so the CPU of this one is counted
            cpu.append(_cpu_s(srv.proc.pid) - c0)
        idle0 = _cpu_s(srv.proc.pid)
        page.wait_for_timeout(2100)
        idle = (_cpu_s(srv.proc.pid) - idle0) / 2
        per_poll = [c - idle * 1.1 for c in cpu]
        table.add(sec, "one poll, every run +10 points: server CPU", per_poll, "s",
                  goal="<= 100 ms", met=float(np.median(per_poll)) <= 0.1,
                  note=f"after {idle * 1000:.0f} ms/s idle CPU is subtracted")
        # smoothing: the slider to smoothed lines painted (the cost reported apart)
        t0 = time.perf_counter()
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('ema:0').value = 0.9; }")
        page.wait_for_function(SMOOTHED_JS, arg=runs, timeout=120000, polling=20)
        page.evaluate(FRAMES_JS)
        table.add(sec, "smoothing on: slider -> smoothed lines drawn", time.perf_counter() - t0, "s",
                  note="EMA over every point on the server, then decimated")
    finally:
        store.close()
        page.close()



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sweeps, fewer runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="e.g. 1000x10000,10000x1000 (runs x points)")
    args = parser.parse_args(argv)
    reps = args.runs or (2 if args.quick else 5)
    sizes = [(100, 2000), (1000, 2000)] if args.quick else [
        (100, 10_000), (1000, 10_000), (10_000, 1000)
    ]
    if args.sizes:
        sizes = [(int(a), int(b)) for a, b in (p.split("x") for p in args.sizes.split(","))]
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is absent: the web benchmarks need Debian's chromium", file=sys.stderr)
        sys.exit(1)
    from playwright.sync_api import sync_playwright

    table = Table("web app at sweep scale")
    tmp = tempfile.mkdtemp(prefix="streamvis-sweep-bench-")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for runs, steps in sizes:
                bench_draw(browser, tmp, runs, steps, reps, table)
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()




def bench_tabs_and_zoom(
    browser: Any, srv: WebServe, runs: int, reps: int, sec: str, table: Table
) -> None:
    """web-serve's memory with one tab and with ten; zoom on the plot."""
    t, page = _navigate(browser, srv.url + "/?rows=loss", runs)
    page.wait_for_timeout(1000)
    rss1, _ = _rss(srv.proc.pid)
    tabs = [_navigate(browser, srv.url + "/?rows=loss", runs)[1] for _ in range(9)]
    for p in tabs:
        p.wait_for_timeout(200)
    rss10, hwm = _rss(srv.proc.pid)
    table.add(sec, "web-serve RSS, the page open", rss1, "B", goal="<= 400 MiB",
              met=rss1 <= 400 << 20)
    table.add(sec, "web-serve RSS, ten tabs of it", rss10, "B", goal="<= 500 MiB",
              met=rss10 <= 500 << 20, note=f"peak {hwm / 2**20:.0f} MiB")
    for p in tabs:
        p.close()
    # zoom: RangesUpdate -> the re-read lines painted
    page.evaluate(WATCH_JS)
    samples, ranges = [], []
    for k in range(reps):
        b = page.evaluate(FRAME_JS)
        gen = page.evaluate("() => window.__gen")
        page.mouse.move(b["x"] + (0.3 + 0.4 * ((k * 0.37) % 1.0)) * b["w"], b["y"] + b["h"] / 2)
        t0 = time.perf_counter()
        page.mouse.wheel(0, -300 if k % 2 == 0 else 300)
        page.wait_for_function(f"() => window.__gen > {gen}", polling="raf", timeout=30000)
        ph = page.evaluate(PHASES_JS)
        samples.append((ph[1] + ph[2]) / 1000.0)
        ranges.append(time.perf_counter() - t0)
        page.wait_for_timeout(300)
    med = float(np.median(samples))
    table.add(sec, "zoom: RangesUpdate -> redrawn", samples, "s", goal="<= 500 ms",
              met=med <= 0.5, note=f"wheel -> redrawn {np.median(ranges) * 1000:.0f} ms")
    page.close()


if __name__ == "__main__":
    main()
