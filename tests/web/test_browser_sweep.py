"""Sweep scale in real Chromium: a thousand runs on one plot, hover, server-side
smoothing at two zooms, five tabs sharing one cache, and a page over the line limit."""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml

from streamvis.storage import Points, Store
from streamvis.storage.read.smooth import ema
from tests.helpers import wait_for

from .conftest import WebServer
from .helpers import COUNTS_MATCH_JS, LINES_JS, RANGES_COVER_JS, glyphs, hover_at, open_page
from .test_browser_big import FRAME_JS

pytestmark = pytest.mark.browser

RUNS = 1000
STEPS = 150  # under the per-line cap: every point is in the page
LONG = 3000  # over the cap of a 1,000-line plot: decimated
WAIT_MS = 60_000  # CI machines are loaded; the benchmark times it


def write_sweep(path: str, runs: int, steps: int, *, name: str = "loss", seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = np.arange(steps, dtype=np.int64)
    with Store.open(path, "a", fsync=False) as s:
        batch = []
        for r in range(runs):
            y = (np.exp(-x / 50.0) + 0.1 * rng.random(steps)).astype(np.float32)
            batch.append(Points(f"run{r:04d}", name, 0, {"x": x, "y": y}))
            if len(batch) == 100:
                s.append(batch)
                batch = []
        if batch:
            s.append(batch)


@pytest.fixture
def schema(tmp_path):
    p = tmp_path / "sweep.yaml"
    p.write_text(yaml.safe_dump({
        "loss": {"name_pattern": "^loss$", "columns": ["x", "y"]},
        "long": {"name_pattern": "^long$", "columns": ["x", "y"]},
        "flat": {"name_pattern": "^flat$", "columns": ["x", "y"]},
    }))
    return p


def test_a_thousand_runs_every_point_exact_and_live(log_path, schema, page):
    write_sweep(log_path, RUNS, STEPS)
    ws = WebServer(log_path, schema, refresh=0.5)
    try:
        open_page(page, ws.url + "/?rows=loss")
        want = {f"plot:0|run{r:04d} · loss · 0": STEPS for r in range(RUNS)}
        page.wait_for_function(COUNTS_MATCH_JS, arg=want, timeout=WAIT_MS, polling=200)
        got = glyphs(page)
        with Store.open(log_path, "r") as s:
            tables = s.read(name="loss").tables
        sampled = list(tables.items())[::97]  # every 97th run, exactly
        drawn = glyphs(page, with_x=True, only=[f"plot:0|{scope} · loss · 0" for (scope, _), _t in sampled])
        for (scope, _), t in sampled:
            line = drawn[f"plot:0|{scope} · loss · 0"]
            assert line["xs"] == t.column("x").to_pylist()
            np.testing.assert_array_equal(np.float32(line["ys"]), t.column("y").to_numpy())
        # the in-plot legend is hidden past ten lines; every line has its own colour
        assert not page.evaluate(
            "() => Bokeh.documents[0].get_model_by_name('plot:0').right"
            ".filter(a => a.items !== undefined)[0].visible"
        )
        assert len({g["color"] for g in got.values()}) > 200
        # all runs grow: each poll brings only the new points, and every run follows
        with Store.open(log_path, "a", fsync=False) as s:
            x = np.arange(STEPS, STEPS + 10, dtype=np.int64)
            s.append([
                Points(f"run{r:04d}", "loss", 0, {"x": x, "y": np.ones(10, np.float32)})
                for r in range(RUNS)
            ])
        want = {k: STEPS + 10 for k in want}
        page.wait_for_function(COUNTS_MATCH_JS, arg=want, timeout=WAIT_MS, polling=200)
        grown = glyphs(page, with_x=True, only=["plot:0|run0500 · loss · 0"])
        assert grown["plot:0|run0500 · loss · 0"]["xs"] == list(range(STEPS + 10))
        # a tab opened now gets the same lines from the server's copy
        late = page.context.new_page()
        open_page(late, ws.url + "/?rows=loss")
        late.wait_for_function(COUNTS_MATCH_JS, arg=want, timeout=WAIT_MS, polling=200)
        assert (glyphs(late, with_x=True, only=["plot:0|run0500 · loss · 0"])
                == grown)
    finally:
        ws.stop()


def test_decimated_runs_hold_the_stores_min_max_decimation(log_path, schema, page):
    write_sweep(log_path, RUNS, LONG, name="long")
    ws = WebServer(log_path, schema, refresh=0.5)
    try:
        open_page(page, ws.url + "/?rows=long")
        page.wait_for_function(
            f"() => {{ const g = ({LINES_JS})(0); return g !== null &&"
            f" Object.keys(g).length === {RUNS} && Object.values(g).every(l => l.n > 0); }}",
            timeout=WAIT_MS,
            polling=200,
        )
        sampled = range(0, RUNS, 111)
        got = glyphs(page, with_x=True, only=[f"plot:0|run{r:04d} · long · 0" for r in sampled])
        assert len(got) == len(sampled)
        cap = max(len(g["xs"]) for g in got.values())
        assert cap <= ws.cfg.limits.budget // RUNS + 2
        with Store.open(log_path, "r") as s:
            for r in sampled:
                key = f"run{r:04d}"
                full = s.read_range(key, "long", 0)
                line = got[f"plot:0|{key} · long · 0"]
                ys = np.float32(line["ys"])
                # the extremes of the whole run survive, and every shown point is a real one
                y = full.column("y").to_numpy()
                assert ys.max() == y.max() and ys.min() == y.min()
                # exactly the store's min/max decimation at the plot's per-line cap
                want = s.read_range(key, "long", 0, max_points=ws.cfg.limits.budget // RUNS)
                assert line["xs"] == want.column("x").to_pylist()
    finally:
        ws.stop()


def test_hover_names_the_line_under_the_cursor(log_path, schema, page):
    with Store.open(log_path, "a") as s:
        s.append([
            Points(f"h{k:02d}", "flat", 0, {"x": np.arange(20.0), "y": np.full(20, float(k))})
            for k in range(40)
        ])
    ws = WebServer(log_path, schema, refresh=0.5)
    try:
        open_page(page, ws.url + "/?rows=flat")
        page.wait_for_function(
            f"() => {{ const g = ({LINES_JS})(0); return g && Object.keys(g).length === 40; }}",
            timeout=WAIT_MS,
        )
        page.wait_for_function(RANGES_COVER_JS, arg=["plot:0", 19, 39], timeout=WAIT_MS)
        hover_at(page, "plot:0", 9.5, 17)
        tip = page.locator(".bk-tooltip-content").first
        tip.wait_for(timeout=10_000)
        text = tip.inner_text()
        assert "h17" in text and "flat" in text, text
        assert "h16" not in text and "h18" not in text, text
        # the nearest point's values, not "???" (BokehJS's mark for an unknown variable)
        assert "???" not in text and "17" in text.split("y:")[-1], text
    finally:
        ws.stop()


def test_smoothing_is_the_same_at_two_zooms_and_equals_the_full_data_ema(log_path, schema, page):
    n = 20_000
    rng = np.random.default_rng(3)
    y = rng.standard_normal(n).astype(np.float32)
    with Store.open(log_path, "a") as s:
        s.append([Points("sm", "long", 0, {"x": np.arange(n, dtype=np.int64), "y": y})])
    ref, _ = ema(y, 0.9)
    ws = WebServer(log_path, schema, refresh=0.5, budget=4000)
    try:
        open_page(page, ws.url + "/?rows=long")
        page.wait_for_function(
            f"() => {{ const g = ({LINES_JS})(0); return g && g['plot:0|sm · long · 0']; }}",
            timeout=WAIT_MS,
        )
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('ema:0').value = 0.9; }")
        smooth = """() => { const s = Bokeh.documents[0].get_model_by_name('smooth:0:source');
          if (!s || !s.data.n.length) return null; const n = s.data.n[0];
          return [Array.from(s.data.xs[0].slice(0, n)), Array.from(s.data.ys[0].slice(0, n))]; }"""
        page.wait_for_function(f"() => ({smooth})() !== null", timeout=WAIT_MS)
        xs, ys = page.evaluate(smooth)
        assert len(xs) < n  # decimated...
        np.testing.assert_allclose(ys, ref[np.int64(xs)], rtol=1e-5, atol=1e-6)  # ...after smoothing
        # zoom in with the wheel: the window is re-read, smoothed over the full data again
        box = page.evaluate(FRAME_JS)
        page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
        for _ in range(2):
            page.mouse.wheel(0, -400)
            page.wait_for_timeout(30)
        zoomed = (
            f"() => {{ const s = ({smooth})(); const b = ({FRAME_JS})();"
            " return s && b.x1 - b.x0 < 10000 && s[0].length > 10 &&"
            " s[0][0] >= b.x0 - 1 && s[0][s[0].length - 1] <= b.x1 + 1; }"
        )
        try:
            page.wait_for_function(zoomed, timeout=WAIT_MS)
        except Exception:
            b, s2 = page.evaluate(FRAME_JS), page.evaluate(smooth)
            raise AssertionError(f"window {b}, smoothed x {s2[0][:3]}..{s2[0][-3:]} ({len(s2[0])})") from None
        xs2, ys2 = page.evaluate(smooth)
        np.testing.assert_allclose(ys2, ref[np.int64(xs2)], rtol=1e-5, atol=1e-6)
    finally:
        ws.stop()


TABS = 5  # (web_sweep_bench measures ten tabs' memory)


def test_five_tabs_share_one_cache_keep_updating_and_free_it_when_closed(
    log_path, schema, browser
):
    write_sweep(log_path, 60, 500, name="long")  # (the cache is shared whatever the size)
    ws = WebServer(
        log_path,
        schema,
        refresh=0.5,
        check_unused_sessions_milliseconds=300,
        unused_session_lifetime_milliseconds=600,
    )
    ctx = browser.new_context(viewport={"width": 1000, "height": 600})
    try:
        pages = [ctx.new_page() for _ in range(TABS)]
        ready = (
            f"() => {{ const g = ({LINES_JS})(0); return g !== null &&"
            " Object.keys(g).length === 60 && Object.values(g).every(l => l.n > 0); }"
        )
        open_page(pages[0], ws.url + "/?rows=long")
        pages[0].wait_for_function(ready, timeout=WAIT_MS)
        one_tab = ws.source.store.cache_bytes
        for pg in pages[1:]:
            open_page(pg, ws.url + "/?rows=long")
        for pg in pages:
            pg.wait_for_function(ready, timeout=WAIT_MS)
        wait_for(lambda: len(ws.cfg.sessions) == TABS, timeout=10)
        assert ws.source.store.cache_bytes <= one_tab * 1.1  # held once, not per tab
        # every tab follows new points
        with Store.open(log_path, "a") as s:
            s.append([Points("late", "long", 0, {"x": np.arange(5.0), "y": np.ones(5)})])
        for pg in pages:
            pg.wait_for_function(
                f"() => {{ const g = ({LINES_JS})(0); const l = g && g['plot:0|late · long · 0'];"
                " return l && l.n === 5; }",
                timeout=WAIT_MS,
            )
        for pg in pages:
            pg.close()
        wait_for(lambda: not ws.cfg.sessions, timeout=20)
        wait_for(lambda: ws.source.store.cache_bytes == 0, timeout=10)
    finally:
        ctx.close()
        ws.stop()


def test_a_page_over_the_line_limit_answers_at_once_and_others_keep_serving(
    log_path, schema, browser
):
    write_sweep(log_path, 300, 20)
    with Store.open(log_path, "a") as s:
        s.append([Points("solo", "flat", 0, {"x": np.arange(3.0), "y": np.ones(3)})])
    ws = WebServer(log_path, schema, refresh=0.3, max_lines=100)
    ctx = browser.new_context()
    try:
        other = ctx.new_page()
        open_page(other, ws.url + "/?rows=flat")
        over = ctx.new_page()
        t0 = time.monotonic()
        open_page(over, ws.url + "/?rows=loss")
        over.wait_for_function(
            "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
            ".includes('showing 100 of 300 lines')",
            timeout=10_000,
        )
        assert time.monotonic() - t0 < 10
        assert "scopes=" in over.evaluate(
            "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text)"
        )
        lines = glyphs(over)
        assert sorted(lines) == [f"plot:0|run{r:04d} · loss · 0" for r in range(100)]  # stable: first 100
        with Store.open(log_path, "a") as s:
            s.append([Points("solo", "flat", 0, {"x": np.arange(3.0, 6.0), "y": np.ones(3)})])
        other.wait_for_function(
            f"() => {{ const g = ({LINES_JS})(0); const l = g && g['plot:0|solo · flat · 0'];"
            " return l && l.n === 6; }",
            timeout=WAIT_MS,
        )
    finally:
        ctx.close()
        ws.stop()
