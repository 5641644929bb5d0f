"""Layouts, pages and errors in a real browser."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points

from .conftest import ARTIFACTS, WebServer
from .helpers import VIEWS_JS, demo_items, glyphs, open_page

pytestmark = pytest.mark.browser

BOXES_JS = (
    "() => Object.fromEntries(("
    + VIEWS_JS
    + """).filter(v => v.model.name)
  .map(v => { const r = v.el.getBoundingClientRect();
              return [v.model.name, {x: r.x, y: r.y, w: r.width, h: r.height,
                      title: v.model.title ? (t => t?.text ?? t)(v.model.title.text) : null}]; }))"""
)


@pytest.fixture
def server(store, log_path, demo_schema):
    store.append(demo_items(["run1", "run2"], steps=60))
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    yield ws
    ws.stop()


def _check_boxes(page, expected, titles):
    """expected: per cell (left, top, width, height) as fractions of the plots' area:
    the window less the runs panel on its left."""
    boxes = page.evaluate(BOXES_JS)
    W, H = page.viewport_size["width"], page.viewport_size["height"]
    page_box, panel = boxes["page"], boxes["runs:panel"]
    assert page_box["x"] == pytest.approx(panel["x"] + panel["w"], abs=12)
    assert page_box["x"] + page_box["w"] == pytest.approx(W, abs=2)
    assert page_box["h"] == pytest.approx(H, abs=2)
    x0, W = page_box["x"], page_box["w"]
    for i, (left, top, w, h) in enumerate(expected):
        b = boxes[f"cell:{i}"]
        assert b["x"] - x0 == pytest.approx(left * W, abs=3), (i, b)
        assert b["y"] == pytest.approx(top * H, abs=3), (i, b)
        assert b["w"] == pytest.approx(w * W, abs=3), (i, b)
        assert b["h"] == pytest.approx(h * H, abs=3), (i, b)
        assert boxes[f"plot:{i}"]["title"] == titles[i]


TITLES = {
    "loss": "Training loss (3 indices)",
    "lr": "Learning rate",
    "weights": "Weight norms (one line per index)",
    "cloud": "Point cloud at a step",
}


def test_rows_layout(server, page):
    open_page(page, server.url + "/?rows=loss,lr;weights&width=1,2,1&height=1,2")
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('plot:2') !== null")
    _check_boxes(
        page,
        [(0, 0, 1 / 3, 1 / 3), (1 / 3, 0, 2 / 3, 1 / 3), (0, 1 / 3, 1, 2 / 3)],
        [TITLES["loss"], TITLES["lr"], TITLES["weights"]],
    )


def test_cols_layout(server, page):
    open_page(page, server.url + "/?cols=loss,lr;cloud&width=2,1&height=1,2,1")
    _check_boxes(
        page,
        [(0, 0, 2 / 3, 1 / 3), (0, 1 / 3, 2 / 3, 2 / 3), (2 / 3, 0, 1 / 3, 1)],
        [TITLES["loss"], TITLES["lr"], TITLES["cloud"]],
    )


def test_demo_layout_screenshots(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    for name, query in [
        ("rows", "rows=loss,lr;weights,cloud&width=1,2,1,1&height=1,2"),
        ("cols", "cols=loss,lr;weights,cloud&width=2,1&height=1,2,2,1&axes=lin,ylog,lin,lin"),
    ]:
        open_page(page, f"{server.url}/?{query}")
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('filter:3').disabled === false"
        )
        page.wait_for_timeout(300)  # let the WebGL canvas paint before the picture
        page.screenshot(path=str(ARTIFACTS / f"web_demo_{name}.png"))
    open_page(page, server.url + "/index")
    page.screenshot(path=str(ARTIFACTS / "web_index.png"), full_page=True)
    open_page(page, server.url + "/?rows=loss,nope&width=1")
    page.locator(".sv-page").wait_for()
    page.screenshot(path=str(ARTIFACTS / "web_bad_parameters.png"))


def test_webgl_on_is_the_active_backend(server, page):
    open_page(page, server.url + "/?rows=loss,lr;weights,cloud&webgl=on")
    page.wait_for_function(
        "() => Object.keys(Bokeh.documents[0].get_model_by_name('plot:3').renderers).length > 0"
    )
    webgl = page.evaluate(
        "() => (" + VIEWS_JS + ").filter(v => v.canvas_view).map(v => v.canvas_view.webgl != null)"
    )
    assert webgl == [True] * 4
    backends = page.evaluate(
        "() => (" + VIEWS_JS + ").filter(v => v.canvas_view).map(v => v.model.output_backend)"
    )
    assert backends == ["webgl"] * 4


def test_log_axes(server, page):
    open_page(page, server.url + "/?rows=loss,lr,weights,cloud&axes=lin,xlog,ylog,xylog")
    scales = page.evaluate("""() => [0,1,2,3].map(i => {
        const p = Bokeh.documents[0].get_model_by_name('plot:' + i);
        return [p.x_scale.type, p.y_scale.type]; })""")
    assert scales == [
        ["LinearScale", "LinearScale"],
        ["LogScale", "LinearScale"],
        ["LinearScale", "LogScale"],
        ["LogScale", "LogScale"],
    ]


@pytest.mark.parametrize(
    "query, words",
    [
        ("rows=loss,nope", ["unknown plot 'nope'", "loss, lr, weights, cloud"]),
        ("rows=loss,lr&width=1", ["'width=1'", "2 are needed"]),
        ("rows=loss&height=abc", ["'abc' is not a number"]),
        ("rows=loss&axes=log", ["'log' is not an axis mode", "lin, xlog, ylog, xylog"]),
        ("rows=loss&scopes=(run", ["scopes", "bad regex"]),
        ("rows=loss&cols=lr", ["exactly one of 'rows' and 'cols'"]),
        ("rows=loss,lr&names=a", ["once per plot"]),
        ("rows=loss&names=%5Bz-a%5D", ["bad regex", "[z-a]"]),
    ],
)
def test_bad_parameters_show_their_message(server, page, query, words):
    open_page(page, f"{server.url}/?{query}")
    text = page.locator(".sv-page").inner_text()
    assert "parameters are not valid" in text
    for w in words:
        assert w in text, (w, text)
    assert "Plots in this schema: loss, lr, weights, cloud" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("path", ["/index"])  # (/ is the page of every name: issue 21)
def test_index_lists_plots_scopes_configs_and_links(server, page, path):
    open_page(page, server.url + path)
    text = page.locator(".sv-page").inner_text()
    for w in ["loss", "lr", "weights", "cloud", "^loss$"]:
        assert w in text, w
    runs = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('index:runs').data"
    )
    assert runs["scope"] == ["run1", "run2"]
    assert runs["names"][0] == "loss, lr, weights, cloud"
    assert runs["cfg:seed"] == [0, 0] and runs["cfg:lr"] == [0.001, 0.001]
    assert "scopes=%5E%28%3F%3Arun2%29%24" in runs["open"][1]
    links = page.eval_on_selector_all("a", "as => as.map(a => a.href)")
    assert any("rows=loss,lr;weights,cloud" in u for u in links)
    # ticking runs builds a link to a page with exactly them
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('index:runs').selected.indices = [1]; }")
    page.locator(".sv-open-ticked").wait_for(timeout=10000)
    # a ready link opens a working page
    page.click("text=all plots")
    page.wait_for_function(
        "() => Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('plot:3') !== null"
    )
    page.wait_for_function(
        "() => Object.keys(Bokeh.documents[0].get_model_by_name('plot:0').renderers).length >= 6"
    )
    assert len(glyphs(page)) >= 6


INDEX_RUNS = "Bokeh.documents[0].get_model_by_name('index:runs').data"


def index_column(page, column: str) -> dict:
    """{run: its cell in ``column``} of the index page's runs table."""
    return page.evaluate(f"() => Object.fromEntries({INDEX_RUNS}.scope.map((s, i) => [s, {INDEX_RUNS}[{column!r}][i]]))")


