"""How the page looks, in real Chromium (issue 21, part 5): a runs panel wide enough for
its config columns that the viewer can drag wider or narrower, and the index page in the
page's typographic scale."""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml

from streamvis.storage import ConfigUpdate, Points, Store

from .conftest import WebServer
from .helpers import hover_at, open_page

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
PANEL = "Bokeh.documents[0].get_model_by_name('runs:source')"

# (name) -> the page box of the first view of the model named ``name``
BOX_JS = """(name) => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const v = views.find(v => v.model.name === name);
  if (!v) return null;
  const r = v.el.getBoundingClientRect();
  return {x: r.x, y: r.y, w: r.width, h: r.height}; }"""


@pytest.fixture
def server(tmp_path, log_path):
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    with Store.open(log_path, "a") as s:
        for k in range(3):
            s.append([ConfigUpdate(f"run{k}", {"lr": 1e-3 * (k + 1), "opt": "adam", "batch": 32 * (k + 1)}),
                      Points(f"run{k}", "loss", 0, {"x": np.arange(5.0), "y": np.ones(5) * (k + 1)})])
    ws = WebServer(log_path, schema, refresh=0.3)
    yield ws
    ws.stop()


def test_the_runs_panel_shows_its_config_columns_and_drags_wider(server, page):
    page.set_viewport_size({"width": 1400, "height": 800})
    open_page(page, server.url + "/?rows=loss")
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    # every column of the table, the three config keys included, within the panel
    page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('runs:table').columns.length === 8", timeout=WAIT_MS)
    page.wait_for_function(
        "() => { const b = Bokeh.documents[0].get_model_by_name('runs:body');"
        " const t = Bokeh.documents[0].get_model_by_name('runs:table');"
        " return b.width >= t.columns.reduce((a, c) => a + c.width, 0); }", timeout=WAIT_MS)
    header = page.locator(".slick-header-column", has_text="batch")
    header.wait_for(timeout=WAIT_MS)
    body = page.evaluate(BOX_JS, "runs:body")
    hb = header.bounding_box()
    assert hb is not None and hb["x"] + hb["width"] <= body["x"] + body["w"] + 1  # not cut off
    plot = page.evaluate(BOX_JS, "plot:0")
    # the header's last button within the header, clear of the plots
    snap, head = page.evaluate(BOX_JS, "page:snapshot"), page.evaluate(BOX_JS, "page:header")
    assert snap["x"] + snap["w"] <= head["x"] + head["w"] + 1 and snap["x"] + snap["w"] <= plot["x"], (snap, head)
    # the corner handle drags the panel wider; the plots take what is left
    x, y = body["x"] + body["w"] - 3, body["y"] + body["h"] - 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y, steps=5)
    page.mouse.up()
    page.wait_for_function(f"() => ({BOX_JS})('runs:body').w >= {body['w'] + 100}", timeout=WAIT_MS)
    page.wait_for_function(f"() => ({BOX_JS})('plot:0').w <= {plot['w'] - 100}", timeout=WAIT_MS)
    after = page.evaluate(BOX_JS, "plot:0")
    assert after["x"] >= plot["x"] + 100  # beside the panel, not under it


