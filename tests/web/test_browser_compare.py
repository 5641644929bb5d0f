"""Comparing runs in real Chromium: where= selects by config, color_by= colours by value,
x=wall|relative draw against wall time, and bad input names what is wrong."""

from __future__ import annotations

from contextlib import contextmanager

import bokeh.palettes as bp
import numpy as np
import pytest
import yaml

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.web.plots.color_by import MISSING_COLOR

from .conftest import WebServer
from .helpers import LEGEND_BOX_JS, LINES_JS, glyphs, open_page

pytestmark = pytest.mark.browser
WAIT_MS = 20_000

CONFIGS = {
    "r0": {"lr": 1e-4, "opt": "adam", "net": {"width": 64}},
    "r1": {"lr": 3e-4, "opt": "sgd", "net": {"width": 128}},
    "r2": {"lr": 1e-3, "opt": "adam", "net": {"width": 128}},
    "r3": {"lr": 3e-3, "opt": "adamw"},
    "r4": {"opt": "adam"},  # no lr
    "p": {"lr": 2e-4, "opt": "adam"},
}


@pytest.fixture
def server(tmp_path, log_path):
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    t0 = 1_767_225_600.0  # 2026-01-01
    with Store.open(log_path, "a") as s:
        for k, (scope, cfg) in enumerate(CONFIGS.items()):
            s.append([ConfigUpdate(scope, cfg)])
            wall = t0 + 3600 * k + np.arange(20) * 0.5
            s.append([Points(scope, "loss", 0, {
                "x": np.arange(20, dtype=np.int64),
                "y": np.linspace(1, 0, 20, dtype=np.float32) * (k + 1),
                WALL_TIME_COLUMN: wall,
            })])
        # a TensorBoard-style sub-run without a config of its own: uses p's
        s.append([Points("p/train", "loss", 0, {
            "x": np.arange(5, dtype=np.int64), "y": np.ones(5, np.float32),
            WALL_TIME_COLUMN: t0 + np.arange(5.0),
        })])
    ws = WebServer(log_path, schema, refresh=0.3)
    yield ws
    ws.stop()


@contextmanager
def loss_server(tmp_path, scopes, configs=None):
    """A server of one ``loss`` plot over runs of three flat points each (``configs``:
    some runs' configs)."""
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    log = str(tmp_path / "runs.svl")
    items = []
    for scope in scopes:
        if configs and scope in configs:
            items.append(ConfigUpdate(scope, configs[scope]))
        items.append(Points(scope, "loss", 0, {"x": np.arange(3.0), "y": np.ones(3)}))
    with Store.open(log, "a") as s:
        s.append(items)
    ws = WebServer(log, schema, refresh=0.3)
    try:
        yield ws
    finally:
        ws.stop()


def scopes_shown(page) -> set[str]:
    page.wait_for_function(f"() => ({LINES_JS})(0) !== null", timeout=WAIT_MS)
    return {k.split("|")[1].split(" · ")[0] for k in glyphs(page)}


def wait_lines(page, n: int) -> None:
    page.wait_for_function(
        f"() => {{ const g = ({LINES_JS})(0); return g && Object.keys(g).length === {n}"
        " && Object.values(g).every(l => l.n > 0); }",
        timeout=WAIT_MS,
    )


@pytest.mark.parametrize(
    "where, want",
    [
        ("lr<5e-4", {"r0", "r1", "p", "p/train"}),
        ("lr<5e-4,opt=adam", {"r0", "p", "p/train"}),
        ("opt~^adam", {"r0", "r2", "r3", "r4", "p", "p/train"}),
        ("net.width=128", {"r1", "r2"}),
        ("lr>=1e-3", {"r2", "r3"}),
        ("opt='sgd'", {"r1"}),
    ],
)
def test_where_selects_exactly_the_matching_runs(server, page, where, want):
    from urllib.parse import quote

    open_page(page, server.url + "/?rows=loss&where=" + quote(where))
    wait_lines(page, len(want))
    assert scopes_shown(page) == want


def test_a_where_matching_no_run_says_what_the_page_waits_for(server, page):
    open_page(page, server.url + "/?rows=loss&where=lr>1")
    page.wait_for_function(
        "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text).includes('waiting for data matching where=')",
        timeout=WAIT_MS,
    )


def test_where_and_scopes_both_apply(server, page):
    open_page(page, server.url + "/?rows=loss&where=opt%3Dadam&scopes=^r")
    wait_lines(page, 3)
    assert scopes_shown(page) == {"r0", "r2", "r4"}


