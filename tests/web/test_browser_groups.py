"""Groups of runs (``group=``, ``agg=``, ``band=``) and a logged name as x (``x=NAME``)
in real Chromium: what the page draws equals ``script.aggregate`` over the same log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml

from streamvis import script
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.storage.read.step_join import x_by_name
from streamvis.web.address.run_selection import encode_runs

from .conftest import WebServer
from .helpers import hover_at, open_page

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
STEPS = 40

# the group sources of plot 0, as plain arrays (null while the document is updated)
GROUPS_JS = """(pos) => { const d = Bokeh.documents[0]; if (!d) return null;
  const get = n => d.get_model_by_name(n + ':' + pos);
  const pts = get('group_points'), lines = get('group_lines'), bands = get('group_bands');
  if (!pts || !lines || !bands) return null;
  const arr = a => Array.from(a, v => (typeof v === 'number' ? v : (v ?? null)));
  const out = {points: {}, lines: {group: arr(lines.data.group), xs: lines.data.xs.map(arr),
               ys: lines.data.ys.map(arr), color: arr(lines.data.color)},
               bands: {group: arr(bands.data.group), ys: bands.data.ys.map(arr)}};
  for (const [k, v] of Object.entries(pts.data)) out.points[k] = arr(v);
  return out; }"""


TOOLTIP_JS = """() => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.classList.contains('bk-tooltip-row-value')) out.push(el.textContent); } };
  walk(document); return out; }"""


def _groups(page: Any, pos: int = 0) -> dict[str, Any]:
    return page.evaluate(GROUPS_JS, pos)


def _title(page: Any) -> str:
    return str(page.evaluate("() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"))


def write_runs(path: str, *, start: int = 0, steps: int = STEPS, tokens: bool = True) -> None:
    """Six runs: lr in {0.1, 0.01} x seed 0..2 (an id differing in each); loss at every
    step; tokens at every 4th step (run r5 logs none)."""
    x = np.arange(start, start + steps, dtype=np.int64)
    with Store.open(path, "a") as st:
        items: list[Any] = []
        for r in range(6):
            s = f"r{r}"
            if start == 0:
                items.append(ConfigUpdate(s, {"lr": [0.1, 0.01][r % 2], "seed": r // 2, "id": f"id{r}"}))
            y = np.sin(x / 7.0 + r) + 0.1 * r
            items.append(Points(s, "loss", 0, {"x": x, "y": y}))
            if tokens and r != 5:
                tx = x[x % 4 == 0]
                items.append(Points(s, "tokens", 0, {"x": tx, "y": tx * (1000.0 + 100 * r)}))
        st.append(items)


@pytest.fixture
def schema(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(yaml.safe_dump({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}}))
    return p


def _drawn(page: Any, count: int) -> dict[str, Any]:
    page.wait_for_function(f"() => {{ const g = ({GROUPS_JS})(0); return g !== null && "
                           f"g.lines.group.length === {count}; }}", timeout=WAIT_MS, polling=100)
    return _groups(page)


def _per_group(g: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    pts = g["points"]
    out: dict[str, dict[str, np.ndarray]] = {}
    labels = np.array(pts["group"], dtype=object)
    for lab in dict.fromkeys(pts["group"]):
        m = labels == lab
        out[lab] = {k: np.asarray(pts[k], dtype=np.float64)[m] for k in ("x", "y", "lo", "hi", "n")}
    return out


def _assert_equal(drawn: dict[str, Any], want: dict[tuple[Any, ...], Any], label: Any) -> None:
    per = _per_group(drawn)
    assert set(per) == {label(k) for k in want}
    assert len(drawn["bands"]["group"]) == len(want)  # one band per group
    for key, table in want.items():
        got = per[label(key)]
        for col in ("x", "y", "lo", "hi", "n"):
            np.testing.assert_allclose(got[col], table.column(col).to_numpy(), rtol=1e-9, err_msg=col)


def test_group_draws_one_line_and_band_per_group_equal_to_script(log_path, schema, page):
    write_runs(log_path)
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr")
        drawn = _drawn(page, 2)
        _assert_equal(drawn, script.aggregate(log_path, "loss", ["lr"]), lambda k: f"lr={k[0]}")
        assert len(set(drawn["lines"]["color"])) == 2  # a colour per group
        assert "grouped by lr" in _title(page)
        i = drawn["points"]["group"].index("lr=0.1") + 5  # hover: group, x, aggregate, band, n
        hover_at(page, "plot:0", drawn["points"]["x"][i], drawn["points"]["y"][i])
        page.wait_for_function(f"() => ({TOOLTIP_JS})().length > 0", timeout=WAIT_MS)
        tips = [t.strip() for t in page.evaluate(TOOLTIP_JS)]
        assert tips[0] == "lr=0.1" and tips[1] == "5" and tips[4] == "3" and "–" in tips[3], tips

        open_page(page, ws.url + "/?rows=loss&group=lr&agg=median&band=std")
        drawn = _drawn(page, 2)
        want = script.aggregate(log_path, "loss", ["lr"], agg="median", band="std")
        _assert_equal(drawn, want, lambda k: f"lr={k[0]}")
        mean = script.aggregate(log_path, "loss", ["lr"])
        assert not np.allclose(want[(0.1,)].column("y").to_numpy(), mean[(0.1,)].column("y").to_numpy())

        open_page(page, ws.url + "/?rows=loss&group=-seed")  # the usual average over seeds
        drawn = _drawn(page, 2)
        _assert_equal(drawn, script.aggregate(log_path, "loss", "-seed"), lambda k: f"lr={k[0]}")
        title = _title(page)
        assert "grouped by lr" in title and "id" in title  # id differs in every run: left out

        open_page(page, ws.url + "/?rows=loss&group=opt")  # a key no run has
        drawn = _drawn(page, 1)
        assert drawn["lines"]["group"] == ["(no opt)"]
        assert "no run has the config key 'opt'" in _title(page)
    finally:
        ws.stop()


def test_x_name_draws_against_that_name(log_path, schema, page):
    write_runs(log_path)
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&x=tokens")
        drawn = _drawn(page, 5)  # r5 logged no tokens: left out, with a note
        assert "1 run(s) without 'tokens' left out" in _title(page)
        x = np.arange(STEPS, dtype=np.float64)
        for r in range(5):
            i = drawn["lines"]["group"].index(f"r{r}")
            tx = x[x % 4 == 0]
            want_x = x_by_name(x, tx, tx * (1000.0 + 100 * r))
            keep = ~np.isnan(want_x)  # nothing past tokens' last step
            np.testing.assert_allclose(drawn["lines"]["xs"][i], want_x[keep])
            np.testing.assert_allclose(drawn["lines"]["ys"][i], (np.sin(x / 7.0 + r) + 0.1 * r)[keep])

        open_page(page, ws.url + "/?rows=loss&x=tokens&group=lr")  # with groups: on the new x
        drawn = _drawn(page, 2)
        _assert_equal(drawn, script.aggregate(log_path, "loss", ["lr"], x_name="tokens"),
                      lambda k: f"lr={k[0]}")
        assert "bucketed" in _title(page)  # tokens per step differ by run: x is bucketed
    finally:
        ws.stop()


def _assert_r0_left_its_group(page: Any, log_path: str) -> None:
    """Once run r0 is unticked: two groups, lr=0.1 of two runs at most, and the lines
    equal to ``script.aggregate`` over the other five runs."""
    page.wait_for_function(f"() => {{ const g = ({GROUPS_JS})(0); return g !== null && "
                           "g.lines.group.length === 2 && Math.max(...g.points.n.filter("
                           "(n, i) => g.points.group[i] === 'lr=0.1')) === 2; }",
                           timeout=WAIT_MS, polling=100)
    want = script.aggregate(log_path, "loss", ["lr"], scope_pattern="^r[1-5]$")
    _assert_equal(_groups(page), want, lambda k: f"lr={k[0]}")


def test_groups_update_live_and_follow_the_runs_panel(log_path, schema, page):
    write_runs(log_path, tokens=False)
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr")
        _drawn(page, 2)
        write_runs(log_path, start=STEPS, steps=10, tokens=False)
        page.wait_for_function(f"() => {{ const g = ({GROUPS_JS})(0); return g !== null && "
                               f"Math.max(...g.points.x) === {STEPS + 9}; }}", timeout=WAIT_MS, polling=100)
        _assert_equal(_groups(page), script.aggregate(log_path, "loss", ["lr"]), lambda k: f"lr={k[0]}")

        hide = encode_runs(["r0"], ws.source.scopes())
        open_page(page, ws.url + "/?rows=loss&group=lr&hide=" + hide)  # unticked: out of its group
        _assert_r0_left_its_group(page, log_path)
    finally:
        ws.stop()


@pytest.mark.parametrize("query,words", [
    ("group=lr&agg=avg", ["agg='avg'", "mean, median, min, max"]),
    ("group=lr&band=wide", ["band='wide'", "minmax, std, stderr, none"]),
])
def test_unknown_agg_or_band_names_it_and_the_choices(log_path, schema, page, query, words):
    write_runs(log_path)
    ws = WebServer(log_path, schema)
    try:
        open_page(page, f"{ws.url}/?rows=loss&{query}")
        text = page.locator(".sv-page").inner_text()
        assert "parameters are not valid" in text
        for w in words:
            assert w in text, (w, text)
    finally:
        ws.stop()


def test_smoothing_applies_to_each_run_and_color_by_a_group_key(log_path, schema, page):
    from streamvis.source import open_source
    from streamvis.web.plots.color_by import category_color

    write_runs(log_path)
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr&smoothing=0.6&color_by=lr")
        drawn = _drawn(page, 2)
        with open_source(log_path) as src:  # each run's EMA, then the mean: not the EMA of the mean
            want = src.aggregate("loss", "lr", smoothing=0.6).aggregates
        per = _per_group(drawn)
        for (lr,), a in want.items():
            np.testing.assert_allclose(per[f"lr={lr}"]["y"], a.y, rtol=1e-9)
            np.testing.assert_allclose(per[f"lr={lr}"]["hi"], a.hi, rtol=1e-9)
        raw = script.aggregate(log_path, "loss", ["lr"])
        assert not np.allclose(per["lr=0.1"]["y"], raw[(0.1,)].column("y").to_numpy())
        colors = drawn["lines"]["color"]
        assert len(set(colors)) == 2 and set(colors) <= {category_color(0), category_color(1)}
    finally:
        ws.stop()


# the rows the groups table draws (the runs table's rows start with a tick, not 'lr=')
GROUP_ROWS_JS = """() => { const out = []; const walk = (root) => {
  for (const el of root.querySelectorAll('.slick-row'))
    out.push({group: el.classList.contains('slick-group'), text: el.textContent});
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot); };
  walk(document); return out.filter(r => r.text.startsWith('lr=')); }"""


def test_the_runs_panel_lists_the_groups_expandable_and_a_tick_leaves_its_group(log_path, schema, page):
    """group=lr: the panel's groups table has a row per group (collapsed) with its runs
    and how many are shown; a group expands to its runs; unticking a run in the runs
    table lowers its group's shown count and takes it out of the group's n on the plot."""
    write_runs(log_path, tokens=False)
    ws = WebServer(log_path, schema, refresh=0.3)
    src = "Bokeh.documents[0].get_model_by_name('groups:source')"
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr")
        _drawn(page, 2)
        page.wait_for_function(f"() => {src} && {src}.data.scope.length === 6", timeout=WAIT_MS)
        data = page.evaluate(f"() => {{ const d = {src}.data; return {{group: Array.from(d.group), "
                             "scope: Array.from(d.scope), shown: Array.from(d.shown)}; }")
        assert data == {"group": ["lr=0.01"] * 3 + ["lr=0.1"] * 3,
                        "scope": ["r1", "r3", "r5", "r0", "r2", "r4"], "shown": [1] * 6}
        page.wait_for_function(f"() => ({GROUP_ROWS_JS})().length === 2", timeout=WAIT_MS)
        rows = page.evaluate(GROUP_ROWS_JS)
        assert [r["group"] for r in rows] == [True, True]  # collapsed: the groups only
        assert rows[0]["text"] == "lr=0.0133" and rows[1]["text"] == "lr=0.133"  # label, runs, shown
        assert "(null)" not in rows[0]["text"]
        page.locator(".slick-group", has_text="lr=0.1").locator(".slick-group-toggle").click()
        page.wait_for_function(f"() => ({GROUP_ROWS_JS})().length === 5", timeout=WAIT_MS)
        runs = [r["text"] for r in page.evaluate(GROUP_ROWS_JS) if not r["group"]]
        assert runs == ["lr=0.1r011", "lr=0.1r211", "lr=0.1r411"]  # its runs, each shown

        page.locator(".slick-row", has_text="r0").filter(has_text="id0").locator(".slick-cell").nth(1).click()
        page.wait_for_function(f"() => {src}.data.shown[{src}.data.scope.indexOf('r0')] === 0",
                               timeout=WAIT_MS)
        page.wait_for_function(f"() => ({GROUP_ROWS_JS})().some(r => r.group && r.text === 'lr=0.132')",
                               timeout=WAIT_MS)
        rows = page.evaluate(GROUP_ROWS_JS)  # still expanded, r0 now not shown
        assert [r["text"] for r in rows] == ["lr=0.0133", "lr=0.132", "lr=0.1r010", "lr=0.1r211", "lr=0.1r411"]
        _assert_r0_left_its_group(page, log_path)
    finally:
        ws.stop()


def test_grouped_pages_render_before_any_run_and_on_the_page_of_every_name(log_path, schema, page):
    """The groups table (a BokehJS DataCube) cannot be drawn without rows: a grouped page
    opened on a log with no run yet, and the page of every name (whose panel fills after
    the document is sent), failed to render at all. Both render, then list the groups."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    Store.open(log_path, "a").close()  # a log with no run yet
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr")
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('groups:title') !== null",
                               timeout=WAIT_MS)
        write_runs(log_path, tokens=False)  # the runs arrive: the table joins the panel
        _drawn(page, 2)
        page.wait_for_function(f"() => ({GROUP_ROWS_JS})().length === 2", timeout=WAIT_MS)
    finally:
        ws.stop()
    assert errors == []
    names = WebServer(log_path, None, refresh=0.3)  # no schema: the page of every name
    try:
        open_page(page, names.url + "/?group=lr")
        page.wait_for_function(f"() => ({GROUP_ROWS_JS})().length === 2", timeout=WAIT_MS)
        rows = page.evaluate(GROUP_ROWS_JS)
        assert [r["text"] for r in rows] == ["lr=0.0133", "lr=0.133"]
    finally:
        names.stop()
    assert errors == []


