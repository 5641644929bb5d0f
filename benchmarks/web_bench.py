"""Web app benchmarks: ``python -m benchmarks.web_bench [--quick] [--runs N] [--big N]``.

Prints medians of:
- time from ``Store.append`` to the point being in the browser's data source, at two
  refresh intervals (goal: under 1.5 refresh intervals);
- for a big line (default 10M points): the web server's resident memory after a page
  loaded it, the bytes the browser holds and received over the websocket, and the
  page's load time;
- zoom-to-redraw on that line: from a mouse-wheel zoom to the re-read detail being in
  the data source and painted (goal: under 300 ms).

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
BUDGET = 4000

LEN_JS = """name => { try { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;
  const j = d.label.indexOf(name); return j < 0 ? -1 : d.n[j]; } catch (e) { return -1; } }"""

BYTES_JS = """() => { let b = 0; for (const m of Bokeh.documents[0].all_models) {
  if (m.data !== undefined && m.data instanceof Map) for (const v of m.data.values())
    b += v.byteLength ?? v.length * 8;
  else if (m.data !== undefined && m.data.x !== undefined) for (const v of Object.values(m.data))
    b += v.byteLength ?? v.length * 8; } return b; }"""

FRAME_JS = """() => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === 'plot:0');
  const f = pv.frame.bbox, r = pv.el.getBoundingClientRect(), xr = pv.model.x_range;
  return {x: r.x + f.left, y: r.y + f.top, w: f.width, h: f.height, x0: xr.start, x1: xr.end}; }"""

# count data changes of plot 0's lines, and note when RangesUpdate and the wheel happen
WATCH_JS = """() => { const p = Bokeh.documents[0].get_model_by_name('plot:0');
  const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
  window.__gen = 0;
  const bump = () => { window.__gen++; window.__data = performance.now(); };
  s.patching.connect(bump); s.streaming.connect(bump); s.properties.data.change.connect(bump);
  const orig = p.trigger_event.bind(p);
  p.trigger_event = (e) => { if (e.event_name === 'rangesupdate') window.__ru = performance.now();
                             orig(e); };
  document.addEventListener('wheel', () => { window.__wheel = performance.now(); },
                            {capture: true}); }"""

# wheel -> RangesUpdate sent, -> new data in the source, -> next frame painted (ms)
PHASES_JS = """() => new Promise(res => requestAnimationFrame(() => requestAnimationFrame(() => {
  const t = performance.now();
  res([window.__ru - window.__wheel, window.__data - window.__ru, t - window.__data]); })))"""


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

    def __init__(self, log: str, schema: str, refresh: float, *extra: str) -> None:
        self.port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamvis.cli",
                "web-serve",
                f"127.0.0.1:{self.port}",
                log,
                schema,
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


def bench_big(browser: Any, tmp: str, n: int, runs: int, table: Table) -> None:
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
    srv = WebServe(log, schema, 1.0)
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
        page.evaluate(WATCH_JS)
        samples, phases = [], []
        for k in range(runs):
            b = page.evaluate(FRAME_JS)
            frac = 0.3 + 0.4 * ((k * 0.37) % 1.0)
            gen = page.evaluate("() => window.__gen")
            page.mouse.move(b["x"] + frac * b["w"], b["y"] + b["h"] / 2)
            t0 = time.perf_counter()
            page.mouse.wheel(0, -300 if k % 2 == 0 else 300)
            page.wait_for_function(f"() => window.__gen > {gen}", polling="raf", timeout=10000)
            phases.append(page.evaluate(PHASES_JS))  # waits two frames: painted
            samples.append(time.perf_counter() - t0)
            page.wait_for_timeout(200)
        med = float(np.median(samples))
        table.add(
            sec,
            "zoom -> re-read detail drawn",
            samples,
            "s",
            goal="< 300 ms",
            met=med < 0.3,
            note="until the second frame after the data arrived",
        )
        ph = np.array(phases) / 1000.0
        table.add(
            sec,
            "  wheel -> RangesUpdate sent (BokehJS LOD end)",
            list(ph[:, 0]),
            "s",
            note="lod_timeout 30 ms + software-WebGL paints",
        )
        table.add(
            sec,
            "  RangesUpdate -> detail in the source",
            list(ph[:, 1]),
            "s",
            note="5 ms debounce, read_range, websocket",
        )
        table.add(sec, "  data -> painted (2 frames)", list(ph[:, 2]), "s")
        page.close()
    finally:
        srv.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1M points, fewer runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--big", type=int, default=None, help="points in the big line")
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
            for refresh in (0.25, 1.0):
                progress(f"append-to-browser latency at refresh {refresh} s ({runs} runs)")
                bench_latency(browser, tmp, refresh, runs, table)
            bench_big(browser, tmp, n, runs, table)
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
