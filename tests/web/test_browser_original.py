"""The original streamvis's demo.yaml in a real browser: its plots have no
name_pattern, so the page's names= (once per plot) decides what each one draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis.storage import Points

from .conftest import WebServer
from .helpers import count_js, glyphs, open_page

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
    for key in sorted(want):  # every group arrives: 30 points, or 10 of the newest step
        plot, label = key.split("|")
        n = 30 if "top" in label else 10
        page.wait_for_function(count_js(int(plot[5:]), label, n), timeout=15000)
    got = glyphs(page)
    assert set(got) == want
    assert all(got[k]["n"] == 30 for k in want if "top" in k)
    # key_fun: sni over Turbo256: three clearly different colours, not three purples
    tops = [got[k]["color"] for k in sorted(want) if "top" in k]
    assert len(set(tops)) == 3, tops
    # filtered plots show the newest step's points: t == 2
    assert got["plot:1|run1 · lines · 0"]["n"] == 10
    assert got["plot:2|run1 · belief · 0"]["ymax"] == pytest.approx(27.0)


STYLE_JS = """() => { const out = {};
  for (const i of [0, 1, 2]) {
    const f = Bokeh.documents[0].get_model_by_name('plot:' + i);
    out[i] = {title: f.title.text.text ?? f.title.text, title_size: f.title.text_font_size,
              x: f.below.map(a => a.axis_label), y: f.left.map(a => a.axis_label),
              x_size: f.below.map(a => a.major_label_text_font_size),
              glyph: f.renderers.map(r => r.glyph.type)};
  }
  return out; }"""


def test_original_schema_draws_its_titles_axis_labels_and_radius_circles(server, page):
    url = (
        server.url + "/?rows=loss;filtered-lines,filtered-scatter"
        "&names=^top$&names=^lines$&names=^belief$"
    )
    open_page(page, url)
    page.wait_for_function(
        "() => [0, 1, 2].every(i => Bokeh.documents[0].get_model_by_name('plot:' + i)"
        ".renderers.length > 0)",
        timeout=15000,
    )
    got = page.evaluate(STYLE_JS)
    assert got["0"]["title"].startswith("Loss") and got["0"]["title_size"] == "24px"
    assert got["0"]["x"] == ["SGD Step"] and got["0"]["y"] == ["Nats"]
    assert got["0"]["x_size"] == ["24px"]
    assert got["1"]["title"].startswith("Lines") and got["1"]["x"] == ["Component 1"]
    assert got["2"]["title"].startswith("Belief State") and got["2"]["y"] == ["Component 2"]
    assert "Circle" in got["2"]["glyph"] and "Scatter" not in got["2"]["glyph"]  # radius
