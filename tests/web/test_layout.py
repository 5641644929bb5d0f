"""URL layout parsing: rows and cols modes, sizes, axes, scopes, names, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.web.address.layout import LayoutError, parse_layout
from streamvis.web.schema import parse_schema

SCHEMA = parse_schema({p: {"columns": ["x", "y"]} for p in ["A", "B", "C", "D"]})


def q(**kw):
    return {k: v if isinstance(v, list) else [v] for k, v in kw.items()}


def boxes(layout):
    return [
        (c.plot, round(c.left, 6), round(c.top, 6), round(c.width, 6), round(c.height, 6))
        for c in layout.cells
    ]


def test_rows_example_from_readme():
    lay = parse_layout(q(rows="A,B;C", width="1,2,1", height="1,2"), SCHEMA)
    assert lay.mode == "rows" and lay.groups == (("A", "B"), ("C",))
    t, b = 1 / 3, 2 / 3
    assert boxes(lay) == [
        ("A", 0, 0, round(1 / 3, 6), round(t, 6)),
        ("B", round(1 / 3, 6), 0, round(2 / 3, 6), round(t, 6)),
        ("C", 0, round(t, 6), 1, round(b, 6)),
    ]


def test_cols_example_from_readme():
    lay = parse_layout(q(cols="A,B;C", width="2,1", height="1,2,1"), SCHEMA)
    assert lay.mode == "cols"
    assert boxes(lay) == [
        ("A", 0, 0, round(2 / 3, 6), round(1 / 3, 6)),
        ("B", 0, round(1 / 3, 6), round(2 / 3, 6), round(2 / 3, 6)),
        ("C", round(2 / 3, 6), 0, round(1 / 3, 6), 1),
    ]


def test_defaults_all_ones_and_lin():
    lay = parse_layout(q(rows="A,B,C;D"), SCHEMA)
    assert [round(c.width, 6) for c in lay.cells] == [round(1 / 3, 6)] * 3 + [1]
    assert [c.height for c in lay.cells] == [0.5] * 4
    assert [c.axis for c in lay.cells] == ["lin"] * 4
    assert lay.scopes is None and all(c.names is None for c in lay.cells)


def test_axes_scopes_names():
    lay = parse_layout(
        q(rows="A;B,C", axes="xlog,ylog,xylog", scopes="^run[12]$", names=["a", "", "c|d"]),
        SCHEMA,
    )
    assert [(c.x_log, c.y_log) for c in lay.cells] == [(True, False), (False, True), (True, True)]
    assert lay.scopes == "^run[12]$"
    assert [c.names for c in lay.cells] == ["a", None, "c|d"]


def test_same_plot_twice_is_allowed():
    assert parse_layout(q(rows="A,A"), SCHEMA).plots == ["A", "A"]


@pytest.mark.parametrize(
    "args, words",
    [
        (q(rows="A", cols="B"), ["exactly one"]),
        (q(rows="A,Z"), ["unknown plot 'Z'", "A, B, C, D"]),
        (q(rows="A,;B"), ["empty plot name", "A, B, C, D"]),
        (q(rows="A,B", width="1"), ["'width=1'", "2 are needed", "plot"]),
        (q(rows="A,B", height="1,2"), ["'height=1,2'", "1 are needed", "row"]),
        (q(cols="A,B;C", width="1"), ["'width=1'", "2 are needed", "column"]),
        (q(cols="A,B;C", height="1,1"), ["'height=1,1'", "3 are needed", "plot"]),
        (q(rows="A,B", width="1,x"), ["'x' is not a number"]),
        (q(rows="A,B", width="1,-2"), ["positive"]),
        (q(rows="A,B", width="1,nan"), ["positive"]),
        (q(rows="A", axes="log"), ["'log'", "lin, xlog, ylog, xylog"]),
        (q(rows="A,B", axes="lin"), ["1 mode", "2 are needed"]),
        (q(rows="A", scopes="(bad"), ["scopes", "(bad"]),
        (q(rows="A,B", names=["a"]), ["once per plot", "A, B"]),
        (q(rows="A", names=["[z-a]"]), ["names", "'A'", "[z-a]"]),
        (q(rows="A", rows2="x"), ["unknown parameter 'rows2'", "rows, cols, width"]),
        (q(rows=["A", "B"]), ["'rows' is given 2 times"]),
    ],
)
def test_bad_parameters_explain(args, words):  # (no rows/cols: test_no_layout_is_every_name)
    with pytest.raises(LayoutError) as info:
        parse_layout(args, SCHEMA)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


grid = st.lists(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4), min_size=1, max_size=4)
weights = st.floats(0.1, 10, allow_nan=False)


@given(st.sampled_from(["rows", "cols"]), grid, st.data())
def test_cells_tile_the_page(mode, groups, data):
    n = sum(len(g) for g in groups)
    per_plot = data.draw(st.lists(weights, min_size=n, max_size=n))
    per_group = data.draw(st.lists(weights, min_size=len(groups), max_size=len(groups)))
    plot_key, group_key = ("width", "height") if mode == "rows" else ("height", "width")
    args = q(
        **{
            mode: ";".join(",".join(g) for g in groups),
            plot_key: ",".join(map(repr, per_plot)),
            group_key: ",".join(map(repr, per_group)),
        }
    )
    lay = parse_layout(args, SCHEMA)
    assert lay.plots == [p for g in groups for p in g]
    area = sum(c.width * c.height for c in lay.cells)
    assert area == pytest.approx(1.0)
    for c in lay.cells:
        assert 0 <= c.left and c.left + c.width <= 1 + 1e-9
        assert 0 <= c.top and c.top + c.height <= 1 + 1e-9
    # within a group, plot sizes follow their weights
    k = 0
    for gi, g in enumerate(groups):
        cells = lay.cells[k : k + len(g)]
        ws = per_plot[k : k + len(g)]
        for c, w in zip(cells, ws, strict=True):
            along = c.width if mode == "rows" else c.height
            across = c.height if mode == "rows" else c.width
            assert along == pytest.approx(w / sum(ws))
            assert across == pytest.approx(per_group[gi] / sum(per_group))
        k += len(g)


def test_no_layout_is_every_name():
    """Without rows=/cols= the page shows every logged name (issue 21): names= filters."""
    lay = parse_layout(q(), SCHEMA)
    assert lay.mode == "names" and lay.cells == () and lay.name_filter is None
    lay = parse_layout(q(names=["^train/"], smoothing="0.6", zoom="1,5", x="wall"), SCHEMA)
    assert (lay.name_filter, lay.smoothing, lay.zoom, lay.x_mode) == ("^train/", 0.6, (1.0, 5.0), "wall")


@pytest.mark.parametrize(
    "args, words",
    [
        (q(smoothing="abc"), ["'smoothing=abc'", "[0, 1)"]),
        (q(smoothing="1"), ["'smoothing=1'", "[0, 1)"]),
        (q(rows="A", smoothing="nan"), ["'smoothing=nan'"]),
        (q(zoom="5,1"), ["'zoom=5,1'", "LO < HI"]),
        (q(names=["(bad"]), ["names", "(bad"]),
        (q(names=["a", "b"]), ["'names' is given 2 times"]),
        (q(width="1"), ["'width=' sizes"]),
    ],
)
def test_bad_page_controls_are_one_line(args, words):
    with pytest.raises(LayoutError) as info:
        parse_layout(args, SCHEMA)
    assert "\n" not in str(info.value)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_rows_name_logged_names_without_a_schema():
    from streamvis.web.schema import Schema

    lay = parse_layout(q(rows="loss,lr;train/acc"), Schema(plots={}))
    assert lay.plots == ["loss", "lr", "train/acc"] and lay.groups == (("loss", "lr"), ("train/acc",))
