"""``GroupedPlotView`` without a browser: what it asks the source to compute and when,
and how a computed result is drawn (thinned past the plot's share, notes, colours)."""

from __future__ import annotations

import numpy as np

from streamvis.run_analysis import GroupAggregates
from streamvis.storage.read.aggregates import aggregate_runs
from streamvis.web.address.layout import Cell
from streamvis.web.plots.group_view import GroupedPlotView, grouping_of
from streamvis.web.plots.line_state import PlotLimits
from streamvis.web.schema import parse_schema

SCHEMA = parse_schema({"A": {"name_pattern": "^a$", "columns": ["x", "y"]}})
CELL = Cell(plot="A", position=0, group=0, left=0, top=0, width=1, height=1, axis="lin")


def _view(**kw: object) -> GroupedPlotView:
    args: dict[str, object] = {"group_by": "lr", "agg": "mean", "band": "minmax",
                               "limits": PlotLimits(budget=100_000, width_px=500)}
    args.update(kw)
    return GroupedPlotView(SCHEMA.plot("A"), CELL, **args)  # type: ignore[arg-type]


def test_grouping_of_the_page_and_plot() -> None:
    assert grouping_of("lr", None) == "lr"
    assert grouping_of(None, "name:tokens") == ":run"  # x=NAME alone: each run its own line
    assert grouping_of(None, "wall") is None and grouping_of(None, None) is None


def test_computes_when_inputs_change_and_not_otherwise() -> None:
    v = _view()
    assert v.need() is None  # nothing seen yet
    assert v.admit(("r1", "a", 0)) is False and ("r1", "a", 0) in v.lines  # listed, not drawn
    v.add_points(("r2", "a", 0), {"x": np.arange(3.0), "y": np.zeros(3)})
    req = v.need()
    assert req is not None and req.scopes == ("r1", "r2") and req.names == ("a",)
    v.show(req, [])
    assert v.need() is None  # drawn and unchanged
    v.set_hidden({"r1"})  # unticked in the runs panel
    req = v.need()
    assert req is not None and req.scopes == ("r2",)
    v.show(req, [])
    v.smoothing.set_value(0.5)
    req = v.need()
    assert req is not None and req.smoothing == 0.5
    v.busy = True
    v.add_points(("r2", "a", 0), {"x": np.arange(3.0, 4.0), "y": np.zeros(1)})
    assert v.need() is None  # one computation in flight at a time


def test_show_draws_each_group_thinned_past_the_share_with_notes() -> None:
    v = _view()
    x = np.arange(20_000.0)
    runs = [(x, np.sin(x / 100) + k) for k in range(3)]
    agg = aggregate_runs(runs)
    small = aggregate_runs([(np.arange(5.0), np.ones(5))])
    got = GroupAggregates(("lr",), {(0.1,): agg, (None,): small}, ["grouped by lr"])
    v.names.add("a")
    req = v.need()
    assert req is not None
    v.show(req, [("a", got)])
    lines = v.groups.lines.data
    assert lines["group"] == ["lr=0.1", "(no lr)"]
    assert len(lines["xs"][0]) <= 2 * 500 + 2 and lines["xs"][0][-1] == x[-1]  # thinned, the ends kept
    assert max(lines["ys"][0]) == agg.y.max() and min(lines["ys"][0]) == agg.y.min()  # no extreme lost
    assert list(lines["xs"][1]) == list(small.x)  # short: every point
    assert len(set(lines["color"])) == 2
    assert "grouped by lr" in v.figure.title.text.text


def test_wall_time_x_is_refused_for_groups_with_a_note() -> None:
    v = _view(x_mode="wall")
    assert "groups are drawn against x" in v.figure.title.text.text
    assert type(v.figure.xaxis[0]).__name__ == "LinearAxis"