def _style(locator) -> dict:
    """The computed type of the first element ``locator`` finds. A grid redrawing its rows
    (new data) can replace that element between finding and reading it, and a detached
    element has no computed style: read again (the locator finds the new one) until the
    style is there."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        locator.first.wait_for(timeout=WAIT_MS)
        got = locator.first.evaluate(
            "e => { const s = getComputedStyle(e); return {size: s.fontSize, family: s.fontFamily,"
            " border: s.borderLeftWidth, attached: e.isConnected}; }")
        if (got.pop("attached") and got["size"]) or time.monotonic() > deadline:
            return got


def test_the_index_page_is_styled_like_the_rest(server, page):
    open_page(page, server.url + "/index")
    title, section, text = _style(page.locator("h1")), _style(page.locator("h2")), _style(page.locator("p"))
    plots_cell = _style(page.locator("table.sv-plots td"))
    runs_cell = _style(page.locator(".slick-cell"))
    # one typographic scale: title 20, sections 16, text 14, tables 13 px
    assert (title["size"], section["size"], text["size"]) == ("20px", "16px", "14px")
    assert plots_cell["size"] == runs_cell["size"] == "13px"
    assert plots_cell["border"] == "0px"  # rules between rows, not a boxed debug table
    assert title["family"] == runs_cell["family"] and title["family"].startswith("system-ui")
    # the live page's runs panel is set in the same type
    open_page(page, server.url + "/?rows=loss")
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    panel_cell = _style(page.locator(".slick-cell"))
    assert (panel_cell["size"], panel_cell["family"]) == ("13px", title["family"])


# the scopes of the lines plot 0 draws now (its visible renderers' filtered rows)
SHOWN_SCOPES_JS = """(() => { const doc = Bokeh.documents[0], lines = doc.get_model_by_name('lines:0:source');
  const shown = new Set();
  for (const r of doc.get_model_by_name('plot:0').renderers) {
    if (r.data_source !== lines || !r.visible) continue;
    const f = r.view.filter;
    if (f.indices != null) f.indices.forEach(i => shown.add(lines.data.scope[i]));
    else if (f.booleans != null) f.booleans.forEach((b, i) => b && shown.add(lines.data.scope[i]));
    else lines.data.scope.forEach(s => shown.add(s));
  }
  return [...shown]; })()"""

HOVER_ROWS_JS = """() => { const box = document.getElementById('sv-hover-table');
  if (box === null || box.style.display === 'none') return null;
  return [...box.querySelectorAll('tr')].map(tr => [...tr.children].slice(1).map(td => td.textContent)); }"""


def test_the_hover_table_lists_every_shown_run_at_the_cursor_sorted_by_value(server, page):
    open_page(page, server.url + "/?rows=loss")
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    page.wait_for_function(
        "() => { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;"
        " return d.n.length === 3 && d.n.every(n => n === 5); }", timeout=WAIT_MS)
    hover_at(page, "plot:0", 2.4, 2.0)
    rows = page.wait_for_function(HOVER_ROWS_JS, timeout=WAIT_MS).json_value()
    assert rows == [["run2", "loss", "3"], ["run1", "loss", "2"], ["run0", "loss", "1"]]
    assert page.evaluate("() => document.getElementById('sv-hover-table').firstChild.textContent") == "x 2.4"
    # a run unticked in the panel leaves the table
    assert sorted(page.evaluate(SHOWN_SCOPES_JS)) == ["run0", "run1", "run2"]
    page.locator(".slick-row", has_text="run1").locator(".slick-cell").nth(1).click()
    page.wait_for_function(f"() => !{PANEL}.data.shown[{PANEL}.data.scope.indexOf('run1')]", timeout=WAIT_MS)
    # the plot hides the line once the server has answered the tick (the table is drawn
    # on a mouse move, so hovering before that would show the old rows)
    page.wait_for_function(SHOWN_SCOPES_JS + ".length === 2", timeout=WAIT_MS)
    assert sorted(page.evaluate(SHOWN_SCOPES_JS)) == ["run0", "run2"]
    hover_at(page, "plot:0", 3.0, 2.0)
    page.wait_for_function(f"() => {{ const r = ({HOVER_ROWS_JS})(); return r && r.length === 2; }}",
                           timeout=WAIT_MS)
    assert [r[0] for r in page.evaluate(HOVER_ROWS_JS)] == ["run2", "run0"]
    # the mouse leaves the plot: the table goes
    page.mouse.move(5, 5)
    page.wait_for_function(f"() => ({HOVER_ROWS_JS})() === null", timeout=WAIT_MS)


def test_pages_load_no_mathjax_and_draw_without_errors(server, page):
    """The pages load BokehJS, widgets, tables and WebGL, not MathJax (1.8 MB that no page
    uses: web/page/bundles.py), and draw with no script error and nothing fetched from
    elsewhere: the page of every name, a schema's plot, the index and /hparams."""
    scripts: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    drawn = {
        "/": "() => [...Bokeh.documents[0].all_models].some(m => (m.name ?? '').startsWith('card:'))",
        "/?rows=loss": f"() => {PANEL} && {PANEL}.data.scope.length === 3",
        "/index": "() => [...Bokeh.documents[0].all_models].some(m => m.name === 'index')",
        "/hparams?metric=loss.min": "() => [...Bokeh.documents[0].all_models].some(m => m.name === 'hparams:title')",
    }
    for path, ready in drawn.items():
        scripts.clear()
        open_page(page, server.url + path)
        page.wait_for_function(ready, timeout=WAIT_MS)
        names = [u.rsplit("/", 1)[-1].split("?")[0] for u in scripts]
        assert "bokeh.min.js" in names and "bokeh-widgets.min.js" in names, (path, names)
        assert not any("mathjax" in n for n in names), (path, names)
        assert all(u.startswith(server.url) for u in scripts), (path, scripts)
    assert errors == []
