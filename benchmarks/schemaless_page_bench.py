"""The page of every logged name (issue 21): ``python -m benchmarks.schemaless_page_bench
[--quick] [--size RxNxP] [--runs K]``.

Prints medians of, for R runs x N names x P points per line (a real ``streamvis
web-serve`` without a schema over a local log, Debian's headless Chromium at 1400 x 900,
the page ``/``):

- navigation to the first plot drawn (a card's plot holds points of all R runs);
- navigation to every plot in view drawn (every card in the window drawn, all R runs
  each, and a frame painted after);
- web-serve's resident memory with the page open (and its peak).

The first navigation (which decodes the groups into the read cache) is shown apart.
Default 50 x 20 x 2,000 (``--quick``: 20 x 8 x 1,000); the issue's size is
``--size 1000x20x10000`` (goals: <= 1 s / <= 3 s, <= 1 GiB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.table import Table, progress
from benchmarks.web_bench import CHROMIUM, CHROMIUM_ARGS, ROOT, _free_port, _rss

__all__ = ["main", "write_names"]

SECTIONS = ("train", "val", "sys", "")  # "": names without a '/' (the rest)
VIEWPORT = {"width": 1400, "height": 900}
# some plot holds every run with points
FIRST_JS = """n => { try { for (const m of Bokeh.documents[0].all_models) {
    const name = m.name;
    if (!name || !name.startsWith('lines:') || !name.endsWith(':source')) continue;
    const ns = m.data.n;
    if (ns && ns.length === n && ns.every(v => v > 0)) return true;
  } return false; } catch (e) { return false; } }"""
# every card in the window is drawn: each of its plots holds every run with points
IN_VIEW_JS = """n => { try {
  const doc = Bokeh.documents[0], views = [];
  const walk = (v, out) => { out.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c, out); return out; };
  for (const v of Object.values(Bokeh.index)) walk(v, views);
  const cards = views.filter(v => (v.model.name ?? '').startsWith('card:') && v.model.visible).filter(v => {
    const r = v.el.getBoundingClientRect(); return r.height > 0 && r.bottom > 0 && r.top < innerHeight; });
  if (!cards.length) return false;
  for (const c of cards) {
    const plots = walk(c, []).filter(v => (v.model.name ?? '').startsWith('plot:'));
    if (!plots.length) return false;
    for (const p of plots) {
      const s = doc.get_model_by_name('lines:' + p.model.name.slice(5) + ':source');
      if (!s || s.data.n.length !== n || !s.data.n.every(v => v > 0)) return false;
    }
  }
  return cards.length; } catch (e) { return false; } }"""
FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def write_names(path: str, runs: int, names: int, points: int) -> list[str]:
    """``runs`` runs of ``names`` lines of ``points`` points, the names spread over the
    sections (``train/m00``, ``val/m01``, ..., ``m03``); returns the names."""
    from streamvis.storage import Points, Store

    rng = np.random.default_rng(0)
    x = np.arange(points, dtype=np.int64)
    shape = np.exp(-x / max(1, points / 3)).astype(np.float32)
    labels = [f"{SECTIONS[k % 4]}/m{k:02d}" if SECTIONS[k % 4] else f"m{k:02d}" for k in range(names)]
    with Store.open(path, "a", fsync=False) as s:
        for r in range(runs):
            s.append([Points(f"run{r:05d}", n, 0, {"x": x, "y": shape + 0.05 * rng.random(points, np.float32)})
                      for n in labels])
    return labels


class Serve:
    """``streamvis web-serve`` without a schema, as a subprocess."""

    def __init__(self, log: str) -> None:
        self.port = _free_port()
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamvis.cli", "web-serve", f"127.0.0.1:{self.port}", log,
             "--refresh", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert self.proc.stdout is not None
        seen = []
        while True:  # the start-up lines end with the URL to open
            line = self.proc.stdout.readline()
            seen.append(line)
            if "open http://" in line:
                break
            if not line or len(seen) > 20:
                self.stop()
                raise RuntimeError("web-serve did not start: " + "".join(seen))
        self.url = f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _navigate(browser: Any, url: str, runs: int) -> tuple[float, float, int, Any]:
    """(seconds to the first plot drawn, to every plot in view drawn, cards in view, page)."""
    page = browser.new_page(viewport=VIEWPORT)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(FIRST_JS, arg=runs, timeout=600_000, polling=20)
    first = time.perf_counter() - t0
    handle = page.wait_for_function(IN_VIEW_JS, arg=runs, timeout=600_000, polling=20)
    page.evaluate(FRAMES_JS)
    return first, time.perf_counter() - t0, int(handle.json_value()), page


def bench(browser: Any, tmp: str, runs: int, names: int, points: int, reps: int, table: Table) -> None:
    log = os.path.join(tmp, f"names{runs}x{names}x{points}.svl")
    progress(f"writing {runs:,} runs x {names} names x {points:,} points")
    write_names(log, runs, names, points)
    sec = f"page of every name: {runs:,} runs x {names} names x {points:,} points"
    full = (runs, names, points) == (1000, 20, 10_000)
    srv = Serve(log)
    try:
        first, every, cards, page = _navigate(browser, srv.url, runs)  # fills the read cache
        page.close()
        table.add(sec, "first navigation (cold cache): every plot in view drawn", [every], "s",
                  note=f"first plot {first:.2f} s; {cards} cards in view")
        firsts, everys, rss = [], [], []
        for _ in range(reps):
            first, every, cards, page = _navigate(browser, srv.url, runs)
            firsts.append(first)
            everys.append(every)
            rss.append(_rss(srv.proc.pid)[0] / 2**20)
            page.close()
        table.add(sec, "navigation to the first plot drawn", firsts, "s",
                  goal="<= 1 s" if full else "", met=max(firsts) <= 1.0 if full else None)
        table.add(sec, "navigation to every plot in view drawn", everys, "s",
                  goal="<= 3 s" if full else "", note=f"{cards} cards in view",
                  met=max(everys) <= 3.0 if full else None)
        hwm = _rss(srv.proc.pid)[1] / 2**20
        table.add(sec, "web-serve RSS, page open", rss, "MiB", goal="<= 1024 MiB" if full else "",
                  note=f"peak {hwm:.0f} MiB", met=hwm <= 1024 if full else None)
    finally:
        srv.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 x 8 x 1,000, two navigations")
    parser.add_argument("--size", default=None, help="RUNSxNAMESxPOINTS, e.g. 1000x20x10000")
    parser.add_argument("--runs", type=int, default=None, help="navigations measured (default 3)")
    args = parser.parse_args(argv)
    reps = args.runs or (2 if args.quick else 3)
    size = (20, 8, 1000) if args.quick else (50, 20, 2000)
    if args.size:
        size = tuple(int(v) for v in args.size.lower().split("x"))  # type: ignore[assignment]
        if len(size) != 3 or min(size) < 1:
            parser.error(f"--size {args.size!r}: give RUNSxNAMESxPOINTS, e.g. 1000x20x10000")
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is absent: the web benchmarks need Debian's chromium", file=sys.stderr)
        sys.exit(1)
    from playwright.sync_api import sync_playwright

    table = Table("the page of every name (no schema)")
    tmp = tempfile.mkdtemp(prefix="streamvis-names-bench-")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            bench(browser, tmp, *size, reps=reps, table=table)
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()


if __name__ == "__main__":
    main()
