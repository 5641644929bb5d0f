"""The hyperparameter page in real Chromium over a real Bokeh server and log: one polyline
per run with the metric's exact values, a log axis for a key spanning decades, a box
dragged with the mouse filtering the runs (and the address reopening to the same
filter), range= in the address, x=KEY as a scatter, the CSV download, live updates and
the messages for a metric no run logged, an unknown stat and a bad range."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points, Store
from tests.helpers import wait_for

from .conftest import WebServer
from .helpers import open_page

pytestmark = pytest.mark.browser

RUNS = 30
STEPS = 20
WAIT_MS = 30_000
OPTS = ("adam", "sgd", "rms")

# the page's state, read from Bokeh's document
STATE_JS = """() => { try {
  const d = Bokeh.documents[0], m = n => d.get_model_by_name(n);
  const lines = m('hparams:lines'), table = m('hparams:table'), coords = m('hparams:coords');
  if (!lines || !table) return null;
  const ov = coords.below[0].major_label_overrides;
  const labels = {}; for (const [k, v] of ov.entries ? ov.entries() : Object.entries(ov)) labels[k] = v.text ?? v;
  const ticks = m('hparams:ticks').data;
  return {scope: Array.from(lines.data.scope), metric: Array.from(lines.data.metric),
          alpha: Array.from(lines.data.alpha), ys: lines.data.ys.map(a => Array.from(a)),
          xs: lines.data.xs.map(a => Array.from(a)),
          table: Array.from(m('hparams:rows').indices ?? []).map(i => table.data.scope[i]),
          url: window.location.search,
          labels, ticks: {x: Array.from(ticks.x), y: Array.from(ticks.y), text: Array.from(ticks.text)},
          boxes: m('hparams:boxes').data.bottom.length,
          note: m('hparams:note').text, status: m('hparams:status').text};
} catch (e) { return null; } }"""
DRAWN_JS = "n => { const s = (" + STATE_JS + ")(); return s !== null && s.scope.length === n; }"


def config(r: int) -> dict[str, Any]:
    return {"lr": 10.0 ** (-5 + r % 5), "opt": OPTS[r % 3], "layers": r % 4, "seed": r}


@pytest.fixture
def sweep(log_path: str, tmp_path: Any) -> Iterator[tuple[WebServer, dict[str, float]]]:
    """30 runs with configs and a ``loss`` each (and an ``acc`` in one); the server; the
    reference loss.min per run."""
    rng = np.random.default_rng(7)
    ref = {}
    with Store.open(log_path, "a", fsync=False) as s:
        items: list[Any] = []
        for r in range(RUNS):
            y = rng.random(STEPS).astype(np.float32)
            ref[f"run{r:02d}"] = float(y.min())
            items += [ConfigUpdate(f"run{r:02d}", config(r)),
                      Points(f"run{r:02d}", "loss", 0, {"x": np.arange(STEPS), "y": y})]
        items.append(Points("run00", "acc", 0, {"x": np.arange(3), "y": np.ones(3, np.float32)}))
        s.append(items)
    schema = tmp_path / "s.yaml"
    schema.write_text("loss:\n  name_pattern: ^loss$\n  columns: [x, y]\n")
    ws = WebServer(log_path, schema, refresh=0.3)
    try:
        yield ws, ref
    finally:
        ws.stop()


def state(page: Any) -> dict[str, Any]:
    for _ in range(50):
        s = page.evaluate(STATE_JS)
        if s is not None:
            return dict(s)
        page.wait_for_timeout(50)
    raise AssertionError("the page's state could not be read")


def opened(page: Any, url: str, runs: int = RUNS) -> dict[str, Any]:
    open_page(page, url)
    page.wait_for_function(DRAWN_JS, arg=runs, timeout=WAIT_MS, polling=100)
    return state(page)


def test_one_polyline_per_run_with_a_log_axis(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    s = opened(page, ws.url + "/hparams?metric=loss.min")
    assert s["scope"] == sorted(ref)
    assert s["metric"] == [ref[k] for k in s["scope"]]  # exact: float32 values, every point
    labels = [s["labels"][str(i)] for i in range(5)]
    assert labels == ["layers", "lr", "opt", "seed", "loss.min"]
    assert all(xs == [0, 1, 2, 3, 4] for xs in s["xs"])
    lo, hi = min(ref.values()), max(ref.values())
    for scope, ys in zip(s["scope"], s["ys"], strict=True):
        c = config(int(scope[3:]))
        assert ys[1] == pytest.approx((math.log10(c["lr"]) + 5) / 4)  # log: decades evenly
        assert ys[2] == pytest.approx(sorted(OPTS).index(c["opt"]) / 2)  # categories, sorted
        assert ys[3] == pytest.approx(c["seed"] / (RUNS - 1))  # linear
        assert ys[4] == pytest.approx((ref[scope] - lo) / (hi - lo))
    lr_ticks = [t for x, t in zip(s["ticks"]["x"], s["ticks"]["text"], strict=True) if x == 1]
    assert lr_ticks == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1"]
    assert "0" in [t for x, t in zip(s["ticks"]["x"], s["ticks"]["text"], strict=True) if x == 3]
    assert s["table"] == sorted(ref) and set(s["alpha"]) == {0.75}


def _page_xy(page: Any, x: float, y: float) -> dict[str, float]:
    return dict(page.evaluate("""([x, y]) => { const views = [];
      const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
      for (const v of Object.values(Bokeh.index)) walk(v);
      const pv = views.find(v => v.model.name === 'hparams:coords');
      const f = pv.frame.bbox, r = pv.el.getBoundingClientRect();
      const xr = pv.model.x_range, yr = pv.model.y_range;
      return {x: r.x + f.left + (x - xr.start) / (xr.end - xr.start) * f.width,
              y: r.y + f.top + (1 - (y - yr.start) / (yr.end - yr.start)) * f.height}; }""", [x, y]))


def test_dragging_a_box_on_an_axis_filters_and_the_address_reopens_it(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    opened(page, ws.url + "/hparams?metric=loss.min")
    # a user drags a box over the lr axis (x = 1) from position 0.45 to 0.8: 1e-3 and 1e-2
    a, b = _page_xy(page, 0.93, 0.45), _page_xy(page, 1.07, 0.8)
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=8)
    page.mouse.up()
    want = sorted(k for k in ref if config(int(k[3:]))["lr"] in (1e-3, 1e-2))
    page.wait_for_function("want => { const s = (" + STATE_JS + ")(); return s !== null && "
                           "JSON.stringify(s.table) === JSON.stringify(want); }",
                           arg=want, timeout=WAIT_MS, polling=100)
    s = state(page)
    assert "range=lr:" in s["url"] and s["boxes"] == 1
    faded = {k for k, al in zip(s["scope"], s["alpha"], strict=True) if al < 0.5}
    assert faded == set(ref) - set(want)
    assert f"{len(want)} of {RUNS} runs in the filters" in s["status"]
    # the address, opened again, shows the same filter
    again = opened(page, ws.url + "/hparams" + s["url"])
    page.wait_for_function("n => { const s = (" + STATE_JS + ")(); return s !== null && s.table.length === n; }",
                           arg=len(want), timeout=WAIT_MS)
    again = state(page)
    assert again["table"] == want and again["url"] == s["url"] and again["alpha"] == s["alpha"]


def test_ranges_in_the_address_narrow_the_runs(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    opened(page, ws.url + "/hparams?metric=loss.min&range=opt:adam:adam&range=layers:1:2")
    want = sorted(k for k in ref if config(int(k[3:]))["opt"] == "adam" and 1 <= config(int(k[3:]))["layers"] <= 2)
    page.wait_for_function("n => { const s = (" + STATE_JS + ")(); return s !== null && s.table.length === n; }",
                           arg=len(want), timeout=WAIT_MS)
    s = state(page)
    assert s["table"] == want and s["boxes"] == 2
    assert s["url"] == "?metric=loss.min&range=opt:adam:adam&range=layers:1:2"


def test_x_key_draws_a_scatter(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    open_page(page, ws.url + "/hparams?metric=loss.min&x=lr")  # (no coordinates on this page)
    got = page.wait_for_function("""() => { const d = Bokeh.documents[0];
      const f = d.get_model_by_name('hparams:scatterplot'), s = d.get_model_by_name('hparams:scatter');
      if (!f || !s || s.data.x.length === 0) return null;
      return {xscale: f.x_scale.type, yscale: f.y_scale.type, yticks: f.left[0].formatter.type,
              x: Array.from(s.data.x),
              y: Array.from(s.data.y), scope: Array.from(s.data.scope)}; }""", timeout=WAIT_MS).json_value()
    assert got["xscale"] == "LogScale" and got["yscale"] == "LinearScale"
    assert got["yticks"] == "CustomJSTickFormatter"  # the plots' number ticks (plots/ticks.py)
    assert got["scope"] == sorted(ref)
    assert got["x"] == [config(int(k[3:]))["lr"] for k in got["scope"]]
    assert got["y"] == [ref[k] for k in got["scope"]]


def test_csv_download_holds_the_table(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    opened(page, ws.url + "/hparams?metric=loss.min&range=opt:sgd:sgd")
    want = sorted(k for k in ref if config(int(k[3:]))["opt"] == "sgd")
    page.wait_for_function("n => { const s = (" + STATE_JS + ")(); return s !== null && s.table.length === n; }",
                           arg=len(want), timeout=WAIT_MS)
    with page.expect_download(timeout=WAIT_MS) as dl:
        page.get_by_role("button", name="Download CSV").click()
    download = dl.value
    assert download.suggested_filename == "hparams.csv"
    with open(download.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    assert rows[0] == ["scope", "layers", "lr", "opt", "seed", "loss.min"]
    assert [r[0] for r in rows[1:]] == want
    for row in rows[1:]:
        c = config(int(row[0][3:]))
        assert (int(row[1]), float(row[2]), row[3], int(row[4])) == (c["layers"], c["lr"], c["opt"], c["seed"])
        assert np.float32(float(row[5])) == np.float32(ref[row[0]])


def test_the_metric_follows_new_points(sweep: Any, page: Any, log_path: str) -> None:
    ws, ref = sweep
    opened(page, ws.url + "/hparams?metric=loss.min")
    with Store.open(log_path, "a", fsync=False) as s:
        s.append([Points("run05", "loss", 0, {"x": np.array([STEPS]), "y": np.array([-3.0], np.float32)})])
    page.wait_for_function("() => { const s = (" + STATE_JS + ")(); return s !== null && "
                           "s.metric[s.scope.indexOf('run05')] === -3; }", timeout=WAIT_MS, polling=100)


def test_bad_input_says_what_is_wrong(sweep: Any, page: Any) -> None:
    ws, _ = sweep
    open_page(page, ws.url + "/hparams?metric=nope.min")
    page.wait_for_function("() => { const n = Bokeh.documents[0].get_model_by_name('hparams:note');"
                           " return n && n.text.includes('nope'); }", timeout=WAIT_MS)
    note = page.evaluate("() => Bokeh.documents[0].get_model_by_name('hparams:note').text")
    assert "metric=nope.min: no run logged &#x27;nope&#x27;; names logged: acc, loss" in note
    for query, line in [
        ("metric=loss.best", "unknown stat &#x27;best&#x27;: expected one of min, max, first, last, "
                             "mean, count, argmin, argmax"),
        ("metric=loss.min&range=lr:1", "range=&#x27;lr:1&#x27;: expected KEY:lo:hi"),
        ("metric=loss", "metric=&#x27;loss&#x27;: expected NAME.STAT"),
    ]:
        open_page(page, ws.url + "/hparams?" + query)
        text = page.evaluate("() => Bokeh.documents[0].get_model_by_name('error').text")
        assert line in text, (query, text)
    # a range on a key no run has: one line on the page, the rest drawn
    s = opened(page, ws.url + "/hparams?metric=loss.min&range=depth:1:2")
    assert "range=depth:1:2: no run has a column &#x27;depth&#x27;; ignored" in s["note"]


def test_dragging_a_box_on_the_scatter_filters_the_key_and_the_metric(sweep: Any, page: Any) -> None:
    ws, ref = sweep
    open_page(page, ws.url + "/hparams?metric=loss.min&x=lr")
    page.wait_for_function("() => { const s = Bokeh.documents[0].get_model_by_name('hparams:scatter');"
                           f" return s && s.data.x.length === {RUNS}; }}", timeout=WAIT_MS)
    at = """([x, y]) => { const views = [];
      const walk = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c); };
      for (const v of Object.values(Bokeh.index)) walk(v);
      const pv = views.find(v => v.model.name === 'hparams:scatterplot');
      const r = pv.el.getBoundingClientRect();
      return {x: r.x + pv.frame.x_scale.compute(x), y: r.y + pv.frame.y_scale.compute(y)}; }"""
    vals = sorted(ref.values())  # the box's lower edge in the widest gap between middle values
    i = max(range(8, 21), key=lambda j: vals[j + 1] - vals[j])
    lo = (vals[i] + vals[i + 1]) / 2
    a, b = page.evaluate(at, [3e-5, lo]), page.evaluate(at, [3e-3, 2.0])  # lr 1e-4, 1e-3; loss >= lo
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=8)
    page.mouse.up()
    page.wait_for_function("() => window.location.search.includes('range=lr')", timeout=WAIT_MS)
    want = sorted(k for k in ref if config(int(k[3:]))["lr"] in (1e-4, 1e-3) and ref[k] >= lo)
    assert 0 < len(want) < RUNS

    def rows() -> list[str]:  # (the table's rows follow the address: on a busy machine, later)
        return list(page.evaluate("""() => { const d = Bokeh.documents[0];
          const t = d.get_model_by_name('hparams:table'), rows = d.get_model_by_name('hparams:rows');
          return Array.from(rows.indices).map(i => t.data.scope[i]); }"""))

    wait_for(lambda: rows() == want, timeout=WAIT_MS / 1000, interval=0.1)


def test_group_draws_one_polyline_per_group_with_its_runs_mean(sweep: Any, page: Any) -> None:
    """group=opt: a polyline per opt over the grouping key and the metric, the metric the
    mean of its runs' loss.min (exact, from every point); range= on it narrows the groups."""
    ws, ref = sweep
    by_opt: dict[str, list[float]] = {}
    for scope, m in ref.items():
        by_opt.setdefault(config(int(scope[3:]))["opt"], []).append(m)
    s = opened(page, ws.url + "/hparams?metric=loss.min&group=opt", runs=len(OPTS))
    assert s["scope"] == [f"opt={o} ({len(by_opt[o])} runs)" for o in sorted(OPTS)]
    assert s["metric"] == pytest.approx([float(np.mean(by_opt[o])) for o in sorted(OPTS)], rel=1e-12)
    assert [s["labels"][str(i)] for i in range(2)] == ["opt", "loss.min"]
    assert "grouped by opt; loss.min is the mean" in s["note"]
    best = min(sorted(OPTS), key=lambda o: float(np.mean(by_opt[o])))
    m = float(np.mean(by_opt[best]))
    s = opened(page, ws.url + f"/hparams?metric=loss.min&group=opt&range=loss.min:{m - 1e-9}:{m + 1e-9}",
               runs=len(OPTS))
    assert s["table"] == [f"opt={best} ({len(by_opt[best])} runs)"]
    assert "1 of 3 groups in the filters" in s["status"]
