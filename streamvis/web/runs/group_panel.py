"""The runs panel's groups (a page with ``group=``): one row per group of runs, expandable
to its runs, with how many of them are shown.

A group's line and band on the plots are computed over its shown runs only, so unticking
a run in the runs table takes it out of its group's aggregate; this table shows the
groups as the plots draw them: the group's label (the grouping keys' values, as text),
its runs (expand the row to list them) and how many of them are ticked. The grouping is
the page's ``group=`` over the runs' configs (``storage.read.run_groups``), the same as
the source computes the lines with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bokeh.models import Column, ColumnDataSource, CustomJS
from bokeh.models.widgets import (
    DataCube,
    Div,
    GroupingInfo,
    StringFormatter,
    SumAggregator,
    TableColumn,
)

from streamvis.storage.read.run_groups import GroupSpec, group_label, group_order, group_runs

from .. import safe_html

__all__ = ["GroupPanel"]

TABLE_HEIGHT = 220
# BokehJS computes a cube's group rows and their totals when it draws the table, not when
# its source changes (a run unticked left the counts as they were). Once the table has
# taken the new data, its provider groups them again, keeping the groups the user expanded
# (drawing the table anew would collapse them all).
REGROUP_JS = """
setTimeout(() => {
  const v = Bokeh.index?.find_one(cube);
  if (v == null || v.data == null || v.grid == null) return;
  v.data.refresh();
  v.grid.invalidate();
}, 0);
"""


class GroupPanel:
    """A ``DataCube`` of the runs grouped by ``spec`` (collapsed: a row per group), under
    a title; ``root`` is what a page lays out.

    The cube is in ``root`` only while it has rows: BokehJS cannot draw a cube of no
    rows (its provider keeps no rows then, and the grid's first count of them throws,
    which stopped the whole page from rendering: a grouped page opened before any run
    wrote its config, and the page of every name, whose panel fills after it is sent)."""

    def __init__(self, spec: GroupSpec) -> None:
        self.spec = spec
        self.source = ColumnDataSource(data=self._empty(), name="groups:source")
        count = SumAggregator(field_="runs")
        shown = SumAggregator(field_="shown")
        self.table = DataCube(
            source=self.source,
            columns=[
                TableColumn(field="group", title="group", width=150, formatter=StringFormatter()),
                TableColumn(field="scope", title="run", width=120, formatter=StringFormatter(null_format="")),
                TableColumn(field="runs", title="runs", width=45),
                TableColumn(field="shown", title="shown", width=50),
            ],
            grouping=[GroupingInfo(getter="group", aggregators=[count, shown], collapsed=True)],
            target=ColumnDataSource(data={"row_indices": [], "labels": []}),
            sortable=False,
            selectable=False,
            autosize_mode="none",
            sizing_mode="stretch_width",
            height=TABLE_HEIGHT,
            name="groups:table",
        )
        self.source.js_on_change("data", CustomJS(args={"cube": self.table}, code=REGROUP_JS))
        self.title = Div(text="", name="groups:title", sizing_mode="stretch_width")
        self.root = Column(children=[self.title], sizing_mode="stretch_width", name="groups:panel")
        self._rows: tuple[tuple[str, str, int], ...] = ()
        self._asked: tuple[dict[str, Any], frozenset[str]] | None = None  # the last update's

    @staticmethod
    def _empty() -> dict[str, list[Any]]:
        return {"group": [], "scope": [], "runs": [], "shown": []}

    def update(self, configs: Mapping[str, Mapping[str, Any] | None], hidden: set[str]) -> None:
        """The rows for the runs ``configs`` lists (flattened configs) and the unticked
        runs ``hidden``; sent only when something changed (a live sweep's polls mostly
        change neither: the grouping is then not computed again)."""
        asked = (dict(configs), frozenset(hidden))
        if asked == self._asked:
            return
        self._asked = asked
        grouping = group_runs(asked[0], self.spec)
        rows: list[tuple[str, str, int]] = []
        for values, scopes in sorted(grouping.groups.items(), key=lambda kv: group_order(kv[0])):
            label = group_label(grouping.keys, values)
            rows += [(label, s, int(s not in hidden)) for s in sorted(scopes)]
        if tuple(rows) == self._rows:
            return
        self._rows = tuple(rows)
        self.source.data = {"group": [r[0] for r in rows], "scope": [r[1] for r in rows],
                            "runs": [1] * len(rows), "shown": [r[2] for r in rows]}
        if bool(rows) != (self.table in self.root.children):  # (see the class docstring)
            self.root.children = [self.title, self.table] if rows else [self.title]

        n = len(grouping.groups)
        said = "; ".join(grouping.notes)
        self.title.text = safe_html.text(
            f"{n} group{'s' if n != 1 else ''} of {len(rows)} runs ({said}): expand a group for its runs")