def test_color_by_gives_one_colour_per_value_with_a_legend(server, page):
    open_page(page, server.url + "/?rows=loss&color_by=opt")
    wait_lines(page, 7)
    g = {k.split("|")[1].split(" · ")[0]: v["color"] for k, v in glyphs(page).items()}
    assert g["r0"] == g["r2"] == g["r4"] == g["p"]  # adam
    assert len({g["r0"], g["r1"], g["r3"]}) == 3  # adam, sgd, adamw
    legend = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').right"
        ".filter(a => a.items !== undefined)[0].items.map(i => i.label.value)"
    )
    assert {"opt=adam", "opt=sgd", "opt=adamw"} <= set(legend)


def test_color_by_many_numbers_is_a_continuous_palette_with_a_colour_bar(tmp_path, page):
    lrs = {f"run{k:02d}": 1e-4 * (k + 1) for k in range(12)}  # more values than categories
    with loss_server(tmp_path, [*lrs, "nolr"], {s: {"lr": lr} for s, lr in lrs.items()}) as ws:
        open_page(page, ws.url + "/?rows=loss&color_by=lr")
        wait_lines(page, 13)
        bar = page.evaluate(
            "() => { const b = Bokeh.documents[0].get_model_by_name('plot:0').right"
            ".find(a => a.color_mapper !== undefined); return b && [b.title?.text ?? b.title,"
            " b.color_mapper.low, b.color_mapper.high]; }"
        )
        assert bar == ["lr", pytest.approx(1e-4), pytest.approx(1.2e-3)]
        g = {k.split("|")[1].split(" · ")[0]: v["color"] for k, v in glyphs(page).items()}
        assert len({g[s] for s in lrs}) == 12  # a colour per value, along the palette
        assert g["nolr"] == MISSING_COLOR
        palette = [c.lower() for c in bp.Viridis256]
        spots = [palette.index(g[s].lower()) for s in lrs]
        assert spots == sorted(spots) and spots[0] == 0 and spots[-1] == 255
        # the runs panel's swatches follow the recoloured lines
        swatches = "() => { const d = Bokeh.documents[0].get_model_by_name('runs:source').data;" \
                   " return Object.fromEntries(d.scope.map((s, i) => [s, d.swatch[i]])); }"
        page.wait_for_function(f"() => ({swatches})()['run00'] === {g['run00']!r}", timeout=WAIT_MS)
        assert page.evaluate(swatches) == g


def test_color_by_follows_a_config_written_after_the_runs_first_points(tmp_path, store, log_path, page):
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    store.append([ConfigUpdate("a", {"opt": "sgd"}),
                  Points("a", "loss", 0, {"x": np.arange(3.0), "y": np.ones(3)}),
                  Points("late", "loss", 0, {"x": np.arange(3.0), "y": np.ones(3)})])
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&color_by=opt")
        wait_lines(page, 2)
        colours = "() => Object.fromEntries(Object.entries((" + LINES_JS + ")(0))" \
                  ".map(([k, v]) => [k.split('|')[1].split(' · ')[0], v.color]))"
        assert page.evaluate(colours)["late"] == MISSING_COLOR
        store.append([ConfigUpdate("late", {"opt": "sgd"})])
        page.wait_for_function(f"() => {{ const c = ({colours})(); return c.late === c.a; }}", timeout=WAIT_MS)
        swatch = ("() => { const d = Bokeh.documents[0].get_model_by_name('runs:source').data;"
                  " return d.swatch[d.scope.indexOf('late')]; }")
        page.wait_for_function(f"() => ({swatch})() === ({colours})().a", timeout=WAIT_MS)
        page.wait_for_function("() => { const d = Bokeh.documents[0].get_model_by_name('runs:source').data;"
                               " return d['cfg:opt'] && d['cfg:opt'][d.scope.indexOf('late')] === 'sgd'; }",
                               timeout=WAIT_MS)
    finally:
        ws.stop()


def test_clicking_a_value_in_the_color_by_legend_hides_every_line_of_that_value(server, page):
    open_page(page, server.url + "/?rows=loss&color_by=opt")
    wait_lines(page, 7)
    box = page.wait_for_function(LEGEND_BOX_JS, arg="plot:0", timeout=WAIT_MS).json_value()
    page.mouse.click(box["x"] + 20, box["y"] + 20)  # the first entry: opt=adam (r0's)
    visible = "() => Object.fromEntries(Object.entries((" + LINES_JS + ")(0))" \
              ".map(([k, v]) => [k.split('|')[1].split(' · ')[0], v.visible]))"
    page.wait_for_function(f"() => ({visible})().r0 === false", timeout=WAIT_MS)
    assert page.evaluate(visible) == {
        "r0": False, "r2": False, "r4": False, "p": False, "p/train": False, "r1": True, "r3": True,
    }


