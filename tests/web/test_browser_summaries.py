"""Run summaries on the page, in real Chromium: the runs panel's summary columns (equal to
``script.summaries``, live, sortable as numbers, in the address), ``where=`` on summaries
(and ``config:KEY``), ``color_by=`` a summary (a continuous palette ordered by the value),
configs written again while the page is open, and bad input named in one line."""

from __future__ import annotations

import html

import bokeh.palettes as bp
import numpy as np
import pytest
import yaml

from streamvis import script
from streamvis.storage import ConfigUpdate, Points, Store
from tests.helpers import wait_for

from .conftest import WebServer
from .helpers import LINES_JS, glyphs, open_page

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
PANEL = "Bokeh.documents[0].get_model_by_name('runs:source')"
# the runs' losses: run ``a`` ends at 9, ``b`` at 10, ``c`` at 100 (as text they sort 10, 100, 9)
LOSSES = {"a": [30.0, 9.0, 12.0, 9.0], "b": [50.0, 10.0, 40.0, 10.0], "c": [200.0, 150.0, 120.0, 100.0]}
CONFIGS = {"a": {"lr": 1e-2, "loss.max": 1}, "b": {"lr": 1e-4, "loss.max": 2}, "c": {"lr": 1e-4, "loss.max": 3}}


@pytest.fixture
def server(tmp_path):
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    log = str(tmp_path / "runs.svl")
    with Store.open(log, "a") as s:
        for scope, ys in LOSSES.items():
            s.append([ConfigUpdate(scope, CONFIGS[scope]),
                      Points(scope, "loss", 0, {"x": np.arange(len(ys), dtype=float), "y": np.array(ys)})])
    ws = WebServer(log, schema, refresh=0.3)
    ws.log = log  # type: ignore[attr-defined]
    yield ws
    ws.stop()


def log_more(ws, scope: str, ys: list[float], start: int) -> None:
    with Store.open(ws.log, "a") as s:
        s.append([Points(scope, "loss", 0, {"x": np.arange(start, start + len(ys), dtype=float),
                                             "y": np.array(ys)})])


def write_config(ws, scope: str, config: dict) -> None:
    with Store.open(ws.log, "a") as s:
        s.append([ConfigUpdate(scope, config)])


def column(page, field: str) -> dict:
    """{run: the panel's value in ``field``} (the rows the table has)."""
    return page.evaluate(f"() => {{ const d = {PANEL}.data; if (!d[{field!r}]) return null;"
                         f" return Object.fromEntries(d.scope.map((s, i) => [s, d[{field!r}][i]])); }}")


def wait_column(page, field: str, want: dict) -> None:
    try:
        wait_for(lambda: column(page, field) == want, timeout=WAIT_MS / 1000, interval=0.1)
    except AssertionError:
        raise AssertionError(f"{field}: {column(page, field)}, want {want}") from None


def reference(ws, stat: str) -> dict:
    t = script.summaries(ws.log, ["loss"], stats=(stat,))
    return dict(zip(t.column("scope").to_pylist(), t.column(f"loss.{stat}").to_pylist(), strict=True))


def drawn(page) -> set[str]:
    page.wait_for_function(f"() => ({LINES_JS})(0) !== null", timeout=WAIT_MS)
    return {k.split("|")[1].split(" · ")[0] for k in glyphs(page)}


def wait_drawn(page, want: set[str]) -> None:
    try:
        wait_for(lambda: drawn(page) == want, timeout=WAIT_MS / 1000, interval=0.1)
    except AssertionError:
        raise AssertionError(f"drawn {drawn(page)}, want {want}") from None


