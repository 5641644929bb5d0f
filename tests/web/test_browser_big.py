"""A big line with one spike: loads within the budget, shows the spike, zoom re-reads."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import yaml

from streamvis.storage import Points

from .conftest import ARTIFACTS, WebServer
from .helpers import LINES_JS, open_page

pytestmark = pytest.mark.browser

BIG_N = int(os.environ.get("STREAMVIS_WEB_BIG_N", 10_000_000))
BUDGET = 4000
SPIKE_AT = BIG_N * 7 // 10 + 3

DATA_JS = """() => { const g = (""" + LINES_JS + """)(0);
  const r = g && g['plot:0|run · big · 0'];
  if (!r) return null;
  const x = r.xs, y = r.ys;
  const xr = Bokeh.documents[0].get_model_by_name('plot:0').x_range;
  let inside = 0; for (const v of x) if (v >= xr.start && v <= xr.end) inside++;
  return {n: x.length, ymax: Math.max(...y), ymin: Math.min(...y), last: x[x.length - 1],
          x0: xr.start, x1: xr.end, inside,
          xs: Array.from(x.filter(v => v >= xr.start && v <= xr.end))}; }"""


@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    from streamvis.storage import Store

    d = tmp_path_factory.mktemp("big")
    schema = d / "big.yaml"
    schema.write_text(yaml.safe_dump({"big": {"name_pattern": "^big$", "columns": ["x", "y"]}}))
    path = str(d / "big.log")
    rng = np.random.default_rng(0)
    y = rng.standard_normal(BIG_N).astype(np.float32)
    y[SPIKE_AT] = 100.0
    with Store.open(path, mode="a") as store:
        step = 2_000_000
        for a in range(0, BIG_N, step):
            x = np.arange(a, min(a + step, BIG_N), dtype=np.float64)
            store.append([Points("run", "big", 0, {"x": x, "y": y[a : a + len(x)]})])
    ws = WebServer(path, schema, refresh=0.5, budget=BUDGET)
    yield ws
    ws.stop()


def test_big_line_within_budget_spike_visible_zoom_refetches(big_server, page):
    t0 = time.monotonic()
    open_page(page, big_server.url + "/?rows=big")
    page.wait_for_function(
        f"() => {{ const d = ({DATA_JS})(); return d !== null && d.n > 0; }}", timeout=30000
    )
    load_s = time.monotonic() - t0
    d = page.evaluate(DATA_JS)
    assert d["n"] <= BUDGET
    assert d["ymax"] == 100.0  # the one spike survives decimation at full zoom-out
    assert load_s < 20
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "web_big_line_full.png"))
    # zoom in with the mouse wheel, centred on the spike
    wheel_at_spike(page, 3)
    page.wait_for_function(
        f"() => {{ const d = ({DATA_JS})(); return d.x1 - d.x0 < {BIG_N / 20} && d.inside > 1000; }}",
        timeout=10000,
    )
    z = page.evaluate(DATA_JS)
    assert z["n"] <= 2 * BUDGET  # overview outside the window + at most the budget inside
    assert z["x0"] <= SPIKE_AT <= z["x1"] and z["ymax"] == 100.0
    # closer still: fewer points in the window than the line's cap (at least 2 x 500 px,
    # the plot is wider), so every one is there
    for _ in range(14):
        b = page.evaluate(FRAME_JS)
        if b["x1"] - b["x0"] < 700:
            break
        wheel_at_spike(page, 1)
    page.wait_for_function(
        f"""() => {{ const d = ({DATA_JS})(); const want = Math.floor(d.x1) - Math.ceil(d.x0) + 1;
        return d.x1 - d.x0 < 1000 && d.inside === want; }}""",
        timeout=10000,
    )
    z = page.evaluate(DATA_JS)
    page.screenshot(path=str(ARTIFACTS / "web_big_line_zoomed.png"))
    assert z["xs"] == list(np.arange(np.ceil(z["x0"]), np.floor(z["x1"]) + 1))
    assert z["x0"] <= SPIKE_AT <= z["x1"] and z["ymax"] == 100.0


FRAME_JS = """() => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === 'plot:0');
  const f = pv.frame.bbox, r = pv.el.getBoundingClientRect(), xr = pv.model.x_range;
  return {x: r.x + f.left, y: r.y + f.top, w: f.width, h: f.height, x0: xr.start, x1: xr.end}; }"""


def wheel_at_spike(page, steps: int) -> None:
    """Turn the mouse wheel ``steps`` times with the pointer over the spike's x."""
    b = page.evaluate(FRAME_JS)
    mx = b["x"] + (SPIKE_AT - b["x0"]) / (b["x1"] - b["x0"]) * b["w"]
    page.mouse.move(mx, b["y"] + b["h"] / 2)
    for _ in range(steps):
        page.mouse.wheel(0, -400)
        page.wait_for_timeout(20)


def test_a_line_crossing_the_budget_live_switches_to_decimated(store, log_path, tmp_path, page):
    schema = tmp_path / "grow.yaml"
    schema.write_text(yaml.safe_dump({"big": {"name_pattern": "^big$", "columns": ["x", "y"]}}))
    store.append([Points("run", "big", 0, {"x": np.arange(500.0), "y": np.zeros(500)})])
    ws = WebServer(log_path, schema, refresh=0.3, budget=1000)
    try:
        open_page(page, ws.url + "/?rows=big")
        page.wait_for_function(
            f"() => {{ const d = ({DATA_JS})(); return d !== null && d.n === 500; }}", timeout=10000
        )
        # live growth past the budget: decimated, spike kept, newest x shown
        y = np.zeros(20_000)
        y[12_345] = -50.0
        store.append([Points("run", "big", 0, {"x": np.arange(500.0, 20_500.0), "y": y})])
        page.wait_for_function(
            f"() => {{ const d = ({DATA_JS})(); return d !== null && d.n <= 1000 &&"
            " d.xs.length > 0 && Math.max(...d.xs) === 20499 && d.ymin === -50; }",
            timeout=10000,
        )
        # and keeps following as it grows
        store.append(
            [Points("run", "big", 0, {"x": np.arange(20_500.0, 30_000.0), "y": np.ones(9500)})]
        )
        page.wait_for_function(
            f"() => {{ const d = ({DATA_JS})(); return d !== null && d.n <= 1000 &&"
            " d.last === 29999; }",
            timeout=10000,
        )
    finally:
        ws.stop()
