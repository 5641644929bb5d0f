"""A line plot of groups of runs (``group=``) or of runs against a logged name (``x=NAME``).

``GroupedPlotView`` is a ``PlotView`` whose lines are not read point by point: its
runs are admitted as usual (so the runs panel lists them and their ticks apply), but
nothing of them is read into the browser. Instead the source computes, over every
point of every shown run (``DataSource.aggregate``: exact, before any decimation), one
line and one band per group, which ``GroupLines`` draws:

- a ``patches`` glyph for the bands (one polygon per group: hi forward, lo back),
- a ``multi_line`` for the aggregate lines,
- invisible markers at every aggregate point, which carry the hover: the group (text,
  never markup), x, the aggregate, the band and n (runs at that x), and the bucket
  grid where the runs' steps differ (``Grid.describe``).

A line longer than the plot's share of points (2 x its width, the point budget shared
by its lines) reaches the browser thinned: every bucket's min and max of the line and
the band kept, so no extreme is hidden; the values drawn are the exact aggregates.

``x=NAME`` without ``group=`` is the same path with each run a group of its own
(``group=:run``, band none): the join of y and NAME on the step is done by the source
over every point. A group's colour: its ``color_by=`` value where the page colours by
one of the grouping keys, else a colour kept for the page's life (``RunColors``, as runs
get theirs); per-run lines have their run's colour. The session's ``GroupReads``
decides when to compute (``need``) and hands the result to ``show``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.models.annotations import LegendItem

from streamvis.run_analysis import GroupAggregates
from streamvis.storage import GroupInfo
from streamvis.storage.read.aggregates import Aggregate
from streamvis.storage.read.decimate import decimate_rows
from streamvis.storage.read.run_groups import PER_RUN, group_label

from .. import safe_html
from ..x_modes import x_name_of
from .line_state import Job
from .lines import Key
from .plot_figure import build_figure
from .plot_view import PlotView
from .rows import Cols

__all__ = ["GroupRequest", "GroupLines", "GroupedPlotView", "grouping_of"]

BAND_ALPHA = 0.18
MIN_POINTS = 64  # points per group line at least, however many share the budget
LEGEND_GROUPS = 30  # legend entries at most (the hover names every group)


@dataclass(frozen=True)
class GroupRequest:
    """What one computation of a plot's groups asks of the source."""

    names: tuple[str, ...]
    group_by: str
    agg: str
    band: str
    x_name: str | None
    smoothing: float
    scopes: tuple[str, ...]


def grouping_of(group_by: str | None, x_mode: str | None) -> str | None:
    """The ``group_by`` a line plot computes with: its ``group=``; with ``x=NAME`` and no
    group, each run alone (``:run``); None: an ordinary plot."""
    if group_by:
        return group_by
    return PER_RUN if x_name_of(x_mode) is not None else None


def _thinned(a: Aggregate, cap: int) -> Aggregate:
    """``a`` as the browser gets it: at most about ``cap`` of its points, every bucket's
    min and max of the line and the band kept (the values themselves exact)."""
    if len(a) <= cap:
        return a
    rows = decimate_rows(a.x, [a.y, a.lo, a.hi], cap)
    return Aggregate(a.x[rows], a.y[rows], a.lo[rows], a.hi[rows], a.n[rows], a.grid)