def test_index_shows_each_runs_last_update_from_its_points_wall_times(store, log_path, demo_schema, page):
    t0 = time.mktime((2025, 6, 1, 12, 0, 0, 0, 0, -1))  # local time, as the page shows it
    store.append(demo_items(["bare"], steps=5))  # logged without wall times
    store.append([
        Points("timed", "loss", i, {"x": np.arange(5.0), "y": np.ones(5), "wall_time": t0 + i + np.arange(5.0)})
        for i in range(3)
    ])
    store.append([Points("timed", "lr", 0, {"x": np.arange(2.0), "y": np.ones(2), "wall_time": t0 + np.arange(2.0)})])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/index")
        page.wait_for_function(f"() => {INDEX_RUNS}.updated.some(v => v != null)", timeout=20_000)
        got = index_column(page, "updated")
        # the latest point of any of the run's groups (loss index 2's last: t0 + 2 + 4), in
        # epoch ms (the browser writes it in its zone: test_browser_local_time)
        assert got == {"bare": None, "timed": (t0 + 6) * 1000}
    finally:
        ws.stop()


def test_index_gives_a_sub_run_its_parents_config_and_finds_it(store, log_path, demo_schema, page):
    store.append([ConfigUpdate("p", {"opt": "adam"}), ConfigUpdate("q", {"opt": "sgd"})])
    store.append([Points(s, "loss", 0, {"x": np.arange(3.0), "y": np.ones(3)}) for s in ("p", "p/train", "q")])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/index")
        page.wait_for_function(f"() => {INDEX_RUNS}.scope.length === 3", timeout=20_000)
        got = index_column(page, "cfg:opt")
        assert got == {"p": "adam", "p/train": "adam", "q": "sgd"}
        page.get_by_placeholder("search runs").fill("opt=adam")
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('index:table').view.filter.indices.length === 2",
            timeout=20_000,
        )
    finally:
        ws.stop()