def test_summary_columns_equal_the_scripts_and_follow_new_points(server, page):
    open_page(page, server.url + "/?rows=loss&summary=loss.min,loss.last")
    wait_column(page, "sum:loss.min", reference(server, "min"))
    wait_column(page, "sum:loss.last", reference(server, "last"))
    assert reference(server, "last") == {"a": 9.0, "b": 10.0, "c": 100.0}
    assert "summary=loss.min,loss.last" in page.evaluate("() => window.location.search")
    log_more(server, "a", [3.0, 5.0], start=4)  # a new min and a new last, while the page is open
    wait_column(page, "sum:loss.min", reference(server, "min"))
    wait_column(page, "sum:loss.last", reference(server, "last"))
    assert column(page, "sum:loss.min")["a"] == 3.0 and column(page, "sum:loss.last")["a"] == 5.0
    # the drawn cells show the values (text, not markup)
    cell = page.locator(".slick-row", has_text="a").first.locator(".slick-cell")
    assert "3" in " ".join(cell.all_inner_texts())


def test_the_menu_adds_a_column_that_sorts_as_numbers_and_goes_into_the_address(server, page):
    open_page(page, server.url + "/?rows=loss")
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    menu = "Bokeh.documents[0].get_model_by_name('runs:summary')"
    options = f"() => {menu}.options.map(o => Array.isArray(o) ? o[0] : o)"
    page.wait_for_function(f"() => ({options})().includes('loss.last')", timeout=WAIT_MS)
    assert {f"loss.{s}" for s in ("min", "max", "first", "last", "mean", "count", "argmin", "argmax")} <= \
        set(page.evaluate(options))
    page.evaluate(f"() => {{ {menu}.value = ['loss.last']; }}")
    wait_column(page, "sum:loss.last", {"a": 9.0, "b": 10.0, "c": 100.0})
    page.wait_for_function("() => window.location.search.includes('summary=loss.last')", timeout=WAIT_MS)
    header = page.locator(".slick-header-column", has_text="loss.last")
    header.click()

    def order() -> list[str]:
        rows = page.locator(".slick-row").all()
        tops = [(r.evaluate("e => parseFloat(e.style.top)"), r.locator(".slick-cell").nth(2).inner_text())
                for r in rows]
        return [run.strip() for _, run in sorted(tops)]

    wait_for(lambda: order() in (["a", "b", "c"], ["c", "b", "a"]), timeout=WAIT_MS / 1000, interval=0.1)
    first = order()
    header.click()
    wait_for(lambda: order() == first[::-1], timeout=WAIT_MS / 1000, interval=0.1)


def test_where_on_a_summary_narrows_the_runs_and_follows_them_live(server, page):
    open_page(page, server.url + "/?rows=loss&where=loss.min<20")
    wait_drawn(page, {"a", "b"})
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 2", timeout=WAIT_MS)
    log_more(server, "c", [15.0], start=4)  # c's min drops under 20: it moves in at the next poll
    wait_drawn(page, {"a", "b", "c"})
    # config:KEY reaches the config key spelled like the summary (loss.max in the configs)
    open_page(page, server.url + "/?rows=loss&where=config:loss.max>=2")
    wait_drawn(page, {"b", "c"})
    open_page(page, server.url + "/?rows=loss&where=loss.min<20,lr<1e-3")
    wait_drawn(page, {"b", "c"})


def test_color_by_a_summary_is_a_continuous_palette_ordered_by_the_value(server, page):
    open_page(page, server.url + "/?rows=loss&color_by=loss.last")
    wait_drawn(page, {"a", "b", "c"})
    palette = [c.lower() for c in bp.Viridis256]

    def spots() -> dict[str, int]:
        g = {k.split("|")[1].split(" · ")[0]: v["color"].lower() for k, v in glyphs(page).items()}
        return {s: palette.index(c) if c in palette else -1 for s, c in g.items()}

    wait_for(lambda: spots()["a"] == 0 and spots()["c"] == 255, timeout=WAIT_MS / 1000, interval=0.1)
    s = spots()
    assert s["a"] < s["b"] < s["c"], s  # ordered by loss.last: 9 < 10 < 100
    bar = page.evaluate("() => { const b = Bokeh.documents[0].get_model_by_name('plot:0').right"
                        ".find(a => a.color_mapper !== undefined); return b && [b.title?.text ?? b.title, b.color_mapper.low,"
                        " b.color_mapper.high]; }")
    assert bar == ["loss.last", 9.0, 100.0]
    log_more(server, "b", [1000.0], start=4)  # live: b's last is now the largest
    wait_for(lambda: spots()["b"] == 255, timeout=WAIT_MS / 1000, interval=0.1)
    assert spots()["a"] < spots()["c"] < spots()["b"]


