"""Shared pieces of the browser tests: JS probes and test data."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamvis.storage import ConfigUpdate, Points

# every view on the page, depth first
VIEWS_JS = """
(() => {
  const out = [];
  const walk = (v) => { out.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  return out;
})()
"""

# {"plot:i|scope · name · index": {n, color, visible, ymax, xs, ys}}: every line (a row of
# the plot's multi_line source) or scatter group (the points sharing a label)
LINES_JS = """(plot) => { const out = {};
  try {
  const doc = Bokeh.documents[0];
  for (let i = 0; i < 64; i++) {
    if (plot !== undefined && plot !== null && i !== plot) continue;
    const fig = doc.get_model_by_name('plot:' + i);
    const src = doc.get_model_by_name('lines:' + i + ':source');
    if (!fig || !src) continue;
    const d = src.data;
    const vis = {};
    for (const r of fig.renderers) if (r.data_source === src) vis[r.name] = r.visible;
    const single = vis['lines:' + i];
    if (d.xs !== undefined) {
      for (let j = 0; j < d.xs.length; j++) {
        const n = d.n[j], label = d.label[j];
        const xs = Array.from(d.xs[j].slice(0, n)), ys = Array.from(d.ys[j].slice(0, n));
        out['plot:' + i + '|' + label] = {n, color: d.color[j], xs, ys,
          visible: single ?? vis[label] ?? true, ymax: n ? Math.max(...ys) : null};
      }
    } else {
      for (let j = 0; j < d.x.length; j++) {
        const k = 'plot:' + i + '|' + d.label[j];
        const g = out[k] ?? (out[k] = {n: 0, color: d.color[j], xs: [], ys: [],
                                        visible: single ?? true, ymax: null});
        g.n++; g.xs.push(d.x[j]); g.ys.push(d.y[j]);
        g.ymax = g.ymax === null ? d.y[j] : Math.max(g.ymax, d.y[j]);
      }
    }
  }
  } catch (e) { return null; }  // the document is being updated: ask again
  return out;
}"""
GLYPHS_JS = "() => (" + LINES_JS + ")(null)"

# true once the page holds exactly ``want`` points per line key (and no other line)
COUNTS_MATCH_JS = (
    "want => { const got = (" + LINES_JS + ")(null); if (got === null) return false;"
    " const ks = Object.keys(got); return ks.length === Object.keys(want).length &&"
    " Object.entries(want).every(([k, n]) => got[k] !== undefined && got[k].n === n); }"
)


def count_js(plot: int, label: str, n: int) -> str:
    """JS predicate: line ``label`` of plot ``plot`` holds exactly ``n`` points."""
    return (
        f"() => {{ const g = ({LINES_JS})({plot}); "
        f"return g !== null && g['plot:{plot}|' + {label!r}] !== undefined && "
        f"g['plot:{plot}|' + {label!r}].n === {n}; }}"
    )


def counts(page: Any) -> dict[str, int]:
    """Points per line key on the page."""
    got = page.evaluate(GLYPHS_JS) or {}
    return {k: g["n"] for k, g in got.items()}


# (plot name, x, y) -> the page coordinates of that data point on the plot, for the mouse
PLOT_POINT_JS = """([plot, x, y]) => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === plot);
  const f = pv.frame.bbox, r = pv.el.getBoundingClientRect();
  const xr = pv.model.x_range, yr = pv.model.y_range;
  return {x: r.x + f.left + (x - xr.start) / (xr.end - xr.start) * f.width,
          y: r.y + f.top + (1 - (y - yr.start) / (yr.end - yr.start)) * f.height}; }"""


# (plot name) -> the page box of the plot's legend once it is shown and laid out, else null
LEGEND_BOX_JS = """(plot) => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === plot);
  const legend = pv.model.right.find(a => a.items !== undefined);  // beside the data
  const lv = pv.renderer_views.get(legend) ?? pv.views?.find(legend);
  if (!legend.visible || !lv || !lv.bbox || !(lv.bbox.width > 0)) return null;
  const b = lv.bbox, r = pv.el.getBoundingClientRect();
  return {x: r.x + b.left, y: r.y + b.top, w: b.width, h: b.height}; }"""

# ([plot, xmax, ymax]) -> whether the plot's ranges have grown to show [0, xmax] x [0, ymax]
RANGES_COVER_JS = """([plot, xmax, ymax]) => {
  const p = Bokeh.documents[0].get_model_by_name(plot);
  const xr = p.x_range, yr = p.y_range;
  return xr.start <= 0 && xr.end >= xmax && yr.start <= 0 && yr.end >= ymax; }"""


def hover_at(page: Any, plot: str, x: float, y: float) -> None:
    """Move the mouse onto data point (x, y) of ``plot`` (from just below, so Bokeh sees
    a move onto it)."""
    at = page.evaluate(PLOT_POINT_JS, [plot, x, y])
    page.mouse.move(at["x"], at["y"] + 3)
    page.mouse.move(at["x"], at["y"])


READY_JS = "() => window.Bokeh !== undefined && Bokeh.documents.length > 0 && Object.keys(Bokeh.index).length > 0"


# the lines of ``keys`` only, with their points (a 1,000-line page holds a million: moving
# them all into Python took 20 s)
SOME_GLYPHS_JS = ("keys => { const g = (" + LINES_JS + ")(null); if (g === null) return null;"
                  " return Object.fromEntries(keys.filter(k => k in g).map(k => [k, g[k]])); }")


# every line without its points (colour, count, visibility, ymax)
COUNTS_ONLY_JS = ("() => { const g = (" + LINES_JS + ")(null); if (g === null) return null;"
                  " for (const v of Object.values(g)) { delete v.xs; delete v.ys; } return g; }")


def glyphs(page: Any, *, with_x: bool = False, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The page's lines, keyed 'plot:i|scope · name · index' (``only``: just these)."""
    out: dict[str, dict[str, Any]] | None = None
    for _ in range(50):  # None while the document is being updated
        if only is not None:
            out = page.evaluate(SOME_GLYPHS_JS, only)
        else:
            out = page.evaluate(GLYPHS_JS if with_x else COUNTS_ONLY_JS)
        if out is not None:
            break
        page.wait_for_timeout(50)
    assert out is not None, "the page's lines could not be read"
    if not with_x:
        for g in out.values():
            g.pop("xs", None)
            g.pop("ys", None)
    return out


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY_JS, timeout=15000)


def demo_items(scopes: list[str], steps: int = 50, start: int = 0, seed: int = 0) -> list[Any]:
    """Points like the demo logger's: loss(3 indices), lr, weights(4), cloud with t."""
    rng = np.random.default_rng(seed)
    x = np.arange(start, start + steps, dtype=np.float64)
    items: list[Any] = []
    for s in scopes:
        if start == 0:
            items.append(ConfigUpdate(s, {"lr": 1e-3, "seed": seed}))
        for i in range(3):
            items.append(
                Points(
                    s, "loss", i, {"x": x, "y": np.exp(-x / 40) * (i + 1) + rng.random(steps) * 0.1}
                )
            )
        items.append(Points(s, "lr", 0, {"x": x, "y": 1e-3 * (0.5 + np.cos(x / 30) ** 2)}))
        for i in range(4):
            items.append(Points(s, "weights", i, {"x": x, "y": np.sqrt(x + 1) * (i + 1)}))
        for t in range(start, start + steps, 10):
            items.append(
                Points(
                    s,
                    "cloud",
                    0,
                    {
                        "x": rng.standard_normal(20),
                        "y": rng.standard_normal(20),
                        "t": np.full(20, float(t)),
                    },
                )
            )
    return items
