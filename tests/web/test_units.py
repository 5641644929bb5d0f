"""Pure pieces of the app: splitting read tables, filter selection, URIs, pages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.errors import InvalidArgumentError
from streamvis.web.page.pages import example_links
from streamvis.web.page.server import parse_web_uri
from streamvis.web.page.session import split_table
from streamvis.web.plots.rows import minmax_thin, minmax_thin_many, select_rows
from streamvis.web.schema import parse_schema


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 6)), max_size=8))
def test_split_table_follows_index_runs(runs):
    idx = np.concatenate([np.full(n, i) for i, n in runs] or [np.zeros(0, np.int64)]).astype(
        np.int64
    )
    x = np.arange(len(idx), dtype=np.float64)
    table = pa.table({"index": idx, "x": x, "y": -x})
    groups = split_table("s", "n", table)
    # consecutive runs with the same index merge; everything is kept in order
    assert np.concatenate([g[1]["x"] for g in groups] or [np.zeros(0)]).tolist() == x.tolist()
    for (scope, name, index), cols in groups:
        assert (scope, name) == ("s", "n")
        assert np.all(idx[cols["x"].astype(int)] == index)
        assert np.all(cols["y"] == -cols["x"])
    assert all(a[0][2] != b[0][2] for a, b in zip(groups, groups[1:], strict=False))


def test_select_rows_takes_largest_value_at_or_below():
    cols = {"x": np.arange(6.0), "y": np.zeros(6), "f": np.array([0, 0, 10, 10, 20, 20.0])}
    assert select_rows(cols, 15)["x"].tolist() == [2, 3]
    assert select_rows(cols, 20)["x"].tolist() == [4, 5]
    assert select_rows(cols, 99)["x"].tolist() == [4, 5]
    assert select_rows(cols, -1)["x"].tolist() == []


def test_parse_web_uri():
    assert parse_web_uri("localhost:5006") == ("localhost", 5006)
    assert parse_web_uri("http://127.0.0.1:80") == ("127.0.0.1", 80)
    for bad in ["localhost", "host:notaport", ":5006", "ftp://h:1"]:
        with pytest.raises(InvalidArgumentError, match="host:port|WEB_URI"):
            parse_web_uri(bad)


def test_example_links_escape_scopes():
    schema = parse_schema({p: {"columns": ["x", "y"]} for p in ["a", "b", "c"]})
    links = dict(example_links(schema, "run.1+x"))
    assert links["all plots"] == "/?rows=a,b;c&scopes=%5Erun%5C.1%5C%2Bx%24"
    assert links["b"].startswith("/?rows=b&")


def test_public_names_exist():
    import importlib

    for mod in [
        "page.app",
        "cli",
        "colors",
        "address.layout",
        "page.pages",
        "plots.plot_view",
        "plots.rows",
        "schema",
        "page.server",
        "page.session",
    ]:
        m = importlib.import_module(f"streamvis.web.{mod}")
        for name in m.__all__:
            assert hasattr(m, name), (mod, name)


@given(st.integers(0, 3000), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_minmax_thin_keeps_every_bucket_extreme(n, buckets, seed):
    rng = np.random.default_rng(seed)
    cols = {"x": np.arange(float(n)), "y": rng.standard_normal(n)}
    out = minmax_thin(cols, buckets)
    assert len(out["x"]) <= max(n, 0) and len(out["x"]) <= max(
        2 * buckets + 2, n if n <= 2 * buckets + 2 else 0
    )
    if n:
        assert out["y"].max() == cols["y"].max() and out["y"].min() == cols["y"].min()
        assert out["x"][0] == 0 and out["x"][-1] == n - 1
        assert np.all(np.diff(out["x"]) > 0)


def _thin_one_by_one(cols, buckets):
    """The plain per-line min/max thinning, the reference: per bucket of
    np.linspace(0, n, buckets + 1) the first row of its smallest and of its largest y
    (NaN neither, unless all are), plus the first and last rows."""
    n = len(cols["x"])
    if n <= 2 * buckets + 2:
        return cols
    y = cols["y"]
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = np.zeros(n, bool)
    keep[0] = keep[-1] = True
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = y[a:b]
        finite = np.where(np.isnan(part), np.inf, part)
        signed = np.where(np.isnan(part), -np.inf, part)
        keep[a + int(np.argmax(finite == finite.min()))] = True
        keep[a + int(np.argmax(signed == signed.max()))] = True
    return {k: v[keep] for k, v in cols.items()}


@given(st.lists(st.tuples(st.integers(0, 400), st.floats(0, 0.5), st.booleans()), max_size=12),
       st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_minmax_thin_many_is_the_plain_thinning_of_each(lines, buckets, seed):
    """Random lengths (short ones left whole), NaNs, float32 and float64 lines mixed;
    one at a time (``minmax_thin``) and all at once alike."""
    rng = np.random.default_rng(seed)
    many = []
    for n, nan_share, single in lines:
        y = rng.standard_normal(n).astype(np.float32 if single else np.float64)
        y[rng.random(n) < nan_share] = np.nan
        many.append({"x": np.sort(rng.integers(0, 10 * n + 1, n)).astype(np.float64), "y": y})
    got = minmax_thin_many(many, buckets)
    assert len(got) == len(many)
    for line, out in zip(many, got, strict=True):
        want = _thin_one_by_one(line, buckets)
        for thinned in (out, minmax_thin(line, buckets)):
            assert thinned.keys() == want.keys()
            for k in want:
                assert thinned[k].dtype == want[k].dtype
                np.testing.assert_array_equal(thinned[k], want[k])


def test_the_panel_shows_24_config_columns_and_offers_every_key_to_colour_by():
    from streamvis.web.runs.runs_panel import MAX_CONFIG_COLUMNS, RunRow, RunsPanel

    panel = RunsPanel(on_shown=lambda hidden: None, on_highlight=lambda picked: None)
    config = {f"k{i:02d}": i for i in range(30)}
    panel.update({"r1": RunRow("#000000")}, {"r1": config})
    shown = [c.field for c in panel.table.columns if c.field.startswith("cfg:")]
    assert shown == [f"cfg:k{i:02d}" for i in range(MAX_CONFIG_COLUMNS)]
    offered = [o[0] for o in panel.color_by.options if o[0]]
    assert offered == list(config)
    panel.search.value_input = "k29=29"  # the search reads every key, shown or not
    assert panel._rows.indices == [0]


def test_a_live_sweep_patches_the_panel_as_one_slice_per_number_column():
    """Every run's last step moving: one slice patch of numbers per column (a binary
    array), not a pair per row; cells equal the rows after it; unknown updates (None,
    then NaN on the browser's side) are not patched again."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnsPatchedEvent

    from streamvis.web.runs.runs_panel import SLICE_PATCH_AT, RunRow, RunsPanel

    panel = RunsPanel(on_shown=lambda hidden: None, on_highlight=lambda picked: None)
    doc = Document()
    doc.add_root(panel.root)
    events: list[ColumnsPatchedEvent] = []
    doc.on_change(lambda e: events.append(e) if isinstance(e, ColumnsPatchedEvent) else None)
    n = SLICE_PATCH_AT * 3
    scopes = [f"r{i:03d}" for i in range(n)]
    panel.update({s: RunRow("#000000", float(i), 0.0) for i, s in enumerate(scopes)}, {})
    rows = {s: RunRow("#000000", float(i + 10), 1.7e9 + i if i % 2 else 0.0) for i, s in enumerate(scopes)}
    panel.update(rows, {})
    patches = {k: v for e in events for k, v in e.patches.items()}
    assert set(patches) == {"last_step", "updated"}
    for column in patches:
        (where, values), = patches[column]  # one slice, its values an array
        assert isinstance(where, slice) and isinstance(values, np.ndarray)
    assert list(panel.source.data["last_step"]) == [float(i + 10) for i in range(n)]
    assert [None if v is None or v != v else v for v in panel.source.data["updated"]] == [
        (1.7e9 + i) * 1000.0 if i % 2 else None for i in range(n)]
    events.clear()
    panel.update(rows, {})  # nothing changed, NaN and None alike
    assert events == []
    rows["r004"] = RunRow("#000000", 99.0, 0.0)
    panel.update(rows, {})  # a few rows: (row, value) pairs as before
    assert [e.patches for e in events] == [{"last_step": [(4, 99.0)]}]


@pytest.mark.parametrize("style_width", [1.5, 3])
def test_many_lines_are_drawn_thin_few_keep_their_width(style_width: float) -> None:
    """Past THIN_LINES_AT lines a plot's one renderer draws 1 px lines (Chromium strokes
    them ~10x faster: 2.5 s -> 0.25 s a paint at 1,000 lines); fewer keep the style's."""
    from bokeh.plotting import figure

    from streamvis.web.plots.lines import LEGEND_MAX, THIN_LINES_AT, LineLayer

    layer = LineLayer(figure(), None, glyph_kwargs={"line_width": style_width}, name="lines:0")
    pts = {"x": np.arange(3.0), "y": np.ones(3)}

    def grow_to(n: int) -> list[float]:
        for i in range(len(layer), n):
            layer.add((f"run{i}", "loss", 0), "#000000", pts)
        layer.flush()
        return [r.glyph.line_width for r in layer.renderers]

    assert grow_to(LEGEND_MAX) == [style_width] * LEGEND_MAX  # a renderer per line
    assert grow_to(THIN_LINES_AT) == [style_width]  # one for all, the style's width
    assert grow_to(THIN_LINES_AT + 1) == [1]


def test_replaced_rows_travel_packed_as_plain_arrays() -> None:
    """Rows a zoom replaces carry their points in one packed set (flat x and y, plain
    arrays that Bokeh sends as binary frames, not base64 in the JSON), not as xs/ys
    patches; the set is a stream, whose message holds its own data, so every set goes,
    equal or not; the server's copy holds the new rows and lengths."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnsPatchedEvent, ColumnsStreamedEvent
    from bokeh.plotting import figure

    from streamvis.web.plots.inline import InlineArray
    from streamvis.web.plots.lines import LineLayer

    fig = figure()
    layer = LineLayer(fig, None, glyph_kwargs={}, name="lines:0")
    doc = Document()
    doc.add_root(fig)
    events: list[object] = []
    doc.on_change(events.append)

    def sent() -> list[dict[str, Any]]:
        out = []
        for e in events:
            assert not isinstance(e, ColumnsPatchedEvent)
            if isinstance(e, ColumnsStreamedEvent) and e.model is layer.rowset:
                out.append({c: v[0] for c, v in e.data.items()})
        events.clear()
        return out

    keys = [(f"run{i}", "loss", 0) for i in range(4)]
    for k in keys:
        layer.add(k, "#000000", {"x": np.arange(5.0), "y": np.ones(5, np.float32)})
    layer.flush()  # the source joins the document whole, rows and all
    assert sent() == []

    def zoom(lo: int) -> dict[str, Any]:
        for j, k in enumerate(keys[1:3]):
            layer.replace(k, {"x": np.arange(lo, lo + 3 + j, dtype=np.float64),
                              "y": np.full(3 + j, lo, np.float32)})
        layer.flush()
        (packed,) = sent()
        return packed

    packed = zoom(100)
    assert list(packed["row"]) == [1, 2] and list(packed["n"]) == [3, 4]
    assert list(packed["x"]) == [100, 101, 102, 100, 101, 102, 103]
    assert not any(isinstance(v, InlineArray) for v in packed.values())
    assert list(layer.source.data["n"]) == [5, 3, 4, 5]
    assert list(layer.data(keys[2])["x"]) == [100, 101, 102, 103]
    assert list(layer.source.data["xs"][2][:4]) == [100, 101, 102, 103]
    assert list(zoom(100)["x"]) == list(packed["x"])  # equal to the last set: sent again
    assert list(zoom(0)["x"]) == [0, 1, 2, 0, 1, 2, 3]
    assert [len(v) for v in layer.rowset.data.values()] == [1] * 5  # one set kept, then
    layer.flush()
    assert [len(v) for v in layer.rowset.data.values()] == [0] * 5  # not kept


def test_the_group_panel_groups_again_only_when_configs_or_ticks_change(monkeypatch) -> None:
    """A live sweep's polls mostly change neither the runs' configs nor the ticks: the
    panel then does not group the runs again; a config written again or an unticked
    run does, and shows in the rows."""
    from streamvis.storage.read.run_groups import parse_group
    from streamvis.web.runs import group_panel

    calls = []
    real = group_panel.group_runs
    monkeypatch.setattr(group_panel, "group_runs", lambda *a: calls.append(1) or real(*a))
    panel = group_panel.GroupPanel(parse_group("lr"))
    configs = {f"r{i}": {"lr": i % 2, "seed": i} for i in range(6)}
    panel.update(configs, set())
    panel.update({s: dict(c) for s, c in configs.items()}, set())  # equal, new objects
    assert len(calls) == 1
    panel.update({**configs, "r0": {"lr": 1, "seed": 0}}, set())
    assert len(calls) == 2 and panel.source.data["group"].count("lr=1") == 4
    panel.update({**configs, "r0": {"lr": 1, "seed": 0}}, {"r1"})
    assert len(calls) == 3 and sum(panel.source.data["shown"]) == 5


def test_name_listings_wait_longer_while_they_find_nothing_and_start_over_when_they_do() -> None:
    from streamvis.web.page.names_page import DISCOVER_MAX_S, DISCOVER_S, Discovery

    d = Discovery(now=100.0)
    assert d.due == 100.0 + DISCOVER_S and d.cursor is None  # (None: the first one lists)
    waits = []
    for _ in range(6):
        d.listed(d.due, "c1", new=False)
        waits.append(d.wait)
    assert waits[0] == 2 * DISCOVER_S and waits[-1] == DISCOVER_MAX_S
    assert waits == sorted(waits) and d.cursor == "c1"
    d.listed(500.0, "c2", new=True)
    assert (d.wait, d.due, d.cursor) == (DISCOVER_S, 500.0 + DISCOVER_S, "c2")


def test_lines_of_one_point_are_dots_of_the_shown_runs() -> None:
    """``single_points``: made at the first one-point line, only the runs not hidden,
    in the line's colour; a line that grows leaves; nothing sent when nothing changed."""
    from bokeh.plotting import figure

    from streamvis.web.plots.lines import LineLayer

    fig = figure()
    layer = LineLayer(fig, None, glyph_kwargs={}, name="lines:0")
    layer.add(("a", "m", 0), "#111111", {"x": np.arange(3.0), "y": np.ones(3)})
    layer.flush()
    assert layer.dots is not None and layer.dots.source is None  # no one-point line: no models
    layer.add(("b", "m", 0), "#222222", {"x": np.array([7.0]), "y": np.array([2.5])})
    layer.add(("c", "m", 0), "#333333", {"x": np.array([8.0]), "y": np.array([3.5])})
    layer.flush()
    src = layer.dots.source
    assert src is not None and dict(src.data) == {
        "x": [7.0, 8.0], "y": [2.5, 3.5], "color": ["#222222", "#333333"], "alpha": [1.0, 1.0],
        "label": ["b · m · 0", "c · m · 0"], "scope": ["b", "c"], "name": ["m", "m"], "index": [0, 0]}
    layer.hidden = {"b"}  # the runs panel's ticks
    layer.append(("c", "m", 0), {"x": np.array([9.0]), "y": np.array([4.0])})
    layer.flush()
    assert dict(src.data)["scope"] == []
    layer.hidden = set()
    layer.set_color(("b", "m", 0), "#444444")
    layer.flush()
    assert src.data["scope"] == ["b"] and src.data["color"] == ["#444444"]
    before = src.data
    layer.flush()
    assert src.data is before  # unchanged: not sent again


def test_legend_labels_leave_out_what_every_line_shares() -> None:
    from streamvis.web.plots.legend_labels import legend_labels

    assert legend_labels([("a", "loss", 0), ("b", "loss", 0)]) == ["a", "b"]  # a card of one name
    assert legend_labels([("a", "loss", 0), ("a", "loss", 2)]) == ["a · 0", "a · 2"]
    assert legend_labels([("a", "loss", 0), ("a", "acc", 0)]) == ["a · loss", "a · acc"]
    assert legend_labels([("a", "loss", 1), ("b", "acc", 0)]) == ["a · loss · 1", "b · acc · 0"]
    assert legend_labels([]) == []
