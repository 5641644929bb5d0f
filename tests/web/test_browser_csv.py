"""The plot toolbar's CSV download (issue 25) in real Chromium: the button of each plot
downloads ``<plot name>.csv`` holding exactly the points its sources hold (decimated as
drawn; hidden runs left out) for line, scatter, smoothed and grouped plots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.storage import ConfigUpdate, Points, Store

from .conftest import WebServer
from .csv_support import download_csv, download_held, held_lines
from .helpers import open_page

pytestmark = pytest.mark.browser

WAIT_MS = 30_000
RUNS = [f"r{k:02d}" for k in range(12)]
LONG = 20_000  # points of r00's loss: the plot holds a decimation of it
SCHEMA = {
    "loss": {"name_pattern": "^loss$", "columns": ["x", "y"]},
    "acc/top1": {"name_pattern": "^acc$", "columns": ["x", "y"]},  # 12 lines: one renderer
    # a cloud per step under a slider (its last column): the plot holds the latest step's
    "cloud": {"name_pattern": "^cloud$", "glyph_kind": "scatter", "columns": ["x", "y", "t"]},
}
SRC = "Bokeh.documents[0].get_model_by_name"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    tmp = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(3)
    now = time.time()
    with Store.open(str(tmp / "c.svl"), "a") as st:
        items: list[Any] = []
        for k, run in enumerate(RUNS):
            items.append(ConfigUpdate(run, {"lr": [0.1, 0.01][k % 2]}))
            x = np.arange(50, dtype=np.float64)
            items.append(Points(run, "acc", 0, {"x": x, "y": x / 50 + k}))
        for k, run in enumerate(RUNS[:3]):
            n = LONG if k == 0 else 300
            x = np.arange(n, dtype=np.float64)
            y = np.sin(x / 31.0) + rng.normal(0, 0.1, n) + k
            items.append(Points(run, "loss", 0, {"x": x, "y": y, WALL_TIME_COLUMN: now - 600 + x * 0.01}))
        for idx in range(2):
            t = np.repeat([0.0, 1.0, 2.0], 14)
            items.append(Points("r00", "cloud", idx, {"x": rng.normal(size=42), "y": rng.normal(size=42), "t": t}))
        st.append(items)
    (tmp / "c.yaml").write_text(yaml.safe_dump(SCHEMA))
    ws = WebServer(str(tmp / "c.svl"), tmp / "c.yaml")
    yield ws
    ws.stop()


def _wait(page: Any, js: str) -> None:
    page.wait_for_function(f"() => {{ try {{ return {js}; }} catch (e) {{ return false; }} }}",
                           timeout=WAIT_MS, polling=100)


def test_each_plots_csv_holds_exactly_what_it_draws(server: WebServer, page: Any) -> None:
    open_page(page, server.url + "/?rows=loss,acc/top1;cloud")
    _wait(page, f"{SRC}('lines:0:source').data.n.length === 3 && {SRC}('lines:0:source').data.n[1] === 300"
                f" && {SRC}('lines:0:source').data.n[0] > 0 && {SRC}('lines:1:source').data.n.length === 12"
                f" && {SRC}('lines:2:source').data.f.length === 28 && {SRC}('lines:2:source').data.f.every(f => f === 2)")
    loss, held = download_held(page, "plot:0", lambda: held_lines(page, "lines:0:source"))
    assert loss.filename == "loss.csv"
    assert loss.header == ["run", "name", "index", "x", "y"]
    assert loss.lines() == held  # every drawn run, exactly the points held, in order
    assert {k.split("|")[0] for k in held} == set(RUNS[:3])
    assert 0 < len(held["r00|loss|0"][0]) < LONG  # decimated as drawn, not the log's 20,000
    acc, held = download_held(page, "plot:1", lambda: held_lines(page, "lines:1:source"))
    assert acc.filename == "acc_top1.csv"  # '/' cannot be in a file name
    assert acc.lines() == held and len(held) == 12
    cloud, pts = download_held(page, "plot:2", lambda: page.evaluate(
        f"() => {{ const d = {SRC}('lines:2:source').data;"
        " return Array.from(d.x, (x, i) => [d.scope[i], d.name[i], String(d.index[i]), x, d.y[i], d.f[i]]); }"))
    assert cloud.header == ["run", "name", "index", "x", "y", "filter"]
    assert [[*r[:3], *map(float, r[3:])] for r in cloud.rows] == pts and len(pts) == 28
    # a line hidden by a click on its legend entry is not drawn: not in the CSV
    page.evaluate(f"() => {{ for (const r of {SRC}('plot:0').renderers) if (r.name === 'r02 · loss · 0') r.visible = false; }}")
    assert set(download_csv(page, "plot:0").lines()) == {"r00|loss|0", "r01|loss|0"}
    page.evaluate(f"() => {{ for (const r of {SRC}('plot:0').renderers) r.visible = true; }}")
    # a run unticked in the runs panel is not drawn, so not in any plot's CSV
    page.evaluate(f"""() => {{ const s = {SRC}('runs:source'); const d = {{...s.data}};
      d.shown = d.scope.map(x => x !== 'r01'); s.data = d; }}""")
    hidden_everywhere = """[0, 1].every(i => { const fig = Bokeh.documents[0].get_model_by_name('plot:' + i);
      const src = Bokeh.documents[0].get_model_by_name('lines:' + i + ':source'); const row = src.data.scope.indexOf('r01');
      return fig.renderers.filter(r => r.data_source === src).every(r => { const f = r.view.filter;
        return f.indices != null ? !Array.from(f.indices).includes(row) : (f.booleans != null && !f.booleans[row]); }); })"""
    _wait(page, hidden_everywhere)
    for plot in (0, 1):
        csv, held = download_held(page, f"plot:{plot}", lambda: held_lines(page, f"lines:{plot}:source", hidden=("r01",)))  # noqa: B023
        got = csv.lines()
        assert got == held
        assert not any(k.startswith("r01|") for k in got) and len(got) == [2, 11][plot]


def test_smoothed_lines_on_a_time_axis_and_groups(server: WebServer, page: Any) -> None:
    open_page(page, server.url + "/?rows=loss&smoothing=0.6&x=wall")
    _wait(page, f"{SRC}('smooth:0:source').data.n.length === 3 && {SRC}('smooth:0:source').data.n.every(n => n > 0)"
                f" && {SRC}('lines:0:source').data.n.every(n => n > 0)")
    both = lambda: (held_lines(page, "lines:0:source"), held_lines(page, "smooth:0:source"))  # noqa: E731
    got, (raw, smooth) = download_held(page, "plot:0", both)
    assert got.header == ["run", "name", "index", "x", "y", "series"]
    assert {r[-1] for r in got.rows} == {"raw", "smoothed"}
    col_x = got.header.index("x")
    when = datetime.fromisoformat(got.rows[0][col_x].replace("Z", "+00:00"))  # ISO 8601, UTC
    assert abs(when.timestamp() - time.time()) < 3600
    for series, held in (("raw", raw), ("smoothed", smooth)):
        rows = [r for r in got.rows if r[-1] == series]
        assert len(rows) == sum(len(xy[0]) for xy in held.values())
        ms = [datetime.fromisoformat(r[col_x].replace("Z", "+00:00")).timestamp() * 1000 for r in rows]
        flat = [x for xy in held.values() for x in xy[0]]
        assert np.allclose(ms, flat, rtol=0, atol=1.0)  # the held wall times, to the millisecond
        assert [float(r[4]) for r in rows] == [y for xy in held.values() for y in xy[1]]
    # groups (group=lr): the group label, x, the aggregate, the band and n of each drawn point
    open_page(page, server.url + "/?rows=loss&group=lr&band=minmax")
    _wait(page, f"new Set({SRC}('group_points:0').data.group).size === 2")
    grouped, pts = download_held(page, "plot:0", lambda: page.evaluate(
        f"""() => {{ const d = {SRC}('group_points:0').data;
        return Array.from(d.x, (x, i) => [d.group[i], x, d.y[i], d.lo[i], d.hi[i], d.n[i]]); }}"""))
    assert grouped.header == ["group", "x", "y", "lo", "hi", "n"]
    assert [[r[0], *map(float, r[1:])] for r in grouped.rows] == pts
    assert {r[0] for r in grouped.rows} == {"lr=0.1", "lr=0.01"}


def test_the_csv_button_works_in_a_standalone_html_file(tmp_path: Path, page: Any) -> None:
    """A figure written with ``bokeh.embed.file_html`` (BokehJS inline, as snapshots are)
    and opened from ``file://``: its button downloads what it draws, with no server."""
    from bokeh.embed import file_html
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    from streamvis.web.plots.csv_download import csv_tool
    from streamvis.web.plots.lines import LineLayer

    fig = figure(name="plot:0", tools="save", width=600, height=400)
    fig.add_tools(csv_tool(fig, plot_name="val/loss", x_time=False))
    layer = LineLayer(fig, None, glyph_kwargs={}, name="lines:0")
    want = {}
    for k, scope in enumerate(["run a", '=1+2,"x"']):
        x = np.arange(30, dtype=np.float64)
        layer.add((scope, "val/loss", k), "#1f77b4", {"x": x, "y": x * 0.5 + k})
        want[f"{scope if k == 0 else chr(39) + scope}|val/loss|{k}"] = [x.tolist(), (x * 0.5 + k).tolist()]
    layer.flush()
    out = tmp_path / "standalone.html"
    out.write_text(file_html(fig, INLINE, "standalone"), encoding="utf-8")
    open_page(page, out.as_uri())
    got = download_csv(page, "plot:0")
    assert got.filename == "val_loss.csv"
    assert got.lines() == want
