"""Live data in a real browser: exact counts, streaming, new groups, colours, filters."""

from __future__ import annotations

import numpy as np
import pytest

from streamvis.storage import Deletion, Points

from .conftest import WebServer
from .helpers import (
    COUNTS_MATCH_JS,
    LEGEND_BOX_JS,
    LINES_JS,
    RANGES_COVER_JS,
    count_js,
    counts,
    demo_items,
    glyphs,
    hover_at,
    open_page,
)

pytestmark = pytest.mark.browser

REFRESH = 0.3
WAIT_MS = int(REFRESH * 1000 * 8)  # "within a few refresh intervals", with slack for CI


@pytest.fixture
def server(store, log_path, demo_schema):
    store.append(demo_items(["run1", "run2"], steps=60))
    ws = WebServer(
        log_path,
        demo_schema,
        refresh=REFRESH,
        check_unused_sessions_milliseconds=300,
        unused_session_lifetime_milliseconds=600,
    )
    yield ws
    ws.stop()


def expected_counts(store) -> dict[str, int]:
    """Every logged group's point count, keyed like ``glyphs``; a filtered cloud glyph
    holds only its newest step's points (20 per step in ``demo_items``)."""
    plot_of = {"loss": 0, "lr": 1, "weights": 2, "cloud": 3}
    return {
        f"plot:{plot_of[g.name]}|{g.scope} · {g.name} · {g.index}": 20
        if g.name == "cloud"
        else g.count
        for g in store.groups()
    }


def wait_counts(page, store):
    """Wait until the page holds exactly the expected points of every group."""
    want = expected_counts(store)
    try:
        page.wait_for_function(COUNTS_MATCH_JS, arg=want, timeout=WAIT_MS * 3)
    except Exception:
        got = counts(page)
        diff = {
            k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)
        }
        raise AssertionError(f"page differs from the store (want, got): {diff}") from None
    return want


URL = "/?rows=loss,lr;weights,cloud"


def assert_lines_exact(page, store) -> None:
    """Every point of every loss and lr line is in the browser, exactly (not only the
    counts: a row streamed without its points still counts them)."""
    drawn = glyphs(page, with_x=True)
    for name, plot in (("loss", 0), ("lr", 1)):
        for (scope, _), t in store.read(name=name).tables.items():
            index = np.array(t.column("index").to_pylist())
            x, y = t.column("x").to_numpy(), t.column("y").to_numpy()
            for i in np.unique(index):
                line = drawn[f"plot:{plot}|{scope} · {name} · {i}"]
                assert line["xs"] == x[index == i].tolist(), (scope, name, i)
                np.testing.assert_array_equal(np.asarray(line["ys"], y.dtype), y[index == i])


def test_every_group_drawn_with_exact_counts(server, store, page):
    open_page(page, server.url + URL)
    want = wait_counts(page, store)
    got = glyphs(page)
    assert {k: g["n"] for k, g in got.items()} == want
    assert len(want) == 2 * (3 + 1 + 4 + 1)
    assert all(g["visible"] for g in got.values())
    assert_lines_exact(page, store)


def test_live_points_new_groups_stable_colours_and_deletes(server, store, page):
    open_page(page, server.url + URL)
    wait_counts(page, store)
    before = glyphs(page)
    # points logged while the page is open appear within a few refresh intervals
    store.append(demo_items(["run1", "run2"], steps=20, start=60, seed=1))
    wait_counts(page, store)
    assert_lines_exact(page, store)  # appended in place
    # new scope, new index, new name: drawn without reload; old colours stay put
    store.append(demo_items(["run0"], steps=30, seed=2))
    store.append([Points("run1", "loss", 7, {"x": np.arange(5.0), "y": np.ones(5)})])
    want = wait_counts(page, store)
    assert_lines_exact(page, store)  # new rows streamed live
    after = glyphs(page)
    assert set(after) == set(want)
    for k, g in before.items():
        assert after[k]["color"] == g["color"], k
    # loss colours by index: the new run0's index 1 shares run1's colour for index 1
    assert after["plot:0|run0 · loss · 1"]["color"] == before["plot:0|run1 · loss · 1"]["color"]
    # lr colours by scope: run0 appeared third, so it takes the third colour
    lr_colors = [after[f"plot:1|{s} · lr · 0"]["color"] for s in ("run1", "run2", "run0")]
    assert len(set(lr_colors)) == 3
    # a tombstone removes the glyphs
    store.delete("run2")
    page.wait_for_function(
        f"() => {{ const g = ({LINES_JS})(null);"
        " return g !== null && !Object.keys(g).some(k => k.includes('|run2 ')); }",
        timeout=WAIT_MS,
    )
    legend = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').right"
        ".filter(a => a.items).flatMap(a => a.items.map(i => i.label.value))"
    )
    assert not any(lbl.startswith("run2 ") for lbl in legend)
    assert "run0 · 0" in legend  # one name in the plot: the legend names run and index


