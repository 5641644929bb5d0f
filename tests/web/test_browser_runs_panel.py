"""The runs panel in real Chromium: a row per run with its config, shown ticks that
hide a run on every plot, search plus "only these", the filter box, and highlighting."""

from __future__ import annotations

import time

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points

from .conftest import WebServer
from .helpers import (
    LEGEND_BOX_JS,
    LINES_JS,
    RANGES_COVER_JS,
    READY_JS,
    demo_items,
    hover_at,
    open_page,
)

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
URL = "/?rows=loss,lr;weights,cloud"
PANEL = "Bokeh.documents[0].get_model_by_name('runs:source')"


@pytest.fixture
def server(store, log_path, demo_schema):
    store.append(demo_items(["run1", "run2", "run3"], steps=30))
    store.append([ConfigUpdate("run2", {"lr": 3e-4, "opt": "adam", "net": {"width": 64}})])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    yield ws
    ws.stop()


def panel_rows(page) -> dict:
    return page.evaluate(f"() => {{ const d = {PANEL}.data; return Object.fromEntries("
                         "d.scope.map((s, i) => [s, Object.fromEntries(Object.keys(d).map(k => [k, d[k][i]]))])); }")


def drawn_scopes(page) -> set[str]:
    """Scopes with a visible line on any plot (lines hidden by a filter are not drawn)."""
    return set(page.evaluate("""() => { const out = new Set();
      for (let i = 0; i < 4; i++) {
        const fig = Bokeh.documents[0].get_model_by_name('plot:' + i);
        const src = Bokeh.documents[0].get_model_by_name('lines:' + i + ':source');
        for (const r of fig.renderers) {
          if (r.data_source !== src || !r.visible) continue;
          const f = r.view.filter; const d = src.data;
          const n = d.xs ? d.xs.length : d.x.length;
          for (let j = 0; j < n; j++) {
            const ok = f.booleans ? f.booleans[j] : (f.indices ? f.indices.includes(j) : true);
            if (ok) out.add(d.scope[j]);
          }
        }
      }
      return [...out]; }"""))


def alphas_js(by: str) -> str:
    """JS: {line's ``by`` (label or scope): its alpha} on the first plot."""
    return ("() => { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;"
            f" return Object.fromEntries(d.{by}.map((k, i) => [k, d.alpha[i]])); }}")


def wait_drawn(page, want: set[str]) -> None:
    from tests.helpers import wait_for

    try:
        wait_for(lambda: drawn_scopes(page) == want, timeout=WAIT_MS / 1000)
    except AssertionError:
        raise AssertionError(f"drawn {drawn_scopes(page)}, want {want}") from None


def wait_listed(page, n: int) -> None:
    """Until the panel's table lists ``n`` rows (its search and filter applied)."""
    page.wait_for_function(
        "() => { const t = Bokeh.documents[0].get_model_by_name('runs:table');"
        f" return t.view.filter.indices && t.view.filter.indices.length === {n}; }}",
        timeout=WAIT_MS,
    )


