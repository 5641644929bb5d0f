"""A run is one colour on every plot of the page, in real Chromium (issue 21, part 3).

The colours are read from the page's Bokeh document: each plot's source rows (the
``color`` and ``dash`` columns its glyphs draw, checked to be the glyphs' fields) and
the runs panel's swatches.
"""

from __future__ import annotations

import bokeh.palettes as bp
import numpy as np
import pytest
import yaml

from streamvis.storage import ConfigUpdate, Points, Store

from .conftest import WebServer
from .helpers import open_page

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
RUNS = [f"r{k:02d}" for k in range(20)]
PANEL = "Bokeh.documents[0].get_model_by_name('runs:source')"

SCHEMA = {
    "loss": {"name_pattern": "^(loss|val_loss)$", "columns": ["x", "y"]},  # two names a run
    "lr": {"name_pattern": "^lr$", "columns": ["x", "y"]},
    "cloud": {"name_pattern": "^cloud$", "glyph_kind": "scatter", "columns": ["x", "y"]},
    # a schema's colour section decides its plot: a colour per name
    "pinned": {"name_pattern": "^lr$", "columns": ["x", "y"],
               "color": {"palette": "Category10_10", "formula": "name"}},
}

# {"plot:i|scope · name · index": {color, dash, fields}}: what each plot's glyphs draw;
# ``fields``: the glyphs' colour and dash specs (they must read the row's columns)
STYLES_JS = """() => { const doc = Bokeh.documents[0]; const out = {};
  try {
  for (let i = 0; i < 16; i++) {
    const fig = doc.get_model_by_name('plot:' + i);
    const src = doc.get_model_by_name('lines:' + i + ':source');
    if (!fig || !src) continue;
    const gs = fig.renderers.filter(r => r.data_source === src).map(r => r.glyph);
    const spec = (g, a) => g[a] === undefined ? '' : a + '=' + JSON.stringify(g[a]);
    const fields = [...new Set(gs.map(g => [spec(g, 'line_color'), spec(g, 'line_dash'), spec(g, 'fill_color')].join(' ')))];
    const d = src.data;
    for (let j = 0; j < d.label.length; j++) {
      out['plot:' + i + '|' + d.label[j]] = {color: d.color[j], dash: d.dash ? d.dash[j] : null, fields};
    }
  }
  } catch (e) { return null; }
  return out; }"""
SWATCHES_JS = (f"() => {{ const d = {PANEL}.data;"
               " return Object.fromEntries(d.scope.map((s, i) => [s, d.swatch[i]])); }")


def items(scopes: list[str], start: int = 0) -> list:
    out: list = []
    x = np.arange(start, start + 5, dtype=np.int64)
    for k, scope in enumerate(scopes):
        out.append(ConfigUpdate(scope, {"opt": "adam" if k % 2 == 0 else "sgd"}))
        for name in ("loss", "val_loss", "lr"):
            out.append(Points(scope, name, 0, {"x": x, "y": np.linspace(1, 0, 5) * (k + 1)}))
        out.append(Points(scope, "cloud", 0, {"x": np.arange(3.0), "y": np.ones(3) * k}))
    return out


@pytest.fixture
def server(tmp_path, log_path):
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump(SCHEMA))
    with Store.open(log_path, "a") as s:
        s.append(items(RUNS))
    ws = WebServer(log_path, schema, refresh=0.3)
    yield ws
    ws.stop()


def wait_styles(page, n_runs: int, plots: int) -> dict:
    """The page's line styles once ``plots`` plots show ``n_runs`` runs each (loss: two
    lines a run) and the panel lists them."""
    page.wait_for_function(
        f"() => {{ const s = ({STYLES_JS})(); if (s === null) return false;"
        f" const runs = new Set(Object.keys(s).map(k => k.split('|')[1].split(' · ')[0]));"
        f" return runs.size === {n_runs} && new Set(Object.keys(s).map(k => k.split('|')[0])).size === {plots}"
        f" && {PANEL} && {PANEL}.data.scope.length === {n_runs}; }}",
        timeout=WAIT_MS,
    )
    return page.evaluate(STYLES_JS)


def by_run(styles: dict, plot: int, name: str) -> dict[str, dict]:
    return {k.split("|")[1].split(" · ")[0]: v for k, v in styles.items()
            if k.startswith(f"plot:{plot}|") and k.split(" · ")[1] == name}


def test_a_run_has_one_colour_on_every_plot_and_in_its_swatch_and_20_runs_20_colours(server, page):
    open_page(page, server.url + "/?rows=loss,lr;cloud")
    styles = wait_styles(page, 20, 3)
    page.wait_for_function(f"() => Object.keys(({SWATCHES_JS})()).length === 20", timeout=WAIT_MS)
    swatches = page.evaluate(SWATCHES_JS)
    loss, val, lr, cloud = (by_run(styles, 0, "loss"), by_run(styles, 0, "val_loss"),
                            by_run(styles, 1, "lr"), by_run(styles, 2, "cloud"))
    for run in RUNS:
        colour = swatches[run]
        assert loss[run]["color"] == val[run]["color"] == lr[run]["color"] == cloud[run]["color"] == colour, run
        # its two names in one plot: the same hue, told apart by dash
        assert (loss[run]["dash"], val[run]["dash"]) == ("solid", "dashed"), run
    assert len({swatches[r] for r in RUNS}) == 20  # 20 runs, 20 colours
    # the glyphs draw those columns (not one colour of their own)
    lines = [f for v in (*loss.values(), *lr.values()) for f in v["fields"]]
    assert lines and all(f == 'line_color={"field":"color"} line_dash={"field":"dash"} ' for f in lines)
    points = [f for v in cloud.values() for f in v["fields"]]
    assert points and all('fill_color={"field":"color"}' in f for f in points)