ROWS_JS = """() => { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;
  return Array.from(d.scope).map((s, i) => s + ' ' + d.index[i]).sort(); }"""


def test_a_run_deleted_and_one_added_in_one_poll_leave_one_row_per_line(server, store, page):
    """The browser's rows equal the server's, not just their labels: a deletion and a
    new run in the same poll once left the new run's rows twice in the browser."""
    open_page(page, server.url + URL)
    wait_counts(page, store)
    for k in range(3):  # one batch: one poll
        store.append([Deletion("run2" if k == 0 else f"new{k - 1}"), *demo_items([f"new{k}"], steps=10, seed=k)])
        wait_counts(page, store)
        want = sorted(f"{s} {i}" for s in ("run1", f"new{k}") for i in range(3))
        try:
            page.wait_for_function(f"want => JSON.stringify(({ROWS_JS})()) === JSON.stringify(want)",
                                   arg=want, timeout=WAIT_MS)
        except Exception:
            raise AssertionError(f"browser rows {page.evaluate(ROWS_JS)}, server {want}") from None


def test_lines_drawn_in_x_order_after_resume(server, store, page):
    open_page(page, server.url + "/?rows=lr&scopes=^run1$")
    page.wait_for_function(count_js(0, "run1 · lr · 0", 60), timeout=WAIT_MS)
    # a run resumed from step 30 logs steps 30..39 again
    store.append([Points("run1", "lr", 0, {"x": np.arange(30.0, 40.0), "y": np.zeros(10)})])
    page.wait_for_function(count_js(0, "run1 · lr · 0", 70), timeout=WAIT_MS)
    xs = glyphs(page, with_x=True)["plot:0|run1 · lr · 0"]["xs"]
    assert xs == sorted(xs)
    # scopes= selects runs
    assert all("run1 ·" in k for k in glyphs(page))


F_JS = """() => { const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;
  const out = {}; for (let j = 0; j < d.f.length; j++) (out[d.label[j]] ??= []).push(d.f[j]);
  return out; }"""


def wait_filter(page, n: int, t: float) -> None:
    """Wait until each cloud glyph holds exactly its ``n`` points at filter value ``t``."""
    page.wait_for_function(
        f"([n, t]) => {{ const fs = Object.values(({F_JS})());"
        " return fs.length === 2 && fs.every(f => f.length === n && f.every(v => v === t)); }",
        arg=[n, t],
        timeout=WAIT_MS,
    )


def test_filter_slider_follows_newest_until_moved(server, store, page):
    open_page(page, server.url + "/?rows=cloud")
    slider = "Bokeh.documents[0].get_model_by_name('filter:0')"
    page.wait_for_function(
        f"() => {{ const s = {slider}; return s.value === 50 && s.start === 0"
        " && s.end === 50 && s.disabled === false; }",
        timeout=WAIT_MS,
    )
    wait_filter(page, 20, 50)  # t = 0, 10, ..., 50 were logged; the newest is shown
    # the newest value is followed
    more = [
        Points(s, "cloud", 0, {"x": np.zeros(5), "y": np.zeros(5), "t": np.full(5, 60.0)})
        for s in ("run1", "run2")
    ]
    store.append(more)
    page.wait_for_function(f"() => {slider}.value === 60 && {slider}.end === 60", timeout=WAIT_MS)
    wait_filter(page, 5, 60)
    # the user moves it: the plot shows that value, and new values no longer move it
    page.evaluate(f"() => {{ {slider}.value = 20; }}")
    wait_filter(page, 20, 20)
    page.evaluate(f"() => {{ {slider}.value = 25; }}")  # between logged values: the one below
    page.wait_for_timeout(int(REFRESH * 1000))
    wait_filter(page, 20, 20)
    store.append(
        [
            Points(s, "cloud", 0, {"x": np.ones(5), "y": np.ones(5), "t": np.full(5, 70.0)})
            for s in ("run1", "run2")
        ]
    )
    page.wait_for_function(f"() => {slider}.end === 70", timeout=WAIT_MS)
    page.wait_for_timeout(int(REFRESH * 2000))
    assert page.evaluate(f"() => {slider}.value") == 25
    wait_filter(page, 20, 20)
    # back to the newest: following again
    page.evaluate(f"() => {{ {slider}.value = 70; }}")
    wait_filter(page, 5, 70)


