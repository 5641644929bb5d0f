"""Web app benchmarks: ``python -m benchmarks.web_bench [--quick] [--runs N] [--big N]``.

Prints medians of:
- time from ``Store.append`` to the point being in the browser's data source, at two
  refresh intervals (goal: under 1.5 refresh intervals);
- for a big line (default 10M points): the web server's resident memory after a page
  loaded it, the bytes the browser holds and received over the websocket, and the
  page's load time;
- zoom-to-redraw on that line (issue 15's goal: <= 150 ms), wide zooms (windows of
  millions of points) and narrow ones (thousands) apart: from the wheel event to the
  frame after BokehJS painted the re-read detail, timed in the page with its phases;
  and as the driver sees it (playwright's wheel to two frames after the data arrived,
  the measure of the earlier reports).

The web server is a real ``streamvis web-serve`` subprocess on 127.0.0.1 reading a log
that this process appends to; the browser is Debian's headless Chromium (playwright).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.table import Table, progress

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# two frames after: what was drawn is on the screen
PAINTED_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
# lines in the page's first plot (-1 before it exists)
MAIN_COUNT_JS = """() => { try { const l = Bokeh.documents[0].get_model_by_name('lines:0:source');
  return l && l.data.xs ? l.data.xs.length : -1; } catch (e) { return -1; } }"""
BUDGET = 4000

LEN_JS = """name => { try { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;
  const j = d.label.indexOf(name); return j < 0 ? -1 : d.n[j]; } catch (e) { return -1; } }"""

BYTES_JS = """() => { const size = v => v == null ? 0 : v.byteLength !== undefined ? v.byteLength
    : Array.isArray(v) ? v.reduce((a, u) => a + (typeof u === 'object' ? size(u) : 8), 0) : 0;
  let b = 0; for (const m of Bokeh.documents[0].all_models) {
    if (m.data instanceof Map) for (const v of m.data.values()) b += size(v);
    else if (m.data !== undefined && m.data !== null && typeof m.data === 'object')
      for (const v of Object.values(m.data)) b += size(v); } return b; }"""

FRAME_JS = """() => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === 'plot:0');
  const f = pv.frame.bbox, r = pv.el.getBoundingClientRect(), xr = pv.model.x_range;
  return {x: r.x + f.left, y: r.y + f.top, w: f.width, h: f.height, x0: xr.start, x1: xr.end}; }"""

# Marks of plot 0's zoom path, in the page's clock (ms): the wheel event's own time stamp,
# its first listener running (Chromium's input delivery before it), RangesUpdate leaving, the new data in the source, the end of the first paint after it,
# and the next animation frame (the painted frame is on screen by then)
ZOOM_WATCH_JS = """() => { const doc = Bokeh.documents[0];
  const p = doc.get_model_by_name('plot:0'), s = doc.get_model_by_name('lines:0:source');
  window.__gen = 0; window.__z = {};
  const z = () => window.__z;
  const bump = () => { window.__gen++; if (z().data === undefined) z().data = performance.now(); };
  s.patching.connect(bump); s.streaming.connect(bump); s.properties.data.change.connect(bump);
  s.change.connect(bump);  // rows replaced or points appended in place (lines.py)
  const orig = p.trigger_event.bind(p);
  p.trigger_event = (e) => { if (e.event_name === 'rangesupdate' && z().ru === undefined)
                               z().ru = performance.now();
                             orig(e); };
  const views = []; const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === 'plot:0');
  const paint = pv._actual_paint.bind(pv);
  pv._actual_paint = () => { paint();
    if (z().data !== undefined && z().paint === undefined) { z().paint = performance.now();
      requestAnimationFrame(() => { z().frame = performance.now(); }); } };
  document.addEventListener('wheel', (e) => {
    window.__z = {wheel: e.timeStamp, handled: performance.now()}; }, {capture: true}); }"""

# the previous (outer) measure's end: two frames after the data arrived
TWO_FRAMES_JS = (
    """() => new Promise(res => requestAnimationFrame(() => requestAnimationFrame(() => res(0))))"""
)

# web_sweep_bench's zoom marks (RangesUpdate -> data -> two frames): its own measure
# count data changes of plot 0's lines, and note when RangesUpdate and the wheel happen
WATCH_JS = """() => { const p = Bokeh.documents[0].get_model_by_name('plot:0');
  const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  window.__gen = 0;
  const bump = () => { window.__gen++; window.__data = performance.now(); };
  s.patching.connect(bump); s.streaming.connect(bump); s.properties.data.change.connect(bump);
  s.change.connect(bump);  // rows replaced or points appended in place (lines.py)
  const orig = p.trigger_event.bind(p);
  p.trigger_event = (e) => { if (e.event_name === 'rangesupdate') window.__ru = performance.now();
                             orig(e); };
  document.addEventListener('wheel', () => { window.__wheel = performance.now(); },
                            {capture: true}); }"""

# wheel -> RangesUpdate sent, -> new data in the source, -> next frame painted (ms)
PHASES_JS = """() => new Promise(res => requestAnimationFrame(() => requestAnimationFrame(() => {
  const t = performance.now();
  res([window.__ru - window.__wheel, window.__data - window.__ru, t - window.__data]); })))"""


ZOOM_MARKS = ("wheel", "handled", "ru", "data", "paint", "frame")

# the floor of the wheel phase: a page with nothing but a wheel listener
BLANK_WHEEL_HTML = """<div style="width:1000px;height:700px"></div><script>window.__d = [];
document.addEventListener('wheel', (e) => { window.__d.push(performance.now() - e.timeStamp);
  e.preventDefault(); }, {passive: false, capture: true});</script>"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in bytes."""
    out = {"VmRSS:": 0, "VmHWM:": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0] + ":"
            if key in out:
                out[key] = int(line.split()[1]) * 1024
    return out["VmRSS:"], out["VmHWM:"]


