"""``python -m benchmarks.hparams_bench [--quick] [--runs-count R]``: the hyperparameter
page (issue 22, part 4) in Chromium over a real ``streamvis web-serve``.

Rows (medians of several tries):

* the plot page of the same runs (``/?rows=loss``), navigation to drawn: a baseline for
  the machine's speed and load;
* navigation to drawn: from ``page.goto('/hparams?metric=loss.min')`` until every run's
  polyline is in the page's document and a frame has been painted (goal <= 3 s at 10,000
  runs);
* axis filter to redrawn: from the mouse button's release after dragging a box on an
  axis until the first frame after the filtered state (faded runs, table, status) arrived,
  both on the page's clock
  (goal <= 300 ms at 10,000 runs); boxes alternate between two ranges so each drag
  changes the filter.

Full size: 10,000 runs x 100 points of ``loss`` with five config keys (a log-spaced
``lr``, ``wd``, ``depth``, ``opt``, ``seed``); ``--quick``: 300 runs x 50 points.
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

__all__ = ["HparamsSizes", "FULL", "QUICK", "run", "main"]

COUNT_JS = """() => { try { const l = Bokeh.documents[0].get_model_by_name('hparams:lines');
  return l ? l.data.scope.length : -1; } catch (e) { return -1; } }"""
# in-page clocks: the mouse button's release, and the first frame after the filtered state
# (the status line is the last change of the filter's one message) arrived
WATCH_JS = """() => { window.__hp = {up: null, drawn: null};
  document.addEventListener('mouseup', () => { window.__hp = {up: performance.now(), drawn: null}; },
                            {capture: true});
  const st = Bokeh.documents[0].get_model_by_name('hparams:status');
  st.property('text').change.connect(() => requestAnimationFrame(() => {
    if (window.__hp.up !== null) window.__hp.drawn = performance.now(); })); }"""
DRAWN_AFTER_UP_JS = "() => window.__hp.drawn !== null ? window.__hp.drawn - window.__hp.up : null"
XY_JS = """([x, y]) => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === 'hparams:coords');
  const f = pv.frame.bbox, r = pv.el.getBoundingClientRect();
  const xr = pv.model.x_range, yr = pv.model.y_range;
  return {x: r.x + f.left + (x - xr.start) / (xr.end - xr.start) * f.width,
          y: r.y + f.top + (1 - (y - yr.start) / (yr.end - yr.start)) * f.height}; }"""


@dataclass(frozen=True)
class HparamsSizes:
    runs_count: int = 10_000
    points: int = 100
    tries: int = 5


FULL = HparamsSizes()
QUICK = HparamsSizes(runs_count=300, points=50, tries=3)


def write_sweep(path: str, runs: int, points: int) -> None:
    """``runs`` runs, each with a config and ``points`` points of ``loss``."""
    from streamvis.storage import ConfigUpdate, Points, Store

    rng = np.random.default_rng(0)
    x = np.arange(points)
    with Store.open(path, mode="a", fsync=False) as st:
        batch: list[Any] = []
        for r in range(runs):
            scope = f"run{r:05d}"
            lr = float(10 ** rng.uniform(-5, -1))
            batch.append(ConfigUpdate(scope, {"lr": lr, "wd": float(rng.choice([0.0, 1e-4, 1e-2])),
                                              "depth": int(r % 6), "opt": ["adam", "sgd", "lion"][r % 3],
                                              "seed": r}))
            y = (np.exp(-x / 30.0) + abs(np.log10(lr) + 3) * 0.1 + 0.05 * rng.random(points))
            batch.append(Points(scope, "loss", 0, {"x": x, "y": y.astype(np.float32)}))
            if len(batch) >= 2_000:
                st.append(batch)
                batch = []
        if batch:
            st.append(batch)


def _drag(page: Any, axis: int, y0: float, y1: float) -> None:
    a = page.evaluate(XY_JS, [axis - 0.07, y0])
    b = page.evaluate(XY_JS, [axis + 0.07, y1])
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=4)
    page.mouse.up()


def _filter_drawn(page: Any, lo: float, hi: float, tries: int = 3) -> float:
    """Drag a box on the lr axis; seconds from the button's release to the filtered
    runs drawn. A drag whose filter never arrives (on a loaded machine the page can still
    be settling when the axis's place is read) is made again, from a fresh reading of it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        page.evaluate(PAINTED_JS)
        _drag(page, 1, lo, hi)  # axes: depth, lr, opt, seed, wd, loss.min
        try:
            ms = page.wait_for_function(DRAWN_AFTER_UP_JS, timeout=30_000, polling="raf").json_value()
            return float(ms) / 1000
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            progress(f"the filter of drag {attempt + 1} was not drawn: dragging again")
    raise AssertionError("unreachable")


def run(s: HparamsSizes, wd: str) -> Table:
    from playwright.sync_api import sync_playwright

    from benchmarks.web_bench import WebServe

    t = Table("hyperparameter page (issue 22, part 4)")
    sec = f"/hparams, {s.runs_count:,} runs x {s.points} points, 5 config keys"
    log = os.path.join(wd, "hparams.svl")
    progress(f"writing {sec}")
    write_sweep(log, s.runs_count, s.points)
    schema = os.path.join(wd, "hparams.yaml")
    Path(schema).write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    srv = WebServe(log, schema, 1.0)
    nav, filt, main_nav = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for k in range(s.tries):
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    t0 = time.perf_counter()
                    page.goto(srv.url + "/hparams?metric=loss.min")
                    page.wait_for_function(f"() => ({COUNT_JS})() === {s.runs_count}", timeout=120_000,
                                           polling="raf")
                    page.evaluate(PAINTED_JS)
                    nav.append(time.perf_counter() - t0)
                    progress(f"navigation {k + 1}/{s.tries}: {nav[-1]:.2f} s")
                    if k == 0:  # the filter, on one warm page
                        page.evaluate(WATCH_JS)
                        for j in range(2 * s.tries):
                            lo, hi = ((0.2, 0.6), (0.4, 0.9))[j % 2]
                            filt.append(_filter_drawn(page, lo, hi))
                    page.close()
                    # the baseline: the plot page of the same runs, on the same machine
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    t0 = time.perf_counter()
                    page.goto(srv.url + "/?rows=loss")
                    page.wait_for_function(f"() => ({MAIN_COUNT_JS})() === {s.runs_count}",
                                           timeout=120_000, polling="raf")
                    page.evaluate(PAINTED_JS)
                    main_nav.append(time.perf_counter() - t0)
                    page.close()
            finally:
                browser.close()
    finally:
        srv.stop()
    big = s.runs_count >= 10_000
    t.add(sec, "plot page /?rows=loss, navigation to drawn", main_nav, "s",
          note="baseline: every run's line, same machine and load")
    t.add(sec, "navigation to drawn", nav, "s", goal="<= 3 s at 10,000 runs",
          baseline="plot page /?rows=loss, navigation to drawn",
          met=(float(np.median(nav)) <= 3.0) if big else None)
    t.add(sec, "axis filter to redrawn", filt, "s", goal="<= 300 ms at 10,000 runs",
          met=(float(np.median(filt)) <= 0.3) if big else None)
    return t


def main(argv: list[str] | None = None) -> int:
    return sized_main(argv, prog="python -m benchmarks.hparams_bench", doc=__doc__, quick=QUICK, full=FULL,
                      run=run, prefix="streamvis-hparams-bench-",
                      help={"runs_count": "runs in the sweep", "points": "points of loss per run"})


if __name__ == "__main__":
    sys.exit(main())
