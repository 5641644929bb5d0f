"""The page's Bokeh models: parallel coordinates (or a scatter), the runs table, the CSV.

Everything from the log reaches the browser as text: axis names are ``PlainText`` tick
labels (canvas), tick values a ``Text`` glyph (canvas), table titles go through
``safe_html.column_title``, cells use the default (text) formatter, notes go through
``safe_html.text``. The models are named (``hparams:...``) so tests read them from the
document.

Axis i of the coordinates sits at x = i, its values mapped onto [0, 1]; one polyline per
run (a ``MultiLine`` row). A ``BoxSelectTool`` over one invisible handle per axis sends
the dragged box (``SelectionGeometry``) to the server, which turns it into a filter; on
the scatter (``x=KEY``) a box filters KEY (a numeric one) and the metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from bokeh.events import Event, SelectionGeometry
from bokeh.models import (
    BoxSelectTool,
    CDSView,
    Column,
    ColumnDataSource,
    CustomJS,
    FactorRange,
    FixedTicker,
    HoverTool,
    IndexFilter,
    Range1d,
    Row,
)
from bokeh.models.widgets import Button, DataTable, Div, TableColumn
from bokeh.plotting import figure

from .. import safe_html
from ..address.page_url import REPLACE_STATE_JS
from ..address.where import value_text
from ..page.pages import PAGE_CSS
from ..plots.ticks import use_number_ticks
from .model import Axis, Filter, Run, is_number

__all__ = ["CSV_JS", "HparamsView", "cell", "filter_span", "positions", "table_columns"]

IN_ALPHA, OUT_ALPHA = 0.75, 0.04

# the table's rows (those in the filters, in run order) as CSV (RFC 4180 quoting); a text cell starting with = + - @ (or a tab
# or CR) gets a leading ' so that a spreadsheet does not run it as a formula
CSV_JS = """
const d = source.data, fields = spec.data.field, titles = spec.data.title;
const esc = (v, text) => {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
  let s = String(v);
  if ((text || typeof v === 'string') && /^[=+\\-@\\t\\r]/.test(s)) s = "'" + s;
  if (/[",\\n\\r]/.test(s)) s = '"' + s.replace(/"/g, '""') + '"';
  return s;
};
const lines = [titles.map(t => esc(t, true)).join(',')];
for (const i of rows.indices ?? []) lines.push(fields.map(f => esc(d[f][i], false)).join(','));
const csv = lines.join('\\r\\n') + '\\r\\n';
const a = document.createElement('a');
a.href = URL.createObjectURL(new Blob([csv], {type: 'text/csv'}));
a.download = filename;
document.body.appendChild(a);
a.click();
a.remove();
setTimeout(() => URL.revokeObjectURL(a.href), 10000);
"""


def cell(v: Any) -> Any:
    """A config value as a table cell: numbers as numbers (exact past 2**53), the rest
    as their text ("" for none)."""
    t = type(v)
    if t is str or t is float:
        return v
    if v is None:
        return ""
    if is_number(v):
        return safe_html.exact_cell(v)
    return value_text(v)


def filter_span(axis: Axis, f: Filter) -> tuple[float, float] | None:
    """The part of ``axis`` (positions) that ``f`` covers, for its box; None if none."""
    if axis.numeric:
        if math.isnan(axis.lo):
            return None
        lo, hi = float(f.lo), float(f.hi)
        if axis.log:
            b = 0.0 if lo <= axis.lo else axis.position(lo)
            t = 1.0 if hi >= axis.hi else (axis.position(hi) if hi > 0 else math.nan)
        else:
            b, t = axis.position(lo), axis.position(hi)
        if math.isnan(b) or math.isnan(t) or t < 0 or b > 1:
            return None
        return max(0.0, b), min(1.0, t)
    pos = [axis.position(c) for c in axis.categories if f.lo <= c <= f.hi]
    return (min(pos), max(pos)) if pos else None


def positions(runs: Sequence[Run], axes: Sequence[Axis], metric_key: str) -> np.ndarray:
    """Each run's value on each axis, as positions on [0, 1] (NaN: none): runs x axes."""
    out = np.empty((len(runs), len(axes)), dtype=np.float64)
    for j, a in enumerate(axes):
        out[:, j] = a.positions([r.value(a.key, metric_key) for r in runs])
    return out


def table_columns(runs: Sequence[Run], keys: Sequence[str]) -> dict[str, list[Any]]:
    """The table's columns for every run: ``scope``, ``c0``.. (config keys), ``metric``."""
    out: dict[str, list[Any]] = {"scope": [r.scope for r in runs]}
    for i, k in enumerate(keys):
        out[f"c{i}"] = [cell(r.config.get(k)) for r in runs]
    out["metric"] = [r.metric for r in runs]
    return out


class HparamsView:
    """The models of one page; ``root`` goes into the document."""

    def __init__(self, metric_key: str, x_key: str | None) -> None:
        self.metric_key, self.x_key = metric_key, x_key
        self.lines = ColumnDataSource({"xs": [], "ys": [], "color": [], "alpha": [], "scope": [],
                                       "metric": []}, name="hparams:lines")
        self.axes_src = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})
        self.ticks = ColumnDataSource({"x": [], "y": [], "text": []}, name="hparams:ticks")
        self.boxes = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": []},
                                      name="hparams:boxes")
        self.handles = ColumnDataSource({"x": [], "y": []}, name="hparams:handles")
        self.coords = figure(name="hparams:coords", tools="", sizing_mode="stretch_width", height=420,
                             x_range=Range1d(start=-0.5, end=1.5), y_range=Range1d(start=-0.06, end=1.06),
                             toolbar_location="above")
        c = self.coords
        c.yaxis.visible = False
        c.ygrid.visible = False
        c.xgrid.visible = False
        c.xaxis.ticker = FixedTicker(ticks=[])
        c.xaxis.major_label_text_font_size = "12px"
        c.segment("x0", "y0", "x1", "y1", source=self.axes_src, color="#555", line_width=1.5)
        c.quad(left="left", right="right", bottom="bottom", top="top", source=self.boxes,
               fill_color="#ffb300", fill_alpha=0.25, line_color="#e65100", name="hparams:filters")
        self.line_renderer = c.multi_line("xs", "ys", source=self.lines, line_color="color",
                                          line_alpha="alpha", line_width=1, name="hparams:polylines")
        c.text("x", "y", text="text", source=self.ticks, text_font_size="10px", x_offset=4,
               text_baseline="middle", text_color="#333")
        handle = c.scatter("x", "y", source=self.handles, size=1, alpha=0.0, name="hparams:handle")
        self.box = BoxSelectTool(dimensions="both", renderers=[handle], name="hparams:box")
        hover = HoverTool(renderers=[self.line_renderer], tooltips=[("run", "@scope"),
                                                                    ("metric", "@metric")])
        c.add_tools(self.box, hover)
        c.toolbar.active_drag = self.box
        self.scatter_src = ColumnDataSource({"x": [], "y": [], "color": [], "alpha": [], "scope": []},
                                            name="hparams:scatter")
        self.scatter: Any = None  # made with the first data (its axis types follow the data)
        self.table_src = ColumnDataSource({}, name="hparams:table")
        self.spec = ColumnDataSource({"field": [], "title": []}, name="hparams:csvspec")
        self.rows = IndexFilter(indices=[], name="hparams:rows")
        self.table = DataTable(source=self.table_src, view=CDSView(filter=self.rows), columns=[],
                               sizing_mode="stretch_width",
                               height=300, index_position=None, name="hparams:runs",
                               reorderable=False)  # (needs jquery-ui, which BokehJS warns is absent)
        self.csv = Button(label="Download CSV", name="hparams:csv", width=140)
        self.csv.js_on_click(CustomJS(args={"source": self.table_src, "spec": self.spec, "rows": self.rows,
                                            "filename": "hparams.csv"}, code=CSV_JS))
        self.clear = Button(label="Clear filters", name="hparams:clear", width=120)
        self.nav = Div(text="<a class='sv-page' href='/'>plots</a> &nbsp; "
                            "<a class='sv-index' href='/index'>index</a>",
                       name="hparams:nav", stylesheets=[PAGE_CSS])
        self.title = Div(text="", name="hparams:title", stylesheets=[PAGE_CSS])
        self.note = Div(text="", name="hparams:note", stylesheets=[PAGE_CSS],
                        styles={"color": "#8a4b00"})
        self.status = Div(text="", name="hparams:status", stylesheets=[PAGE_CSS])
        self.url = ColumnDataSource({"query": [""]}, name="hparams:url")
        self.url.js_on_change("data", CustomJS(code=REPLACE_STATE_JS))
        self.plot_box = Column(children=[self.coords], sizing_mode="stretch_width")
        self.root = Column(
            children=[self.nav, self.title, self.note, self.plot_box,
                      Row(children=[self.clear, self.csv, self.status]), self.table],
            sizing_mode="stretch_width", name="hparams:page", tags=[self.url])
        self._fields: dict[str, str] = {}
        self._scatter_rows: list[int] = []
        self.on_scatter_box: Callable[[Event], None] | None = None  # a box dragged on the scatter

    # ---- text ---------------------------------------------------------------------
    def set_title(self, text: str) -> None:
        """The heading (text, escaped)."""
        html = f"<h3 style='margin:4px 0'>{safe_html.text(text)}</h3>"
        if self.title.text != html:
            self.title.text = html

    def set_notes(self, notes: Sequence[str]) -> None:
        """One line per note (text, escaped)."""
        html = "<br>".join(safe_html.text(n) for n in notes)
        if self.note.text != html:
            self.note.text = html

    def set_status(self, text: str) -> None:
        html = f"<span style='padding:6px;display:inline-block'>{safe_html.text(text)}</span>"
        if self.status.text != html:
            self.status.text = html

    # ---- data ---------------------------------------------------------------------
    def draw_axes(self, axes: Sequence[Axis]) -> None:
        """The axis lines, their names and tick values."""
        k = len(axes)
        self.coords.x_range.update(start=-0.3, end=max(k - 0.4, 0.7))
        self.coords.xaxis.ticker = FixedTicker(ticks=list(range(k)))
        self.coords.xaxis.major_label_overrides = {i: safe_html.plain(a.key) for i, a in enumerate(axes)}
        self.axes_src.data = {"x0": list(range(k)), "y0": [0.0] * k, "x1": list(range(k)), "y1": [1.0] * k}
        xs, ys, texts = [], [], []
        for i, a in enumerate(axes):
            for p, label in a.ticks():
                xs.append(i)
                ys.append(p)
                texts.append(label)
        self.ticks.data = {"x": xs, "y": ys, "text": texts}
        self.handles.data = {"x": list(range(k)), "y": [0.5] * k}

    def draw_runs(self, runs: Sequence[Run], ys: np.ndarray, colors: Sequence[str],
                  alpha: Sequence[float]) -> None:
        """One polyline per run: ``ys`` holds each run's positions on the axes (sent as
        plain lists: one binary buffer per run costs the browser seconds at 10,000 runs)."""
        xs = list(range(ys.shape[1] if ys.ndim == 2 else 0))
        self.lines.data = {"xs": [xs] * len(runs), "ys": ys.tolist(), "color": list(colors),
                           "alpha": np.asarray(alpha, dtype=np.float64), "scope": [r.scope for r in runs],
                           "metric": np.array([r.metric for r in runs], dtype=np.float64)}

    def draw_scatter(self, runs: Sequence[Run], x_axis: Axis, metric_axis: Axis,
                     colors: Sequence[str], alpha: Sequence[float]) -> None:
        """The metric against ``x=KEY`` (a new figure when the axes' kinds change)."""
        want = ("cat" if not x_axis.numeric else "log" if x_axis.log else "linear",
                "log" if metric_axis.log else "linear")
        if self.scatter is None or self.scatter.tags != [list(want)]:
            kw: dict[str, Any] = ({"x_range": FactorRange(factors=list(x_axis.categories))}
                                  if want[0] == "cat" else {"x_axis_type": want[0]})
            fig = figure(name="hparams:scatterplot", sizing_mode="stretch_width", height=420,
                         y_axis_type=cast(Any, want[1]), tools="pan,wheel_zoom,reset", tags=[list(want)],
                         **kw)
            fig.xaxis.axis_label = safe_html.plain(x_axis.key)
            fig.yaxis.axis_label = safe_html.plain(self.metric_key)
            use_number_ticks(fig)  # 0.0002, not 2.000e-4 (as on the plots)
            r = fig.scatter("x", "y", source=self.scatter_src, color="color", alpha="alpha", size=7)
            box = BoxSelectTool(renderers=[r], name="hparams:scatterbox")
            fig.add_tools(box, HoverTool(renderers=[r], tooltips=[("run", "@scope"), ("x", "@x"),
                                                                  ("metric", "@y")]))
            fig.toolbar.active_drag = box
            if self.on_scatter_box is not None:
                fig.on_event(SelectionGeometry, self.on_scatter_box)
            self.scatter = fig
            self.plot_box.children = [fig]
        elif want[0] == "cat":
            self.scatter.x_range.factors = list(x_axis.categories)
        keep = [i for i, r in enumerate(runs)
                if r.config.get(x_axis.key) is not None and not math.isnan(r.metric)]
        x = [value_text(runs[i].config[x_axis.key]) if want[0] == "cat"
             else float(runs[i].config[x_axis.key]) for i in keep]
        self.scatter_src.data = {"x": x, "y": [runs[i].metric for i in keep],
                                 "color": [colors[i] for i in keep], "alpha": [alpha[i] for i in keep],
                                 "scope": [runs[i].scope for i in keep]}
        self._scatter_rows = keep

    def set_alpha(self, alpha: Sequence[float] | np.ndarray) -> None:
        """Fade the runs outside the filters (one column sent)."""
        a = np.asarray(alpha, dtype=np.float64)
        self.lines.data["alpha"] = a
        if self.scatter is not None:
            self.scatter_src.data["alpha"] = a[np.asarray(self._scatter_rows, dtype=np.int64)]

    def draw_boxes(self, spans: Sequence[tuple[int, float, float]]) -> None:
        """A shaded box over each filtered part of an axis: (axis, bottom, top)."""
        self.boxes.data = {"left": [i - 0.07 for i, _, _ in spans], "right": [i + 0.07 for i, _, _ in spans],
                           "bottom": [b for _, b, _ in spans], "top": [t for _, _, t in spans]}
        self.handles.selected.indices = []
        self.scatter_src.selected.indices = []

    def fill_table(self, keys: Sequence[str], columns: dict[str, list[Any]]) -> None:
        """Every run's row (``table_columns``); ``show_rows`` picks those shown."""
        fields = {"scope": "scope", **{k: f"c{i}" for i, k in enumerate(keys)}, self.metric_key: "metric"}
        if fields != self._fields:
            self._fields = fields
            self.table.columns = [TableColumn(field=f, title=safe_html.column_title(k))
                                  for k, f in fields.items()]
            self.spec.data = {"field": list(fields.values()), "title": list(fields)}
        self.table_src.data = columns

    def show_rows(self, rows: Sequence[int]) -> None:
        """Show the runs ``rows`` (those in the filters) in the table and the CSV: only
        their indices are sent."""
        self.rows.indices = cast(Any, np.asarray(rows, dtype=np.int32))  # sent as binary

    def shown_scopes(self) -> list[str]:
        """The scopes of the table's rows (in run order)."""
        scopes = self.table_src.data.get("scope", [])
        return [scopes[i] for i in (self.rows.indices if self.rows.indices is not None else [])]

    def show_url(self, query: str) -> None:
        """Point the browser's address at ``query`` (``?...``)."""
        if self.url.data["query"][0] != query:
            self.url.data = {"query": [query]}