class WebServe:
    """``streamvis web-serve`` as a subprocess."""

    def __init__(
        self, log: str, schema: str | None, refresh: float, *extra: str, module: str = "streamvis.cli"
    ) -> None:
        """``schema`` None: no schema (the page of every name)."""
        self.port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                *module.split(),
                "web-serve",
                f"127.0.0.1:{self.port}",
                log,
                *([schema] if schema is not None else []),
                "--refresh",
                str(refresh),
                "--budget",
                str(BUDGET),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        seen = []
        while True:  # the start-up lines end with the URL to open
            line = self.proc.stdout.readline()
            seen.append(line)
            if "open http://" in line:
                break
            if not line or len(seen) > 20:
                self.proc.kill()
                raise RuntimeError("web-serve did not start: " + "".join(seen))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "() => window.Bokeh !== undefined && Bokeh.documents.length > 0 &&"
        " Bokeh.documents[0].get_model_by_name('plot:0') !== null",
        timeout=30000,
    )


def bench_latency(browser: Any, tmp: str, refresh: float, runs: int, table: Table) -> None:
    from streamvis.storage import Points, Store

    log = os.path.join(tmp, f"lat{refresh}.svl")
    schema = os.path.join(tmp, "lat.yaml")
    Path(schema).write_text(yaml.safe_dump({"lr": {"name_pattern": "^lr$", "columns": ["x", "y"]}}))
    store = Store.open(log, mode="a")
    store.append([Points("run", "lr", 0, {"x": np.zeros(1), "y": np.zeros(1)})])
    srv = WebServe(log, schema, refresh)
    page = browser.new_page()
    samples = []
    try:
        _open(page, srv.url + "/?rows=lr")
        page.wait_for_function(f"() => ({LEN_JS})('run · lr · 0') === 1", timeout=30000)
        rng = np.random.default_rng(0)
        for k in range(runs):
            time.sleep(rng.uniform(0, refresh))  # appends land at random phases of the poll
            t0 = time.perf_counter()
            store.append([Points("run", "lr", 0, {"x": np.array([k + 1.0]), "y": np.ones(1)})])
            page.wait_for_function(
                f"() => ({LEN_JS})('run · lr · 0') === {k + 2}", polling="raf", timeout=30000
            )
            samples.append(time.perf_counter() - t0)
    finally:
        page.close()
        srv.stop()
        store.close()
    med = float(np.median(samples))
    table.add(
        "append -> browser data source",
        f"refresh {refresh:g} s",
        samples,
        "s",
        goal=f"< {1.5 * refresh:g} s (1.5 intervals)",
        met=med < 1.5 * refresh,
        note=f"{med / refresh:.2f} refresh intervals",
    )