class GroupLines:
    """The Bokeh models of one plot's groups, and what they were computed from."""

    def __init__(self, figure: Any, legend: Any, *, position: int, glyph_kwargs: Mapping[str, Any]) -> None:
        self.bands = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "group": []},
                                      name=f"group_bands:{position}")
        self.lines = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "group": []},
                                      name=f"group_lines:{position}")
        self.points = ColumnDataSource(
            data={k: [] for k in ("x", "y", "lo", "hi", "n", "group", "color", "grid", "alpha")},
            name=f"group_points:{position}")
        self.band_r = figure.patches("xs", "ys", source=self.bands, fill_color="color",
                                     fill_alpha=BAND_ALPHA, line_alpha=0)
        width = glyph_kwargs.get("line_width", 2)
        self.line_r = figure.multi_line("xs", "ys", source=self.lines, line_color="color", line_width=width)
        # the points show on hover, and always where a group's line is one point (a line
        # of one point strokes nothing: a value logged once per run)
        self.point_r = figure.scatter("x", "y", source=self.points, size=7, fill_color="color",
                                      fill_alpha="alpha", line_alpha=0, hover_fill_color="color",
                                      hover_fill_alpha=0.9, hover_line_alpha=0)
        self.legend = legend
        self._legend_labels: list[str] | None = None  # what the legend shows

    def hover(self, x_label: str, y_label: str, what: str = "group") -> HoverTool:
        """The tool naming the group and the values at the point under the cursor (every
        field is text: Bokeh escapes ``@field`` values)."""
        tips = [(what, "@group"), (x_label, "@x"), (y_label, "@y"), ("band", "@lo – @hi"), ("n", "@n"),
                ("x grid", "@grid")]
        return HoverTool(renderers=[self.point_r], tooltips=tips, mode="mouse")

    def show(self, lines: Sequence[tuple[str, str, Any]], legend: bool) -> None:
        """Draw ``lines``: (label, colour, Aggregate) each; replaces what was drawn."""
        bx, by, lx, ly, colors, labels = [], [], [], [], [], []
        cols: dict[str, list[Any]] = {k: [] for k in self.points.data}
        for label, color, a in lines:
            x = np.asarray(a.x, dtype=np.float64)
            bx.append(np.concatenate([x, x[::-1]]))
            by.append(np.concatenate([a.hi, a.lo[::-1]]))
            lx.append(x)
            ly.append(np.asarray(a.y, dtype=np.float64))
            colors.append(color)
            labels.append(label)
            k = x.size
            cols["x"].append(x)
            cols["y"].append(a.y)
            cols["lo"].append(a.lo)
            cols["hi"].append(a.hi)
            cols["n"].append(np.asarray(a.n, dtype=np.int64))
            # text columns as numpy str arrays: Bokeh sends them as one list (an object
            # array costs an encode per point: most of a poll's time at 10 x 2,000 points)
            cols["group"].append(np.full(k, str(label)))
            cols["color"].append(np.full(k, str(color)))
            cols["grid"].append(np.full(k, a.grid.describe() if a.grid else "exact"))
            cols["alpha"].append(np.full(k, 0.9 if k == 1 else 0.0))
        self.bands.data = {"xs": bx, "ys": by, "color": colors, "group": labels}
        self.lines.data = {"xs": lx, "ys": ly, "color": colors, "group": labels}
        self.points.data = {k: (np.concatenate(v) if v else []) for k, v in cols.items()}
        if legend and labels[:LEGEND_GROUPS] != self._legend_labels:  # (new items: the
            self._legend_labels = labels[:LEGEND_GROUPS]  # document walks every model again)
            self.legend.items = [LegendItem(label=lab, renderers=[self.line_r], index=i)
                                 for i, lab in enumerate(self._legend_labels)]
            self.legend.visible = bool(labels)