def test_color_by_a_summary_no_run_has_a_value_of_says_so(server, page):
    """Every run's ``nope.last`` is NaN (no run logged ``nope``): the note names the
    summary and why, not a missing config key."""
    open_page(page, server.url + "/?rows=loss&color_by=nope.last")
    wait_drawn(page, {"a", "b", "c"})
    page.wait_for_function(
        "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
        ".includes(\"no run here has a value of 'nope.last' (NaN: 'nope' not logged, or its last is NaN)\")",
        timeout=WAIT_MS)


def test_a_config_written_again_reaches_the_open_page(server, page):
    open_page(page, server.url + "/?rows=loss&where=lr<1e-3")
    wait_drawn(page, {"b", "c"})
    wait_column(page, "cfg:lr", {"b": 1e-4, "c": 1e-4})
    write_config(server, "b", {"lr": 5e-4, "opt": "adam", "loss.max": 2})  # a changed value, a new key
    wait_column(page, "cfg:lr", {"b": 5e-4, "c": 1e-4})
    wait_column(page, "cfg:opt", {"b": "adam", "c": None})
    write_config(server, "a", {"lr": 1e-5})  # a now matches where=: drawn
    wait_drawn(page, {"a", "b", "c"})
    write_config(server, "c", {"lr": 1.0})  # c no longer matches: gone from plots and panel
    wait_drawn(page, {"a", "b"})
    page.wait_for_function(f"() => {PANEL}.data.scope.length === 2", timeout=WAIT_MS)


def test_bad_summaries_are_named_in_one_line(server, page):
    open_page(page, server.url + "/?rows=loss&summary=loss.median")
    err = page.locator(".sv-error").first.inner_text()
    assert "'median'" in err and "argmin" in err and "\n" not in err
    open_page(page, server.url + "/?rows=loss&summary=nope.min,loss.min")
    note = "() => Bokeh.documents[0].get_model_by_name('runs:summary_note').text"
    page.wait_for_function(f"() => ({note})().includes('nope')", timeout=WAIT_MS)
    text = html.unescape(page.evaluate(note))
    assert "no run logged 'nope'" in text and "\n" not in text
    wait_column(page, "sum:loss.min", reference(server, "min"))
    # where= on a summary of a name no run logged: the plot says so, naming it
    open_page(page, server.url + "/?rows=loss&where=nope.min<1")
    title = "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
    page.wait_for_function(f"() => ({title})().includes('nope')", timeout=WAIT_MS)
    assert "no run logged 'nope'" in page.evaluate(title)


def test_the_index_page_shows_summaries(server, page):
    table = "Bokeh.documents[0].get_model_by_name('index:runs')"

    def values(key: str) -> dict | None:
        return page.evaluate(f"() => {{ const d = {table}.data; const v = d[{('sum:' + key)!r}];"
                             " return v && v.every(x => x !== null) ? Object.fromEntries(d.scope.map((s, i) =>"
                             " [s, v[i]])) : null; }")

    open_page(page, server.url + "/index")  # by default: the last value of the first loss-like name
    wait_for(lambda: values("loss.last") is not None, timeout=WAIT_MS / 1000, interval=0.1)
    assert values("loss.last") == reference(server, "last")
    assert any("loss.last" in t for t in page.evaluate(f"() => {table.replace('runs', 'table')}.columns"
                                                      ".map(c => c.title)"))
    open_page(page, server.url + "/index?summary=loss.min")  # a chosen summary, as on a plot page
    wait_for(lambda: values("loss.min") is not None, timeout=WAIT_MS / 1000, interval=0.1)
    assert values("loss.min") == reference(server, "min")
    open_page(page, server.url + "/index?summary=loss.median")  # a bad one: one line naming it
    err = page.locator(".sv-error").first.inner_text()
    assert "'median'" in err and "\n" not in err