def bench_big(
    browser: Any, tmp: str, n: int, runs: int, table: Table, serve_module: str = "streamvis.cli"
) -> None:
    """The big line: memory, bytes and zooms (``serve_module``: what runs web-serve)."""
    from streamvis.storage import Points, Store

    log = os.path.join(tmp, "big.svl")
    schema = os.path.join(tmp, "big.yaml")
    Path(schema).write_text(
        yaml.safe_dump({"big": {"name_pattern": "^big$", "columns": ["x", "y"]}})
    )
    progress(f"writing a {n:,}-point line")
    rng = np.random.default_rng(0)
    with Store.open(log, mode="a") as store:
        step = 2_000_000
        for a in range(0, n, step):
            m = min(step, n - a)
            y = rng.standard_normal(m).astype(np.float32)
            if a <= n // 2 < a + m:
                y[n // 2 - a] = 100.0
            store.append(
                [Points("run", "big", 0, {"x": np.arange(a, a + m, dtype=np.float64), "y": y})]
            )
    srv = WebServe(log, schema, 1.0, module=serve_module)
    sec = f"{n / 1e6:g}M-point line"
    try:
        rss0, _ = _rss(srv.proc.pid)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        received = [0]
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))
            ),
        )
        t0 = time.perf_counter()
        _open(page, srv.url + "/?rows=big")
        page.wait_for_function(f"() => ({LEN_JS})('run · big · 0') > 0", timeout=60000)
        load = time.perf_counter() - t0
        page.wait_for_timeout(500)
        rss1, hwm = _rss(srv.proc.pid)
        nbytes = page.evaluate(BYTES_JS)
        npts = page.evaluate(f"() => ({LEN_JS})('run · big · 0')")
        table.add(sec, "page load to first data", load, "s")
        table.add(
            sec,
            "web server RSS after load",
            rss1,
            "B",
            note=f"{(rss1 - rss0) / 2**20:.0f} MiB more than idle; peak {hwm / 2**20:.0f} MiB",
        )
        table.add(sec, "browser data (sources)", nbytes, "B", note=f"{npts} points of {n:,}")
        table.add(sec, "websocket bytes received", received[0], "B")
        page.evaluate(ZOOM_WATCH_JS)
        load_note = f"load average {os.getloadavg()[0]:.1f} before"
        wide = _zoom_series(page, runs, lambda k: 0.3 + 0.4 * ((k * 0.37) % 1.0))
        for _ in range(8):  # into a window of a few thousand of the 10M points (0.5x per wheel)
            _zoom(page, -300, 0.5)
        page.wait_for_timeout(300)
        narrow = _zoom_series(page, runs, lambda k: 0.5)
        load_note += f", {os.getloadavg()[0]:.1f} after"
        outer, marks, windows = wide
        med = float(np.median(outer))
        table.add(
            sec,
            "zoom -> re-read detail drawn (driver)",
            outer,
            "s",
            goal="<= 150 ms",
            met=med <= 0.15,
            note="wide zooms; playwright wheel to 2 frames after the data; " + load_note,
        )
        for label, (outer_k, marks_k, windows_k) in (("wide", wide), ("narrow", narrow)):
            _zoom_rows(table, sec, label, outer_k, marks_k, windows_k)
        table.add(
            sec,
            "  floor: wheel -> listener on a blank page",
            _blank_wheel(browser, runs),
            "s",
            note="Chromium's input delivery with nothing else on the page",
        )
        page.close()
    finally:
        srv.stop()


