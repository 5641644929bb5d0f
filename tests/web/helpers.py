"""Shared pieces of the browser tests: JS probes and test data."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamvis.storage import ConfigUpdate, Points

# every view on the page, depth first
VIEWS_JS = """
(() => {
  const out = [];
  const walk = (v) => { out.push(v); for (const c of (v.child_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  return out;
})()
"""

# {renderer name: {n, color, visible, shown}} for every glyph renderer
GLYPHS_JS = (
    "() => { const views = "
    + VIEWS_JS
    + """;
  const doc = Bokeh.documents[0];
  const out = {};
  for (const v of views) {
    if (!v.renderer_views) continue;
    for (const [r, rv] of v.renderer_views) {
      if (r.glyph === undefined || r.data_source === undefined) continue;
      const c = r.glyph.line_color ?? r.glyph.fill_color;
      out[v.model.name + "|" + r.name] = {
        n: r.data_source.data.x.length, color: c.value ?? c, visible: r.visible,
        shown: rv.all_indices ? (rv.all_indices.count ?? rv.all_indices.length) : null,
        ymax: Math.max(...r.data_source.data.y), xs: Array.from(r.data_source.data.x)};
    }
  }
  return out;
}"""
)

READY_JS = "() => window.Bokeh !== undefined && Bokeh.documents.length > 0 && Object.keys(Bokeh.index).length > 0"


def glyphs(page: Any, *, with_x: bool = False) -> dict[str, dict[str, Any]]:
    """The page's glyphs, keyed 'plot:i|scope · name · index'."""
    out: dict[str, dict[str, Any]] = page.evaluate(GLYPHS_JS)
    if not with_x:
        for g in out.values():
            g.pop("xs")
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