class GroupedPlotView(PlotView):
    """A line plot drawn from the source's group aggregates (see the module doc)."""

    def __init__(self, spec: Any, cell: Any, *, group_by: str, agg: str, band: str, **kw: Any) -> None:
        super().__init__(spec, cell, **kw)
        self.x_name = x_name_of(self.x_mode)
        self.group_by, self.agg = group_by, agg
        self.per_run = group_by == PER_RUN
        self.band = "none" if self.per_run else band
        self.color_by = None  # groups take their colours here (``_color``)
        self.layer.legend = None
        self.figure.tools = [t for t in self.figure.tools if t is not self.hover]
        self.groups = GroupLines(self.figure, self.legend, position=cell.position, glyph_kwargs=spec.glyph_kwargs)
        self.hover = self.groups.hover(self.x_name or spec.x, spec.y, "run" if self.per_run else "group")
        self.figure.add_tools(self.hover)
        if self.x_name is not None:
            for axis in self.figure.xaxis:
                axis.axis_label = safe_html.plain(self.x_name)
        if self.x_mode in ("wall", "relative"):  # times differ by run: groups join on steps
            self._note("x", f"groups are drawn against {spec.x}: x={self.x_mode} is per run")
        self.names: set[str] = set()
        self.scopes: set[str] = set()
        self.hidden_runs: set[str] = set()
        self.dirty = True
        self.busy = False
        self.computed: GroupRequest | None = None  # what is drawn
        self.cost = 0.0  # seconds the last computation took

    def _figure(self, webgl: bool) -> Any:
        mode = "step" if self.x_mode in ("wall", "relative") else self.x_mode
        return build_figure(self.spec, self.cell, x_mode=mode, webgl=webgl)

    # ---- what the session's reads and polls tell the plot ---------------------------
    @property
    def needed(self) -> tuple[str, ...]:
        return (self.spec.y,)

    def initial_jobs(self, infos: Sequence[GroupInfo]) -> list[Job]:
        for g in infos:
            self._saw((g.scope, g.name, g.index))
        return []

    def admit(self, key: Key) -> bool:
        self._saw(key)
        return False  # the points themselves are not drawn

    def _saw(self, key: Key) -> None:
        if super().admit(key):
            self.names.add(key[1])
            self.scopes.add(key[0])
            self.dirty = True

    def add_points(self, key: Key, data: Cols) -> None:
        self._saw(key)

    def range_jobs(self, *, zoomed: bool) -> list[Job]:
        return []

    def remove(self, scope: str, name: str | None) -> None:
        super().remove(scope, name)
        if not any(k[0] == scope for k in self.lines):
            self.scopes.discard(scope)
        self.dirty = True

    def clear(self) -> None:
        super().clear()
        self.names.clear()
        self.scopes.clear()
        self.dirty = True

    def set_hidden(self, scopes: set[str]) -> None:
        if scopes != self.hidden_runs:
            self.hidden_runs = set(scopes)
            self.dirty = True

    def highlight(self, scopes: set[str]) -> None:
        return None

    # ---- computing and showing --------------------------------------------------------
    def need(self) -> GroupRequest | None:
        """What to compute now (None: what is drawn is current, or a computation runs)."""
        if self.busy or not self.names:
            return None
        req = GroupRequest(tuple(sorted(self.names)), self.group_by, self.agg, self.band, self.x_name,
                           float(self.smoothing.value), tuple(sorted(self.scopes - self.hidden_runs)))
        if not self.dirty and req == self.computed:
            return None
        self.dirty = False
        return req

    def show(self, req: GroupRequest, results: Sequence[tuple[str, GroupAggregates]]) -> None:
        """Draw what ``req`` computed: one line and band per (name, group)."""
        self.computed = req
        drawn, notes, grids = [], [], set()
        several = len(results) > 1
        for name, got in results:
            for n in got.notes:
                notes.append(f"{name}: {n}" if several else n)
            for values, a in got.aggregates.items():
                label = values[0] if self.per_run else group_label(got.keys, values)
                label = f"{name}: {label}" if several else label
                drawn.append((str(label), self._color(got.keys, values), a))
                if a.grid is not None:
                    grids.add(a.grid.describe())
        cap = max(MIN_POINTS, min(2 * self.width_px, self.limits.budget // max(1, len(drawn))))
        self.groups.show([(lab, c, _thinned(a, cap)) for lab, c, a in drawn], legend=not self.per_run)
        self._note_or_not("groups", "; ".join(dict.fromkeys(notes)))
        self._note_or_not("grid", "; ".join(sorted(grids)))

    def note_error(self, text: str) -> None:
        """Say why the groups could not be computed (in the title, as text)."""
        self._note("groups", text)

    def _note_or_not(self, key: str, text: str) -> None:
        if text:
            self._note(key, text)
        else:
            self._unnote(key)

    def _color(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> str:
        if self.per_run:
            return self.colors.run(str(values[0]))
        by = self.colors.by
        if by is not None and by.key in keys:
            value = values[keys.index(by.key)]
            by.observe(value)
            return by.color(value)
        return self.colors.run("\x00group\x00" + group_label(keys, values))