def test_color_by_few_numbers_lists_them_in_order(server, page):
    open_page(page, server.url + "/?rows=loss&color_by=lr")
    wait_lines(page, 7)
    page.wait_for_function(LEGEND_BOX_JS, arg="plot:0", timeout=WAIT_MS)
    legend = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').right"
        ".filter(a => a.items !== undefined)[0].items.map(i => i.label.value)"
    )
    values = [v.split("=", 1)[1] for v in legend]
    assert values[-1] == "(none)"  # r4 has no lr
    assert [float(v) for v in values[:-1]] == [1e-4, 2e-4, 3e-4, 1e-3, 3e-3]


def test_color_by_a_key_no_run_has_says_so_and_draws(server, page):
    open_page(page, server.url + "/?rows=loss&color_by=nothere")
    wait_lines(page, 7)
    page.wait_for_function(
        "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
        ".includes(\"no run here has config key 'nothere'\")",
        timeout=WAIT_MS,
    )


def test_without_a_color_section_twelve_runs_get_twelve_colours(tmp_path, page):
    with loss_server(tmp_path, [f"run{k}" for k in range(12)]) as ws:
        open_page(page, ws.url + "/?rows=loss")
        wait_lines(page, 12)
        assert len({g["color"] for g in glyphs(page).values()}) == 12


def test_x_wall_is_a_datetime_axis_of_the_points_times(server, page):
    open_page(page, server.url + "/?rows=loss&x=wall&scopes=^r1$")
    wait_lines(page, 1)
    line = glyphs(page, with_x=True)["plot:0|r1 · loss · 0"]
    t0 = 1_767_225_600.0 + 3600
    np.testing.assert_allclose(line["xs"], (t0 + np.arange(20) * 0.5) * 1000)
    axis = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').below[0].type"
    )
    assert axis == "DatetimeAxis"


def test_x_wall_over_runs_logged_without_wall_times_says_so_once(tmp_path, page):
    with loss_server(tmp_path, [f"old{k}" for k in range(30)]) as ws:
        open_page(page, ws.url + "/?rows=loss&x=wall")
        title = "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
        page.wait_for_function(f"() => ({title})().includes('30 groups')", timeout=WAIT_MS)
        text = page.evaluate(title)
        assert "not drawn: 30 groups have no column wall_time (the first: old0/loss)" in text, text
        assert "x=step draws them" in text and text.count("not drawn") == 1, text
        assert "waiting for data" not in text, text


def test_x_relative_starts_at_zero_for_every_run(server, page):
    open_page(page, server.url + "/?rows=loss&x=relative")
    wait_lines(page, 7)
    for g in glyphs(page, with_x=True).values():
        assert g["xs"][0] == 0.0
    assert glyphs(page, with_x=True)["plot:0|r0 · loss · 0"]["xs"][-1] == pytest.approx(9.5)


@pytest.mark.parametrize(
    "query, words",
    [
        ("where=lr%3C%3C1", ["'lr<<1'", "OP is one of"]),
        ("where=lr%3F1", ["'lr?1'", "no operator"]),
        ("where=opt%3D%27adam", ["unclosed quote"]),
        ("x=name:", ["x='name:'", "step, wall, relative"]),  # x=epoch is a name now (issue 22: x=NAME)
    ],
)
def test_bad_compare_parameters_name_what_is_wrong(server, page, query, words):
    open_page(page, server.url + "/?rows=loss&" + query)
    page.locator(".sv-error").wait_for(timeout=WAIT_MS)
    text = page.locator(".sv-error").inner_text()
    for w in words:
        assert w in text, text


def test_x_wall_draws_the_times_the_logger_stamped(tmp_path, page):
    """A run logged with DataLogger (no wall_time given): its points lie on the datetime
    axis at the times of their write calls."""
    import time

    from streamvis import DataLogger

    path = str(tmp_path / "logged.svl")
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    t_start = time.time()
    with DataLogger("live", delete_existing=True).init(path=path) as lg:
        for i in range(30):
            lg.write("loss", x=i, y=1.0 / (i + 1))
    t_end = time.time()
    ws = WebServer(path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&x=wall")
        wait_lines(page, 1)
        xs = np.asarray(glyphs(page, with_x=True)["plot:0|live · loss · 0"]["xs"])
        assert xs.size == 30 and (np.diff(xs) >= 0).all()
        assert t_start * 1000 - 1 <= xs[0] and xs[-1] <= t_end * 1000 + 1
    finally:
        ws.stop()