def test_a_colour_never_changes_as_runs_appear_live_or_the_selection_changes(server, store, page):
    open_page(page, server.url + "/?rows=loss;lr")
    before = wait_styles(page, 20, 2)
    store.append(items(["late"], start=0))  # a run that starts while the page is open
    after = wait_styles(page, 21, 2)
    assert {k: v["color"] for k, v in after.items() if k in before} == {k: v["color"] for k, v in before.items()}
    late = by_run(after, 1, "lr")["late"]["color"]
    assert late not in {v["color"] for v in before.values()}  # the 21st colour is new
    page.wait_for_function(f"() => ({SWATCHES_JS})().late === {late!r}", timeout=WAIT_MS)
    # hide half the runs ("only these" after a search), then show all again
    page.get_by_placeholder("search runs").fill("r1")
    page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('runs:table').view.filter.indices.length === 10",
        timeout=WAIT_MS)
    page.get_by_role("button", name="only these").click()
    page.wait_for_function(f"() => {PANEL}.data.shown.filter(v => v).length === 10", timeout=WAIT_MS)
    page.get_by_role("button", name="show all").click()
    page.wait_for_function(f"() => {PANEL}.data.shown.every(v => v)", timeout=WAIT_MS)
    store.append(items(["later"], start=0))
    again = wait_styles(page, 22, 2)
    assert {k: v["color"] for k, v in again.items() if k in after} == {k: v["color"] for k, v in after.items()}
    assert page.evaluate(SWATCHES_JS)["r05"] == by_run(again, 0, "loss")["r05"]["color"]


def test_a_schema_color_section_and_color_by_still_decide(server, page):
    open_page(page, server.url + "/?rows=lr,pinned")
    styles = wait_styles(page, 20, 2)
    pinned = by_run(styles, 1, "lr")
    assert {v["color"] for v in pinned.values()} == {bp.Category10[10][0]}  # formula: name
    # the panel keeps the run colours the other plot draws
    swatches = page.evaluate(SWATCHES_JS)
    assert all(swatches[r] == v["color"] for r, v in by_run(styles, 0, "lr").items())
    # color_by: a value is one colour on every plot and in the panel
    open_page(page, server.url + "/?rows=loss,lr;cloud&color_by=opt")
    styles = wait_styles(page, 20, 3)
    page.wait_for_function(f"() => Object.keys(({SWATCHES_JS})()).length === 20", timeout=WAIT_MS)
    swatches = page.evaluate(SWATCHES_JS)
    colours = {(r, k.split("|")[0]): v["color"] for k, v in styles.items() for r in [k.split("|")[1].split(" · ")[0]]}
    adam = {c for (r, _), c in colours.items() if int(r[1:]) % 2 == 0}
    sgd = {c for (r, _), c in colours.items() if int(r[1:]) % 2 == 1}
    assert len(adam) == len(sgd) == 1 and adam != sgd
    assert all(swatches[r] == (adam if int(r[1:]) % 2 == 0 else sgd).copy().pop() for r in RUNS)


# (plot) -> {legend, frame}: the legend's box and the data frame's, in the plot's pixels
# (null until the legend is shown and laid out)
BOXES_JS = """(plot) => { const views = [];
  const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  const pv = views.find(v => v.model.name === plot);
  if (!pv) return null;
  const legend = [...pv.model.center, ...pv.model.right, ...pv.model.left, ...pv.model.above,
                  ...pv.model.below].find(a => a.items !== undefined);
  const lv = pv.renderer_views.get(legend) ?? pv.views?.find(legend);
  if (!legend.visible || !lv || !lv.bbox || !(lv.bbox.width > 0) || !legend.items.length) return null;
  const box = b => [b.left, b.top, b.right, b.bottom];
  return {legend: box(lv.bbox), frame: box(pv.frame.bbox), items: legend.items.length}; }"""


def test_the_legend_is_beside_the_data_and_off_past_ten_lines(server, page):
    open_page(page, server.url + "/?rows=lr,loss&scopes=^r0[0-3]$")
    boxes = page.wait_for_function(
        f"() => {{ const b = ({BOXES_JS})('plot:0'); return b && b.items === 4 && b; }}", timeout=WAIT_MS
    ).json_value()
    (ll, lt, lr, lb), (fl, ft, fr, fb) = boxes["legend"], boxes["frame"]
    assert ll >= fr or lr <= fl or lt >= fb or lb <= ft, boxes  # no overlap with the data
    # eight lines (four runs, two names) still have a legend; past ten they do not
    page.wait_for_function(f"() => {{ const b = ({BOXES_JS})('plot:1'); return b && b.items === 8; }}",
                           timeout=WAIT_MS)
    open_page(page, server.url + "/?rows=lr,loss")
    wait_styles(page, 20, 2)
    page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').right.filter(a => a.items !== undefined)"
        ".every(a => !a.visible)", timeout=WAIT_MS)
    assert page.evaluate(f"() => ({BOXES_JS})('plot:0')") is None
