"""The runs panel beside a page's plots: a table of its runs to sort, search, tick and pick.

One row per run (scope) on the page: a colour swatch, the scope, its config's keys
as columns (nested keys flattened as ``a.b``), its last step and last update. The
``shown`` checkbox of a row shows or hides that run on every plot; "only these" shows
just the rows the search and the filter box (``where=`` grammar) leave listed; "show
all" undoes it. Clicking rows highlights their runs' lines on every plot (the others
dimmed); hovering a line selects its row. "colour by" picks a config key for
``color_by=`` (a reload: see ``page_url``). The summary menu adds columns of run
summaries (``loss.min``: any of the page's names and any stat), numbers that sort as
numbers, kept current by the session's polls and kept in the address (``summary=``). Built from Bokeh widgets; the session
applies what they change (``on_shown``, ``on_highlight``) and writes the panel's
state into the page's address (``on_state``, ``state()``).

The panel is as wide as its columns (between ``PANEL_WIDTH`` and ``PANEL_MAX_WIDTH``:
a few config columns show beside the run without scrolling) and the viewer can drag its
bottom-right corner to make it wider or narrower (the plots take the rest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.models import CDSView, Column, ColumnDataSource, CustomJS, IndexFilter, Row
from bokeh.models.widgets import (
    Button,
    DataTable,
    Div,
    HTMLTemplateFormatter,
    MultiChoice,
    NumberFormatter,
    ScientificFormatter,
    Select,
    StringFormatter,
    TableColumn,
    TextInput,
    Toggle,
)

from streamvis.errors import InvalidArgumentError

from .. import safe_html
from ..address.page_url import COLOR_BY_JS
from ..address.summary_keys import MAX_SUMMARY_COLUMNS, STATS
from ..address.where import parse_where, selects
from ..local_time import DATE_CELL_WIDTH, epoch_ms, local_time_cells
from ..style import TABLE_CSS

__all__ = ["RunsPanel", "RunRow", "MAX_CONFIG_COLUMNS", "PANEL_WIDTH", "PANEL_MAX_WIDTH", "table_cell",
           "date_cell", "START_KEYS", "panel_width"]

MAX_CONFIG_COLUMNS = 24
MAX_COLOR_KEYS = 500  # config keys offered by "colour by"
MAX_SUMMARY_OPTIONS = 800  # NAME.STAT entries the summary menu offers
PANEL_WIDTH = 460  # the least: swatch, tick, run, last step, last update
PANEL_MAX_WIDTH = 760  # as wide as its columns up to this (wider: the viewer drags it)
PANEL_MIN_WIDTH = 220  # the narrowest a drag makes it
TICK = '<span class="sv-tick" style="cursor:pointer"><%= value ? "&#9745;" : "&#9744;" %></span>'
# One click on a row's tick toggles it (a cell editor took a double click, a click and
# Enter, and the first click also highlighted the row). Installed on the table's view
# once it is drawn: a capturing click listener that takes clicks on the "shown" column
# before SlickGrid's row selection sees them, and patches the row's value (the server's
# ``_on_edit`` takes the patch).
TICK_CLICK_JS = """
const walk = (v, out) => { out.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c, out); return out; };
const install = () => {
  const views = Object.values(Bokeh.index).flatMap(v => walk(v, []));
  const view = views.find(v => v.model === table);
  if (view === undefined || view.grid === undefined) return false;
  if (view._sv_ticks) return true;
  view._sv_ticks = true;
  const root = view.shadow_el ?? view.el.shadowRoot ?? view.el;
  root.addEventListener("click", (e) => {
    const cell = view.grid.getCellFromEvent(e);
    if (cell == null) return;
    const column = view.grid.getColumns()[cell.cell];
    if (column == null || column.field !== "shown") return;
    const i = view.data.index[cell.row];
    if (i == null) return;
    e.stopImmediatePropagation();
    e.preventDefault();
    source.patch({shown: [[i, !source.data.shown[i]]]});
  }, true);
  return true;
};
if (!install()) { const timer = setInterval(() => { if (install()) clearInterval(timer); }, 100); }
"""
SWATCH = '<span style="display:inline-block;width:12px;height:12px;background:<%- value %>"></span>'
REDRAW_JS = "view.change.emit()"
SLICE_PATCH_AT = 32  # changed rows of a number column sent as one slice from this many on
NUMBER_COLUMNS = frozenset(("last_step", "updated"))  # DataTableView.updateGrid: rows and cells drawn again


@dataclass
class RunRow:
    """What the panel shows of one run."""

    color: str
    last_step: float = float("nan")
    updated: float = 0.0  # seconds since the epoch


class RunsPanel:
    """The widgets of the panel and the state they edit (see the module doc)."""

    def __init__(
        self,
        *,
        on_shown: Callable[[set[str]], None],
        on_highlight: Callable[[set[str]], None],
        on_state: Callable[[], None] = lambda: None,
        find: str = "",
        filter: str = "",
        color_by: str | None = None,
        summary: tuple[str, ...] = (),
        on_summary: Callable[[list[str]], None] = lambda keys: None,
    ) -> None:
        self.on_shown, self.on_highlight, self.on_state = on_shown, on_highlight, on_state
        self.on_summary = on_summary
        self.summary_keys: list[str] = list(summary)  # the summary columns, in order
        self._summaries: dict[str, Mapping[str, Any]] = {}  # run -> NAME.STAT -> value
        self._names: list[str] = []  # the page's names (the summary menu offers them)
        self.scopes: list[str] = []
        self.hidden: set[str] = set()
        # what runs that appear later do: "hide" (they are shown; the address lists the
        # unticked runs) or, after "only these", "show" (they stay hidden)
        self.mode = "hide"
        self._configs: dict[str, Mapping[str, Any]] = {}
        self._keys: list[str] = []  # config keys shown as columns
        self._every_key: list[str] = []  # every config key seen (colour by offers each)
        self.source = ColumnDataSource(data=self._empty(), name="runs:source")
        self._rows = IndexFilter(indices=[])  # the rows the search and filter box leave
        self.table = DataTable(
            source=self.source,
            view=CDSView(filter=self._rows),
            columns=self._columns(),
            sortable=True,
            selectable=True,
            reorderable=False,  # (needs jquery-ui, which BokehJS warns is absent)
            index_position=None,
            # columns keep their widths and the table scrolls sideways: squeezed into the
            # panel ("force_fit", the default) a run's name and times were cut to a few letters
            autosize_mode="none",
            sizing_mode="stretch_both",
            name="runs:table",
            stylesheets=[TABLE_CSS],
        )
        self.search = TextInput(placeholder="search runs", name="runs:search", sizing_mode="stretch_width",
                                value=find, value_input=find)
        self.where = TextInput(
            placeholder="filter: lr<5e-4,opt=adam", name="runs:where", sizing_mode="stretch_width",
            value=filter,
        )
        self._color_by = color_by or ""
        self.color_by = Select(title="", value=self._color_by, options=self._color_options(),
                               name="runs:color_by", sizing_mode="stretch_width")
        self.color_by.js_on_change("value", CustomJS(code=COLOR_BY_JS))
        self.message = Div(text="", name="runs:message", sizing_mode="stretch_width")
        self.summary = MultiChoice(value=list(self.summary_keys), options=self._summary_options(),
                                   placeholder="summary columns (loss.min)", name="runs:summary",
                                   sizing_mode="stretch_width", max_items=MAX_SUMMARY_COLUMNS)
        self.summary.on_change("value", self._on_summary)
        self.summary_note = Div(text="", name="runs:summary_note", sizing_mode="stretch_width")
        self.only = Button(label="only these", name="runs:only", width=100)
        self.all = Button(label="show all", name="runs:all", width=100)
        self.toggle = Toggle(label="runs", active=True, name="runs:toggle", width=70)
        self.body = Column(
            children=[self.search, self.where, self.message, Row(children=[self.only, self.all]),
                      self.color_by, self.summary, self.summary_note, self.table],
            sizing_mode="stretch_height",
            width=PANEL_WIDTH,
            min_width=PANEL_MIN_WIDTH,
            resizable="width",  # CSS resize: the corner handle drags the panel's width
            name="runs:body",
        )
        self.root = Column(
            children=[self.toggle, self.body], sizing_mode="stretch_height", name="runs:panel"
        )
        self.toggle.js_link("active", self.body, "visible")
        self.search.on_change("value_input", self._on_search)
        self.where.on_change("value", self._on_where)
        self.only.on_click(self._only_these)
        self.all.on_click(self._show_all)
        self.source.selected.on_change("indices", self._on_select)
        self.source.on_change("data", self._on_edit)
        # BokehJS redraws a DataTable when its view changes, and its view changes only
        # when the listed rows do: new values in the same rows (a growing last step)
        # were never drawn. Tell the table on every new data or patch.
        redraw = CustomJS(args={"view": self.table.view}, code=REDRAW_JS)
        self.source.js_on_change("data", redraw)
        self.source.js_on_change("patching", redraw)
        self.tick_click = CustomJS(args={"table": self.table, "source": self.source}, code=TICK_CLICK_JS)
        self._listed: set[str] | None = None  # None: every run passes search and filter
        self._setting = False
        if find or filter:
            self._relist(notify=False)

    def state(self) -> dict[str, str]:
        """What the page's address keeps of the panel: search and filter text, summary columns."""
        return {"find": (self.search.value_input or "").strip(), "filter": (self.where.value or "").strip(),
                "summary": ",".join(self.summary_keys)}

    def _summary_options(self) -> list[str | tuple[str, str]]:
        opts = [f"{n}.{st}" for n in self._names for st in STATS][:MAX_SUMMARY_OPTIONS]
        keys = [*(k for k in self.summary_keys if k not in opts), *opts]  # (chosen ones stay)
        # BokehJS's MultiChoice (choices.js, allowHTML) writes labels as HTML: escaped here
        return [(k, safe_html.text(k)) for k in keys]

    def set_names(self, names: list[str]) -> None:
        """The page's names (the summary menu lists each with each stat)."""
        if names != self._names:
            self._names = list(names)
            self.summary.options = self._summary_options()  # type: ignore[assignment]

    def _on_summary(self, attr: str, old: Any, new: Any) -> None:
        keys = [k for k in (new or []) if isinstance(k, str)]
        if keys == self.summary_keys:
            return
        self.summary_keys = keys
        self.on_summary(list(keys))
        self.on_state()

    def _color_options(self) -> list[str | tuple[Any, str]]:
        keys = list(self._every_key)
        if self._color_by and self._color_by not in keys:
            keys.insert(0, self._color_by)
        return [("", "colour: per run"), *((k, f"colour by {k}") for k in keys)]

    # ---- table contents -----------------------------------------------------------------
    def _empty(self) -> dict[str, list[Any]]:
        return {"swatch": [], "scope": [], "shown": [], "last_step": [], "updated": []}

    def _columns(self) -> list[TableColumn]:
        cols = [
            TableColumn(field="swatch", title="", width=18, formatter=HTMLTemplateFormatter(template=SWATCH), sortable=False),
            TableColumn(
                field="shown",
                title="shown",
                width=52,
                formatter=HTMLTemplateFormatter(template=TICK),
                sortable=False,
            ),
            TableColumn(field="scope", title="run", width=140, formatter=StringFormatter()),
            TableColumn(field="last_step", title="last step", width=72, formatter=NumberFormatter(format="0,0")),
            TableColumn(field="updated", title="last update", width=DATE_CELL_WIDTH, formatter=local_time_cells()),
        ]
        for k in self.summary_keys:
            cols.append(TableColumn(field=f"sum:{k}", title=safe_html.column_title(k), width=90,
                                    formatter=ScientificFormatter(precision=6, nan_format="", null_format="")))
        for k in self._keys:
            cols.append(config_column(k, 80))
        return cols

    def update(self, runs: Mapping[str, RunRow], configs: Mapping[str, Mapping[str, Any]],
               summaries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Show ``runs`` (in page order) with their flattened configs and their summaries
        (``NAME.STAT`` -> a number or None) for the summary columns. Only what changed
        is sent: patches of changed cells and new rows streamed, while the rows keep
        their order and the columns theirs (else the whole table)."""
        before = list(self.scopes)
        self.scopes = list(runs)
        self._configs = dict(configs)
        self._summaries = dict(summaries or {})
        every: dict[str, None] = dict.fromkeys(self._every_key)  # in order of first appearance
        for s in self.scopes:
            for k in self._configs.get(s, {}):
                if len(every) >= MAX_COLOR_KEYS:
                    break
                every.setdefault(k)
        keys = list(every)[:MAX_CONFIG_COLUMNS]  # the table's columns (search sees every key)
        columns = [f"sum:{k}" for k in self.summary_keys]
        same_columns = keys == self._keys and all(c in self.source.data for c in columns) and (
            len(self.source.data) == 5 + len(self._keys) + len(columns))
        if not same_columns:
            self._keys = keys
            self.table.columns = self._columns()
            width = panel_width(self.table.columns)
            if width > (self.body.width or 0):  # grows with its columns, never shrinks under the viewer
                self.body.width = width
        if list(every) != self._every_key:
            self._every_key = list(every)
            self.color_by.options = self._color_options()
        data: dict[str, list[Any]] = {
            "swatch": [runs[s].color for s in self.scopes],
            "scope": self.scopes,
            "shown": [s not in self.hidden for s in self.scopes],
            "last_step": [runs[s].last_step for s in self.scopes],
            "updated": [epoch_ms(runs[s].updated) for s in self.scopes],  # the browser's zone
        }
        for k in self.summary_keys:
            data[f"sum:{k}"] = [self._summaries.get(s, {}).get(k) for s in self.scopes]
        for k in self._keys:
            cell = date_cell if k in START_KEYS else table_cell
            data[f"cfg:{k}"] = [cell(self._configs.get(s, {}).get(k)) for s in self.scopes]
        self._setting = True
        try:
            if same_columns and before == self.scopes[: len(before)]:
                self._send_changes(data, len(before))
            else:
                self.source.data = data
        finally:
            self._setting = False
        if self._listed is not None:
            self._relist(notify=False)  # new rows pass the search and filter or not
        else:
            self._apply_listing()

    def _send_changes(self, data: dict[str, list[Any]], n: int) -> None:
        """Patch the cells of the first ``n`` rows that differ from ``data``; stream the
        rows after them."""
        old = self.source.data
        patches: dict[str, list[tuple[Any, Any]]] = {}
        for column, values in data.items():
            prev = old[column]
            same = _same_number if column in NUMBER_COLUMNS else _same
            changed = [(i, values[i]) for i in range(n) if not same(prev[i], values[i])]
            if len(changed) > SLICE_PATCH_AT and column in NUMBER_COLUMNS:
                # a live sweep changes every row's last step and update: one slice of
                # numbers goes as one binary array (each (row, value) pair was encoded
                # on its own: ~12% of a poll's CPU at 1,000 runs)
                lo, hi = changed[0][0], changed[-1][0] + 1
                patches[column] = [(slice(lo, hi), np.asarray(values[lo:hi], dtype=np.float64))]
            elif changed:
                patches[column] = changed
        if patches:
            self.source.patch(patches)  # type: ignore[arg-type]
        if len(self.scopes) > n:
            self.source.stream({column: values[n:] for column, values in data.items()})  # type: ignore[arg-type]

    # ---- search, filter, ticks, selection -------------------------------------------------
    def _on_search(self, attr: str, old: Any, new: Any) -> None:
        self._relist()

    def _on_where(self, attr: str, old: Any, new: Any) -> None:
        self._relist()

    def _relist(self, notify: bool = True) -> None:
        text = (self.search.value_input or "").strip().lower()
        listed: set[str] | None = None
        if text:
            listed = {s for s in self.scopes if text in self._row_text(s)}
        where = (self.where.value or "").strip()
        self.message.text = ""
        if where:
            try:
                conds = parse_where(where)
            except InvalidArgumentError as exc:
                self.message.text = (
                    f"<span class='sv-error' style='color:#b00020'>{safe_html.text(exc)}</span>"
                )
            else:
                ok = {s for s in self.scopes if selects(conds, self._configs.get(s), self._summaries.get(s))}
                listed = ok if listed is None else listed & ok
        self._listed = listed
        self._apply_listing()
        if notify:
            self.on_state()

    def _row_text(self, scope: str) -> str:
        cfg = self._configs.get(scope, {})
        return " ".join([scope, *(f"{k}={v}" for k, v in cfg.items())]).lower()

    def _apply_listing(self) -> None:
        listed = self._listed
        rows = [i for i, s in enumerate(self.scopes) if listed is None or s in listed]
        if list(self._rows.indices or []) != rows:
            self._rows.indices = rows

    def _only_these(self) -> None:
        listed = set(self.scopes) if self._listed is None else self._listed
        self.mode = "show"
        self._set_hidden({s for s in self.scopes if s not in listed})

    def _show_all(self) -> None:
        self.mode = "hide"
        self._set_hidden(set())

    def _set_hidden(self, hidden: set[str]) -> None:
        self.hidden = hidden
        self._setting = True
        try:
            self.source.patch({"shown": [(slice(0, len(self.scopes)), [s not in hidden for s in self.scopes])]})
        finally:
            self._setting = False
        self.on_shown(set(hidden))
        self.on_state()

    def _on_edit(self, attr: str, old: Any, new: Any) -> None:
        if self._setting:
            return
        shown = list(self.source.data.get("shown", []))
        hidden = {s for s, v in zip(self.scopes, shown, strict=False) if not v}
        if hidden != self.hidden:
            self.hidden = hidden
            self.on_shown(set(hidden))
            self.on_state()

    def _on_select(self, attr: str, old: Any, new: Any) -> None:
        picked = {self.scopes[i] for i in new if 0 <= i < len(self.scopes)}
        self.on_highlight(picked)


def panel_width(columns: list[TableColumn]) -> int:
    """The panel's width for these table columns (and a scroll bar), within
    [``PANEL_WIDTH``, ``PANEL_MAX_WIDTH``]."""
    want = sum(int(c.width or 0) for c in columns) + 24
    return max(PANEL_WIDTH, min(PANEL_MAX_WIDTH, want))


def _same(a: Any, b: Any) -> bool:
    """Equal cells (two NaNs, a run's unknown last step, are equal too)."""
    return a == b or (a != a and b != b)


def _same_number(a: Any, b: Any) -> bool:
    """Equal number cells: None and NaN are both unknown (a slice patch sends NaN)."""
    return a == b or ((a is None or a != a) and (b is None or b != b))


def config_column(key: str, width: int) -> TableColumn:
    """The table column of one config key: a run without the key shows an empty cell
    (the default formatter writes "(null)"); a start time (``START_KEYS``) is a date in
    the viewer's zone."""
    if key in START_KEYS:
        return TableColumn(field=f"cfg:{key}", title=safe_html.column_title(key),
                           width=max(width, DATE_CELL_WIDTH), formatter=local_time_cells())
    return TableColumn(field=f"cfg:{key}", title=safe_html.column_title(key), width=width,
                       formatter=StringFormatter(null_format=""))


def table_cell(v: Any) -> Any:
    """A config value as a table cell (numbers and strings as they are, the rest as text)."""
    if v is None or isinstance(v, bool | int | float | str):
        return safe_html.exact_cell(v)
    return str(v)


START_KEYS = ("start-time", "start_time", "start")  # epoch seconds, shown as dates


def date_cell(v: Any) -> Any:
    """A start time's cell: epoch seconds as milliseconds (the browser writes the date in
    its zone, ``local_time``); other values as ``table_cell`` makes them."""
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 1e8:
        return epoch_ms(float(v))
    return table_cell(v)