def test_a_row_per_run_with_config_columns_and_last_step(server, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    page.wait_for_function(f"() => {PANEL}.data.last_step.every(v => v === 29)", timeout=WAIT_MS)
    rows = panel_rows(page)
    assert rows["run2"]["cfg:opt"] == "adam" and rows["run2"]["cfg:net.width"] == 64
    assert rows["run1"]["cfg:lr"] == pytest.approx(1e-3)
    assert all(r["shown"] for r in rows.values())


def test_last_update_is_the_last_points_wall_time_and_last_step_a_lines(server, store, page):
    t0 = time.mktime((2025, 6, 1, 12, 0, 0, 0, 0, -1))  # (the page sends epoch ms; the
    # browser writes them in its zone: test_browser_local_time)
    store.append([
        Points("old", "loss", 0, {"x": np.arange(5.0), "y": np.ones(5), "wall_time": t0 + np.arange(5.0)}),
        # a scatter's x is a coordinate, not a step
        Points("far", "cloud", 0, {"x": np.array([1e6]), "y": np.zeros(1), "t": np.zeros(1)}),
    ])
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 5", timeout=WAIT_MS)
    page.wait_for_function(f"() => {PANEL}.data.updated[{PANEL}.data.scope.indexOf('old')] != null",
                           timeout=WAIT_MS)
    rows = panel_rows(page)
    assert rows["old"]["updated"] == (t0 + 4) * 1000 and rows["old"]["last_step"] == 4
    assert rows["far"]["last_step"] is None or rows["far"]["last_step"] != rows["far"]["last_step"]
    assert rows["run1"]["updated"] is None  # logged without wall times, before the page: unknown
    # points logged without wall times while the page is open: updated as they arrive
    before = time.time()
    store.append(demo_items(["run1"], steps=5, start=30))
    page.wait_for_function(f"() => {PANEL}.data.updated[{PANEL}.data.scope.indexOf('run1')] != null",
                           timeout=WAIT_MS)
    shown = panel_rows(page)["run1"]["updated"] / 1000
    assert before - 1 <= shown <= time.time() + 1


def table_cells(page) -> dict[str, list[str]]:
    """What the table draws: each row's cell texts, by the run's name (third cell).
    Playwright's locators reach into BokehJS's shadow roots."""
    rows = [r.locator(".slick-cell").all_inner_texts() for r in page.locator(".slick-row").all()]
    return {r[2].strip(): [c.strip() for c in r] for r in rows if len(r) > 3}


def test_the_drawn_table_follows_its_growing_runs(server, store, page):
    """The cells on screen, not just the table's data: BokehJS redraws a DataTable only
    when its row set changes, so a run's growing last step stayed "-" (its first value)."""
    from tests.helpers import wait_for

    def wait_drawn_step(run: str, step: str) -> None:
        try:
            wait_for(lambda: table_cells(page).get(run, [""] * 4)[3] == step, timeout=WAIT_MS / 1000)
        except AssertionError:
            raise AssertionError(f"{run} drawn with last step {step} wanted: {table_cells(page)}") from None

    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.last_step.every(v => v === 29)", timeout=WAIT_MS)
    wait_drawn_step("run1", "29")
    store.append(demo_items(["run1"], steps=10, start=30))
    page.wait_for_function(f"() => {PANEL}.data.last_step[{PANEL}.data.scope.indexOf('run1')] === 39",
                           timeout=WAIT_MS)
    wait_drawn_step("run1", "39")
    cells = table_cells(page)
    assert cells["run2"][3] == "29"
    assert "(null)" not in cells["run1"], cells  # run1 has no "opt": an empty cell


def tick_cell(page, run: str):
    """The drawn ``shown`` cell of ``run``'s row (the second cell)."""
    return page.locator(".slick-row", has_text=run).locator(".slick-cell").nth(1)


def wait_last_step(page, run: str, step: int) -> None:
    page.wait_for_function(f"() => {PANEL}.data.last_step[{PANEL}.data.scope.indexOf({run!r})] === {step}",
                           timeout=WAIT_MS)


def test_one_click_on_a_tick_hides_a_run_on_every_plot_while_runs_log(server, store, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    page.wait_for_function(f"() => Object.keys(({LINES_JS})(null) || {{}}).length === 27", timeout=WAIT_MS)
    wait_drawn(page, {"run1", "run2", "run3"})
    # from now on every refresh of the table must be a patch or a stream, not the whole table
    page.evaluate(f"() => {{ window.__full = 0; {PANEL}.properties.data.change.connect(() => window.__full++); }}")
    tick_cell(page, "run2").click()
    wait_drawn(page, {"run1", "run3"})
    assert page.evaluate(f"() => {PANEL}.selected.indices") == []  # the click did not highlight
    store.append(demo_items(["run1", "run2", "run3"], steps=5, start=30))  # the runs log on
    wait_last_step(page, "run1", 34)
    assert drawn_scopes(page) == {"run1", "run3"} and panel_rows(page)["run2"]["shown"] is False
    assert "\u2610" in tick_cell(page, "run2").inner_text()  # drawn unticked
    tick_cell(page, "run2").click()
    wait_drawn(page, {"run1", "run2", "run3"})
    tick_cell(page, "run1").click()
    wait_drawn(page, {"run2", "run3"})
    page.get_by_role("button", name="show all").click()
    wait_drawn(page, {"run1", "run2", "run3"})
    store.append(demo_items(["run1"], steps=5, start=35) + demo_items(["run4"], steps=5))  # a new run too
    wait_last_step(page, "run1", 39)
    page.wait_for_function(f"() => {PANEL}.data.scope.length === 4", timeout=WAIT_MS)
    assert page.evaluate("() => window.__full") == 0


def test_search_then_only_these_and_the_filter_box(server, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    wait_drawn(page, {"run1", "run2", "run3"})
    page.get_by_placeholder("search runs").fill("run3")
    wait_listed(page, 1)
    page.get_by_role("button", name="only these").click()
    wait_drawn(page, {"run3"})
    page.get_by_placeholder("search runs").fill("")
    box = page.get_by_placeholder("filter: lr<5e-4,opt=adam")
    box.fill("opt=adam")
    box.press("Enter")
    wait_listed(page, 1)
    page.get_by_role("button", name="only these").click()
    wait_drawn(page, {"run2"})
    # a malformed filter says what is wrong in the panel; the page stays usable
    box.fill("lr<<1")
    box.press("Enter")
    page.locator(".sv-error").wait_for(timeout=WAIT_MS)
    assert "lr<<1" in page.locator(".sv-error").inner_text()


def test_clicking_a_row_highlights_that_run_and_dims_the_others(server, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    page.wait_for_function(f"() => Object.keys(({LINES_JS})(null) || {{}}).length === 27", timeout=WAIT_MS)
    # the row selection a click makes (SlickGrid re-renders rows as the table refreshes)
    page.evaluate(f"() => {{ const s = {PANEL}; s.selected.indices = [s.data.scope.indexOf('run2')]; }}")
    alpha = alphas_js("label")
    page.wait_for_function(f"() => ({alpha})()['run1 · loss · 0'] < 0.5", timeout=WAIT_MS)
    a = page.evaluate(alpha)
    assert a["run2 · loss · 0"] == 1 and a["run3 · loss · 1"] < 0.5


def _wait_url(page, part: str) -> str:
    page.wait_for_function(f"() => window.location.search.includes({part!r})", timeout=WAIT_MS)
    return page.url


def test_the_panel_state_round_trips_through_the_address(server, store, page):
    """Ticks, search and filter go into the address (replaceState, no reload); opening
    that address shows the same runs, ticks and boxes."""
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    wait_drawn(page, {"run1", "run2", "run3"})
    page.evaluate("() => { window.__same_page = true; }")
    page.evaluate(f"""() => {{ const s = {PANEL}; const d = {{...s.data}};
      d.shown = d.scope.map(x => x !== 'run2'); s.data = d; }}""")
    _wait_url(page, "hide=")
    page.get_by_placeholder("search runs").fill("run")
    box = page.get_by_placeholder("filter: lr<5e-4,opt=adam")
    box.fill("opt=adam")
    box.press("Enter")
    link = _wait_url(page, "filter=opt=adam")
    assert "find=run" in link and "rows=loss,lr;weights,cloud" in link
    assert page.evaluate("() => window.__same_page === true")  # no reload: replaceState

    open_page(page, link)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    wait_drawn(page, {"run1", "run3"})
    assert {s: r["shown"] for s, r in panel_rows(page).items()} == {
        "run1": True, "run2": False, "run3": True}
    assert page.get_by_placeholder("search runs").input_value() == "run"
    assert box.input_value() == "opt=adam"
    wait_listed(page, 1)
    # "only these" leaves one run of three shown: the address lists it with show=
    page.get_by_role("button", name="only these").click()
    wait_drawn(page, {"run2"})
    link = _wait_url(page, "show=")
    assert "hide=" not in link
    # a run that starts now stays hidden here, as it will when the link is opened
    store.append(demo_items(["run4"], steps=5))
    page.wait_for_function(f"() => {PANEL}.data.scope.length === 4", timeout=WAIT_MS)
    assert panel_rows(page)["run4"]["shown"] is False
    wait_drawn(page, {"run2"})
    open_page(page, link)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 4", timeout=WAIT_MS)
    wait_drawn(page, {"run2"})


def test_only_these_keeps_later_runs_hidden_however_many_are_listed(server, store, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    box = page.get_by_placeholder("filter: lr<5e-4,opt=adam")
    box.fill("lr>5e-4")  # run1 and run3: more runs listed than left out
    box.press("Enter")
    wait_listed(page, 2)
    page.get_by_role("button", name="only these").click()
    wait_drawn(page, {"run1", "run3"})
    link = _wait_url(page, "show=")
    assert "hide=" not in link
    store.append(demo_items(["run4"], steps=5))  # not listed: it stays hidden
    page.wait_for_function(f"() => {PANEL}.data.scope.length === 4", timeout=WAIT_MS)
    assert panel_rows(page)["run4"]["shown"] is False
    wait_drawn(page, {"run1", "run3"})
    tick_cell(page, "run1").click()  # a tick after "only these" keeps its way with later runs
    wait_drawn(page, {"run3"})
    link = _wait_url(page, "show=")
    assert "hide=" not in link
    page.get_by_role("button", name="show all").click()
    wait_drawn(page, {"run1", "run2", "run3", "run4"})


def test_a_link_made_for_other_runs_says_so_and_shows_every_run(server, page):
    from streamvis.web.address.run_selection import encode_runs

    stale = encode_runs({"x2"}, ["x1", "x2"])  # another log's runs
    open_page(page, server.url + URL + "&hide=" + stale)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    page.locator(".sv-error").wait_for(timeout=WAIT_MS)
    assert "other runs than this log has now" in page.locator(".sv-error").inner_text()
    wait_drawn(page, {"run1", "run2", "run3"})


def test_colour_by_in_the_panel_reopens_the_page_coloured_by_that_key(server, page):
    open_page(page, server.url + URL)
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    sel = "Bokeh.documents[0].get_model_by_name('runs:color_by')"
    page.wait_for_function(f"() => {sel}.options.some(o => o[0] === 'opt')", timeout=WAIT_MS)
    page.evaluate(f"() => {{ {sel}.value = 'opt'; }}")
    page.wait_for_url("**color_by=opt**", timeout=WAIT_MS)
    page.wait_for_function(READY_JS, timeout=WAIT_MS)
    page.wait_for_function(f"() => {sel} && {sel}.value === 'opt'", timeout=WAIT_MS)
    assert "rows=loss,lr;weights,cloud" in page.url  # the layout as written, not %2C / %3B


def test_hovering_a_line_selects_its_row_and_highlights_its_run(store, log_path, demo_schema, page):
    store.append([
        Points(f"h{k}", "lr", 0, {"x": np.arange(20.0), "y": np.full(20, 10.0 * k)})
        for k in range(3)
    ])
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=lr")
        page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
        page.wait_for_function(RANGES_COVER_JS, arg=["plot:0", 19, 20], timeout=WAIT_MS)
        hover_at(page, "plot:0", 9.5, 10.0)
        page.wait_for_function(f"() => {PANEL}.selected.indices.length === 1", timeout=WAIT_MS)
        picked = page.evaluate(f"() => {{ const s = {PANEL}; return s.data.scope[s.selected.indices[0]]; }}")
        assert picked == "h1"
        alpha = alphas_js("scope")
        page.wait_for_function(f"() => ({alpha})()['h0'] < 0.5", timeout=WAIT_MS)
        a = page.evaluate(alpha)
        assert a["h1"] == 1 and a["h2"] < 0.5
        # leaving the plot undoes the hover's highlight
        page.mouse.move(5, 5)
        page.wait_for_function(f"() => {PANEL}.selected.indices.length === 0", timeout=WAIT_MS)
        page.wait_for_function(f"() => Object.values(({alpha})()).every(a => a === 1)", timeout=WAIT_MS)
        # a row the user picked stays picked while the mouse crosses lines
        page.evaluate(f"() => {{ const s = {PANEL}; s.selected.indices = [s.data.scope.indexOf('h2')]; }}")
        hover_at(page, "plot:0", 9.5, 10.0)
        page.locator(".bk-tooltip-content").first.wait_for(timeout=WAIT_MS)  # the hover happened
        picked = page.evaluate(f"() => {{ const s = {PANEL}; return s.selected.indices.map(i => s.data.scope[i]); }}")
        assert picked == ["h2"]
        page.mouse.move(5, 5)
        assert page.evaluate(f"() => {PANEL}.selected.indices.length") == 1
    finally:
        ws.stop()


def test_the_panels_ticks_and_the_legends_clicks_stay_apart(server, page):
    """A tick hides a run (and its legend entry); a legend click hides a line on its own
    plot; neither undoes the other."""
    open_page(page, server.url + "/?rows=lr")
    page.wait_for_function(f"() => {PANEL} && {PANEL}.data.scope.length === 3", timeout=WAIT_MS)
    lr_drawn = ("() => { const fig = Bokeh.documents[0].get_model_by_name('plot:0'); const out = [];"
                " for (const r of fig.renderers) if (r.visible && r.view.filter.indices && r.view.filter.indices.length)"
                " out.push(r.name.split(' · ')[0]); return out.sort(); }")
    page.wait_for_function(f"() => ({lr_drawn})().length === 3", timeout=WAIT_MS)
    tick_cell(page, "run2").click()
    page.wait_for_function(f"() => ({lr_drawn})().join() === 'run1,run3'", timeout=WAIT_MS)
    entries = ("() => Bokeh.documents[0].get_model_by_name('plot:0').right"
               ".find(a => a.items !== undefined).items.map(i => [i.label.value.split(' · ')[0], i.visible])")
    page.wait_for_function(f"() => ({entries})().find(e => e[0] === 'run2')[1] === false", timeout=WAIT_MS)
    box = page.wait_for_function(LEGEND_BOX_JS, arg="plot:0", timeout=WAIT_MS).json_value()
    page.mouse.click(box["x"] + 20, box["y"] + box["h"] / 4)  # the first of two entries: run1's
    page.wait_for_function(f"() => ({lr_drawn})().join() === 'run3'", timeout=WAIT_MS)
    assert panel_rows(page)["run1"]["shown"] is True  # the legend hides a line, not the run
    tick_cell(page, "run2").click()
    page.wait_for_function(f"() => ({lr_drawn})().join() === 'run2,run3'", timeout=WAIT_MS)