def _zoom(page: Any, dy: int, frac: float) -> tuple[float, dict[str, float], float]:
    """One wheel zoom at ``frac`` of the plot's width: (driver seconds, page marks,
    the new window's width in x units)."""
    b = page.evaluate(FRAME_JS)
    gen = page.evaluate("() => window.__gen")
    page.mouse.move(b["x"] + frac * b["w"], b["y"] + b["h"] / 2)
    t0 = time.perf_counter()
    page.mouse.wheel(0, dy)
    page.wait_for_function(f"() => window.__gen > {gen}", polling="raf", timeout=10000)
    page.evaluate(TWO_FRAMES_JS)  # two frames: painted (the measure of the earlier reports)
    outer = time.perf_counter() - t0
    page.wait_for_function("() => window.__z.frame !== undefined", timeout=10000)
    marks = page.evaluate("() => window.__z")
    after = page.evaluate(FRAME_JS)
    return outer, marks, after["x1"] - after["x0"]


def _blank_wheel(browser: Any, runs: int) -> list[float]:
    """Seconds from a wheel event's time stamp to its listener, on an empty page."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.set_content(BLANK_WHEEL_HTML)
        for _ in range(runs):
            page.mouse.move(500, 300)
            page.mouse.wheel(0, 300)
            page.wait_for_timeout(100)
        page.wait_for_function(f"() => window.__d.length >= {runs}", timeout=10000)
        return [d / 1000.0 for d in page.evaluate("() => window.__d")]
    finally:
        page.close()


def _zoom_series(
    page: Any, runs: int, where: Any
) -> tuple[list[float], list[dict[str, float]], list[float]]:
    """``runs`` zooms, in and out in turn, at ``where(k)`` of the width."""
    outer, marks, windows = [], [], []
    for k in range(runs):
        o, m, w = _zoom(page, -300 if k % 2 == 0 else 300, where(k))
        outer.append(o)
        marks.append(m)
        windows.append(w)
        page.wait_for_timeout(200)
    return outer, marks, windows


def _zoom_rows(
    table: Table,
    sec: str,
    label: str,
    outer: list[float],
    marks: list[dict[str, float]],
    windows: list[float],
) -> None:
    """The in-page wheel-to-redrawn time and its phases (page clock, seconds)."""
    m = np.array([[mk[k] for k in ZOOM_MARKS] for mk in marks]) / 1000.0
    total = list(m[:, -1] - m[:, 0])
    pts = f"windows of {np.median(windows):,.0f} points (median)"
    table.add(
        sec,
        f"{label} zoom: wheel -> redrawn (in page)",
        total,
        "s",
        goal="<= 150 ms",
        met=float(np.median(total)) <= 0.15,
        note=f"{pts}; to the frame after the paint; driver {np.median(outer) * 1e3:.0f} ms",
    )
    names = (
        "wheel -> its listener runs (Chromium input delivery)",
        "listener -> RangesUpdate sent (BokehJS LOD end)",
        "RangesUpdate -> data in the source",
        "data -> painted",
        "painted -> next frame",
    )
    notes = (
        "see the blank-page floor",
        "the first paint at the new range, or a lod_timeout later",
        "websocket both ways, read_ranges, building and sending the PATCH-DOC",
        "BokehJS waits for an animation frame, then paints",
        "",
    )
    for j, (name, note) in enumerate(zip(names, notes, strict=True)):
        table.add(sec, f"  {label}: {name}", list(m[:, j + 1] - m[:, j]), "s", note=note)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M points, fewer runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--big", type=int, default=None, help="points in the big line")
    parser.add_argument("--only-big", action="store_true", help="skip the latency runs")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 15)
    n = args.big or (1_000_000 if args.quick else 10_000_000)
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is absent: the web benchmarks need Debian's chromium", file=sys.stderr)
        sys.exit(1)
    from playwright.sync_api import sync_playwright

    table = Table("web app")
    tmp = tempfile.mkdtemp(prefix="streamvis-web-bench-")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for refresh in () if args.only_big else (0.25, 1.0):
                progress(f"append-to-browser latency at refresh {refresh} s ({runs} runs)")
                bench_latency(browser, tmp, refresh, runs, table)
            bench_big(browser, tmp, n, runs, table)
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