def smooth_js(label: str) -> str:
    """JS: the smoothed y of line ``label`` on plot 0 (null while there is none)."""
    return f"""() => {{ const s = Bokeh.documents[0].get_model_by_name('smooth:0:source');
      if (!s) return null; const d = s.data; const j = d.label.indexOf({label!r});
      return j < 0 ? null : Array.from(d.ys[j].slice(0, d.n[j])); }}"""


def tensorboard_ema(values: np.ndarray, weight: float) -> np.ndarray:
    out, last = np.empty(len(values)), 0.0
    for i, v in enumerate(values):
        last = last * weight + (1 - weight) * v
        out[i] = last / (1 - weight ** (i + 1))
    return out


def test_ema_smoothing_is_computed_on_the_server_over_every_point(server, page):
    label = "run1 · loss · 0"
    open_page(page, server.url + "/?rows=loss&scopes=^run1$")
    page.wait_for_function(count_js(0, label, 60), timeout=WAIT_MS)
    raw = np.array(glyphs(page, with_x=True)[f"plot:0|{label}"]["ys"])
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('ema:0').value = 0.9; }")
    page.wait_for_function(f"() => {{ const y = ({smooth_js(label)})(); return y && y.length === 60; }}", timeout=WAIT_MS)
    smooth = np.array(page.evaluate(smooth_js(label)))
    np.testing.assert_allclose(smooth, tensorboard_ema(raw, 0.9), rtol=1e-5)
    # the raw line stays drawn, faintly, behind the smoothed one
    alpha = page.evaluate(
        f"() => {{ const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;"
        f" return d.alpha[d.label.indexOf({label!r})]; }}"
    )
    assert 0 < alpha < 1
    # 0 turns smoothing off again: the smoothed lines go, the raw ones are drawn fully
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('ema:0').value = 0; }")
    page.wait_for_function(f"() => ({smooth_js(label)})() === null", timeout=WAIT_MS)
    page.wait_for_function(
        f"() => {{ const d = Bokeh.documents[0].get_model_by_name('lines:0:source').data;"
        f" return d.alpha[d.label.indexOf({label!r})] === 1; }}",
        timeout=WAIT_MS,
    )


def test_two_tabs_with_different_layouts_then_closing_one_frees_it(server, store, browser):
    import time

    ctx = browser.new_context()
    pages = [ctx.new_page(), ctx.new_page()]
    open_page(pages[0], server.url + "/?rows=loss")
    open_page(pages[1], server.url + "/?cols=lr,weights&axes=ylog,lin")
    store.append(demo_items(["run3"], steps=7, seed=4))
    pages[0].wait_for_function(count_js(0, "run3 · loss · 2", 7), timeout=WAIT_MS)
    pages[1].wait_for_function(count_js(0, "run3 · lr · 0", 7), timeout=WAIT_MS)
    pages[1].wait_for_function(count_js(1, "run3 · weights · 3", 7), timeout=WAIT_MS)

    deadline = time.monotonic() + 5
    while len(server.cfg.sessions) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.cfg.sessions) == 2
    pages[0].close()
    deadline = time.monotonic() + 10
    while len(server.cfg.sessions) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.cfg.sessions) == 1
    ctx.close()


def test_compaction_resets_the_cursor_and_reloads_exactly(server, store, log_path, page):
    from streamvis.storage import Store
    from streamvis.storage.compaction import compact

    open_page(page, server.url + URL)
    wait_counts(page, store)
    store.delete("run2")  # compaction drops the tombstoned scope
    store.close()
    compact(log_path)
    with Store.open(log_path, mode="a") as again:
        again.append(demo_items(["run1"], steps=5, start=60, seed=3))
        want = expected_counts(again)
    page.wait_for_function(COUNTS_MATCH_JS, arg=want, timeout=WAIT_MS * 3)


def test_hover_shows_group_and_values_and_legend_hides(server, store, page):
    store.append(
        [
            Points(
                "hov",
                "cloud",
                0,
                {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 1.0]), "t": np.array([7.0, 7.0])},
            )
        ]
    )
    open_page(page, server.url + "/?rows=cloud&scopes=^hov$")
    page.wait_for_function(count_js(0, "hov · cloud · 0", 2), timeout=WAIT_MS)
    page.wait_for_function(RANGES_COVER_JS, arg=["plot:0", 0, 0], timeout=WAIT_MS)
    hover_at(page, "plot:0", 0.0, 0.0)
    tip = page.locator(".bk-tooltip-content").first
    tip.wait_for(timeout=WAIT_MS)
    text = tip.inner_text()
    for w in ["hov", "cloud", "x", "y", "t", "7"]:
        assert w in text, (w, text)
    policy = page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').right"
        ".filter(a => a.items)[0].click_policy"
    )
    assert policy == "hide"