def test_a_group_of_runs_with_one_point_each_is_a_dot(log_path, schema, page):
    """A name logged once per run (a final evaluation): each group's line is one point,
    which a line cannot show, so the group's point is drawn (hover shows the band and n)."""
    with Store.open(log_path, "a") as st:
        st.append([ConfigUpdate(f"r{r}", {"lr": [0.1, 0.01][r % 2], "seed": r // 2}) for r in range(4)]
                  + [Points(f"r{r}", "loss", 0, {"x": np.array([100]), "y": np.array([float(r)])})
                     for r in range(4)])
    ws = WebServer(log_path, schema, refresh=0.3)
    pts = "Bokeh.documents[0].get_model_by_name('group_points:0')"
    try:
        open_page(page, ws.url + "/?rows=loss&group=lr")
        page.wait_for_function(f"() => {pts} && {pts}.data.group.length === 2", timeout=WAIT_MS)
        got = page.evaluate(f"() => {{ const d = {pts}.data; return Array.from(d.group, (g, i) =>"
                            " [g, d.x[i], d.y[i], d.n[i], d.alpha[i]]).sort(); }")
        assert got == [["lr=0.01", 100, 2.0, 2, 0.9], ["lr=0.1", 100, 1.0, 2, 0.9]]  # means of r1, r3 / r0, r2
    finally:
        ws.stop()
