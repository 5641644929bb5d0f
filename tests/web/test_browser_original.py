"""The original streamvis's demo.yaml in a real browser: its plots have no
name_pattern, so the page's names= (once per plot) decides what each one draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis.storage import Points

from .conftest import WebServer
from .helpers import glyphs, open_page

pytestmark = pytest.mark.browser

ORIGINAL = Path(__file__).resolve().parent / "data" / "original_demo.yaml"


def _items() -> list[Points]:
    x = np.arange(30, dtype=np.int32)
    items = [
        Points("run1", "top", i, {"x": x, "y": np.sin(x / 5 + i).astype(np.float32)})
        for i in range(3)
    ]
    for t in range(3):  # the original demo's filtered names: a column t per step
        pts = np.arange(10, dtype=np.float32)
        cols = {"x": pts, "y": pts * (t + 1), "t": np.full(10, t, np.int32)}
        items.append(Points("run1", "lines", 0, dict(cols)))
        items.append(Points("run1", "belief", 0, dict(cols)))
    return items


@pytest.fixture
def server(store, log_path):
    store.append(_items())
    ws = WebServer(log_path, ORIGINAL, refresh=0.3)
    yield ws
    ws.stop()


def test_names_per_plot_select_what_each_plot_of_the_original_schema_draws(server, page):
    url = (
        server.url + "/?rows=loss;filtered-lines,filtered-scatter"
        "&names=^top$&names=^lines$&names=^belief$"
    )
    open_page(page, url)
    want = {
        "plot:0|run1 · top · 0",
        "plot:0|run1 · top · 1",
        "plot:0|run1 · top · 2",
        "plot:1|run1 · lines · 0",
        "plot:2|run1 · belief · 0",
    }
    page.wait_for_function(
        "want => { const got = Object.keys((" + _GLYPH_KEYS_JS + ")());"
        " return want.every(k => got.includes(k)); }",
        arg=sorted(want),
        timeout=15000,
    )
    got = glyphs(page)
    assert set(got) == want
    assert all(got[k]["n"] == 30 for k in want if "top" in k)
    # filtered plots show the newest step's points: t == 2
    assert got["plot:1|run1 · lines · 0"]["n"] == 10
    assert got["plot:2|run1 · belief · 0"]["ymax"] == pytest.approx(27.0)


_GLYPH_KEYS_JS = """() => { const out = {};
  for (const i of [0, 1, 2]) {
    const f = Bokeh.documents[0].get_model_by_name('plot:' + i);
    if (f) for (const r of f.renderers) if (r.data_source.data.x.length > 0)
      out['plot:' + i + '|' + r.name] = 1;
  }
  return out; }"""