def test_a_matching_name_without_the_columns_is_named_in_the_title(server, store, page):
    store.append([Points("odd", "loss", 0, {"step": np.arange(3.0), "value": np.ones(3)})])
    open_page(page, server.url + "/?rows=loss")
    page.wait_for_function(
        "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
        ".includes('not drawn: odd/loss has no column x, y')",
        timeout=WAIT_MS,
    )
    assert not any("odd ·" in k for k in glyphs(page))


def test_clicking_a_legend_entry_hides_its_glyph(server, page):
    open_page(page, server.url + "/?rows=lr&scopes=^run1$")
    page.wait_for_function(count_js(0, "run1 · lr · 0", 60), timeout=WAIT_MS)
    box = page.wait_for_function(LEGEND_BOX_JS, arg="plot:0", timeout=WAIT_MS).json_value()
    page.mouse.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('plot:0').renderers[0].visible === false",
        timeout=WAIT_MS,
    )


# the text of every hover tooltip row drawn (inside the plots' shadow roots)
TOOLTIP_TEXT_JS = """() => { const out = []; const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.classList.contains('bk-tooltip-row-value')) out.push(el.textContent); } };
  walk(document); return out.join(' | '); }"""

DOTS_JS = """() => { const d = Bokeh.documents[0].get_model_by_name('lines:0:dots');
  if (!d) return null; const col = c => Array.from(d.data.get ? d.data.get(c) : d.data[c]);
  const l = Bokeh.documents[0].get_model_by_name('lines:0:source').data;
  const colour = Object.fromEntries(Array.from(l.label).map((lab, i) => [lab, l.color[i]]));
  return col('label').map((lab, i) => [lab, col('x')[i], col('y')[i], col('color')[i] === colour[lab]]); }"""


@pytest.fixture
def names_server(store, log_path):
    """No schema: ``rows=`` names logged names."""
    ws = WebServer(log_path, None, refresh=REFRESH)
    yield ws
    ws.stop()


def test_a_line_of_one_point_is_drawn_as_a_dot_until_it_grows(names_server, store, page):
    """A multi_line row of one point strokes nothing (a metric logged once per run left
    its plot empty): such lines are dots in their line's colour, and a line that grows
    to two points is a line again."""
    store.append([Points(s, "final", 0, {"x": np.array([50.0]), "y": np.array([y])})
                  for s, y in (("run1", 0.25), ("run2", 0.5))])
    open_page(page, names_server.url + "/?rows=final")
    page.wait_for_function(f"() => {{ const d = ({DOTS_JS})(); return d !== null && d.length === 2; }}",
                           timeout=WAIT_MS * 3)
    assert sorted(page.evaluate(DOTS_JS)) == [["run1 · final · 0", 50.0, 0.25, True],
                                              ["run2 · final · 0", 50.0, 0.5, True]]
    hover_at(page, "plot:0", 50.0, 0.5)  # hover names the dot's run and its values
    page.wait_for_function(f"() => ({TOOLTIP_TEXT_JS})().includes('run2')", timeout=WAIT_MS)
    tip = page.evaluate(TOOLTIP_TEXT_JS)
    assert "run2" in tip and "50" in tip and "0.5" in tip, tip
    store.append([Points("run1", "final", 0, {"x": np.array([60.0]), "y": np.array([0.3])})])
    page.wait_for_function(f"() => {{ const d = ({DOTS_JS})(); return d !== null && d.length === 1; }}",
                           timeout=WAIT_MS * 3)
    assert page.evaluate(DOTS_JS) == [["run2 · final · 0", 50.0, 0.5, True]]
    # smoothed: the raw dot is dimmed behind the smoothed layer's, which is drawn whole
    open_page(page, names_server.url + "/?rows=final&smoothing=0.6")
    smooth = "Bokeh.documents[0].get_model_by_name('smooth:0:dots')"
    page.wait_for_function(f"() => {smooth} !== null && {smooth}.data.scope.length === 1", timeout=WAIT_MS * 3)
    assert page.evaluate(f"() => [{smooth}.data.y[0], {smooth}.data.alpha[0]]") == [0.5, 1]
