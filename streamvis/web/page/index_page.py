"""The index page: the schema's plots, and a table of every run to sort, search and open.

One row per run: the run, the names it logged, its start time (a ``start-time`` /
``start_time`` config value, as a date), its last update (filled in after the page
opens: ``index_times``), its summaries (``index_summaries``: ``summary=`` as on a plot
page, by default the last value of its first loss-like name, filled in after the page
opens) and its config's keys as columns (nested keys as ``a.b``).
Each row links to the page of every name with that run alone; ticking rows builds a link
to a page with exactly the ticked runs (a ``scopes=`` pattern when it fits in one,
else every run with just the ticked ones shown: ``show=``, see ``run_selection``), and
the search box narrows the table.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from bokeh.models import CDSView, Column, ColumnDataSource, IndexFilter
from bokeh.models.widgets import (
    DataTable,
    Div,
    HTMLTemplateFormatter,
    ScientificFormatter,
    TableColumn,
    TextInput,
)

from streamvis.patterns import MAX_PATTERN_LENGTH
from streamvis.source import DataSource
from streamvis.storage import GroupInfo

from .. import safe_html
from ..address.run_selection import encode_runs
from ..address.where import config_of, flatten
from ..local_time import DATE_CELL_WIDTH, local_time_cells
from ..runs.runs_panel import config_column, date_cell, table_cell
from ..schema import Schema
from ..style import PAGE_CSS, TABLE_CSS
from .index_summaries import index_summary_keys
from .pages import _links_html, _re_escape, example_links

__all__ = ["IndexPage", "index_root", "ticked_link", "MAX_CONFIG_COLUMNS"]

MAX_CONFIG_COLUMNS = 24
START_KEYS = ("start-time", "start_time", "start")
OPEN = '<a href="<%- value %>">open</a>'  # <%- %>: HTML-escaped by the template


def _page_of(schema: Schema, scopes: list[str]) -> str:
    """The page of every name (no schema needed) with these runs alone."""
    pattern = "^(?:" + "|".join(_re_escape(s) for s in scopes) + ")$"
    return "/?" + urllib.parse.urlencode({"scopes": pattern}, safe=",;")


def ticked_link(schema: Schema, picked: list[str], scopes: list[str]) -> str:
    """The page of every name with the ``picked`` runs: read alone (``scopes=``) when
    the pattern fits, else ticked among all (``show=``, any number of runs)."""
    url = _page_of(schema, picked)
    if len(urllib.parse.parse_qs(url[2:]).get("scopes", [""])[0]) <= MAX_PATTERN_LENGTH:
        return url
    return "/?" + urllib.parse.urlencode({"show": encode_runs(picked, scopes)}, safe=",;")


def _date(v: Any) -> Any:
    """A start time: epoch milliseconds (a date in the viewer's zone), else its text."""
    return None if v is None else date_cell(v)


def _text_width(texts: list[str], least: int, most: int) -> int:
    """A column width in pixels that shows the longest of ``texts`` (about 7 px a
    character), within [least, most]."""
    longest = max((len(t) for t in texts), default=0)
    return max(least, min(most, 7 * longest + 16))


class IndexPage(NamedTuple):
    """The index page's models, its runs table's source and the groups it listed (whose
    last points give the runs' last updates: ``index_times``)."""

    root: Column
    table: ColumnDataSource
    groups: list[GroupInfo]
    summary: tuple[str, ...] = ()  # the summary columns (filled in later: index_summaries)


def index_root(source: DataSource, schema: Schema, note: str = "",
               args: Mapping[str, Sequence[str]] | None = None) -> IndexPage:
    """The index page's models (the runs' last updates and summaries are filled in later;
    ``args``: the request's, for ``summary=``)."""
    plots = "".join(
        f"<tr><td><a href='/?rows={urllib.parse.quote(p.name)}'>{safe_html.text(p.name)}</a>"
        f"</td><td><code>{safe_html.text(p.name_pattern)}</code></td>"
        f"<td>{safe_html.text(p.glyph_kind)}</td><td>{safe_html.text(', '.join(p.columns))}</td></tr>"
        for p in schema.plots.values()
    )
    head = [
        "<div class='sv-page'><h1>streamvis</h1>",
        f"<p class='sv-note'>{safe_html.text(note)}</p>" if note else "",
        f"<p>Open: {_links_html(example_links(schema))} · "
        "<a class='sv-hparams' href='/hparams'>hyperparameters</a></p>",
        "<h2>Plots</h2><table class='sv-table sv-plots'><tr><th>plot</th><th>name_pattern</th>"
        f"<th>glyph</th><th>columns</th></tr>{plots}</table><h2>Runs</h2>",
    ]
    try:
        scopes = source.scopes()
        configs: dict[str, Any] = source.configs()
        names: dict[str, list[str]] = {}
        groups = source.groups()
        for g in groups:
            got = names.setdefault(g.scope, [])
            if g.name not in got:
                got.append(g.name)
    except Exception as exc:  # the data is unreachable: say so, keep the page
        scopes, configs, names, groups = [], {}, {}, []
        head.append(f"<p class='sv-error' style='color:#b00020'>cannot list runs: {safe_html.text(str(exc))}</p>")
    if not scopes:
        head.append("<p class='sv-note'>No runs logged yet.</p>")
    summary, bad = index_summary_keys(args or {}, (g.name for g in groups))
    if bad:
        head.append(f"<p class='sv-error' style='color:#b00020'>{safe_html.text(bad)}</p>")
    head.append("</div>")
    flat = {s: flatten(config_of(s, configs) or {}) for s in scopes}  # P/child: P's
    keys: dict[str, None] = {}
    for s in scopes:
        for k in flat[s]:
            if len(keys) < MAX_CONFIG_COLUMNS and k not in START_KEYS:
                keys.setdefault(k)
    data: dict[str, list[Any]] = {
        "scope": scopes,
        "names": [", ".join(names.get(s, [])) for s in scopes],
        "start": [_date(next((flat[s][k] for k in START_KEYS if k in flat[s]), None)) for s in scopes],
        "updated": [None for _ in scopes],  # epoch ms, once read (index_times)
        "open": [_page_of(schema, [s]) for s in scopes],
    }
    for k in summary:
        data[f"sum:{k}"] = [None for _ in scopes]
    for k in keys:
        data[f"cfg:{k}"] = [table_cell(flat[s].get(k)) for s in scopes]
    table_source = ColumnDataSource(data=data, name="index:runs")
    columns = [
        TableColumn(field="open", title="", width=44, formatter=HTMLTemplateFormatter(template=OPEN), sortable=False),
        TableColumn(field="scope", title="run", width=_text_width(scopes, 140, 360)),
        TableColumn(field="names", title="names", width=_text_width(data["names"], 160, 400)),
        TableColumn(field="start", title="start time", width=DATE_CELL_WIDTH, formatter=local_time_cells()),
        TableColumn(field="updated", title="last update", width=DATE_CELL_WIDTH, formatter=local_time_cells()),
        *(TableColumn(field=f"sum:{k}", title=safe_html.column_title(k), width=_text_width([k], 90, 240),
                      formatter=ScientificFormatter(precision=6, nan_format="", null_format=""))
          for k in summary),
        *(config_column(k, _text_width([k, *map(str, data[f"cfg:{k}"])], 70, 240)) for k in keys),
    ]
    rows = IndexFilter(indices=list(range(len(scopes))))
    table = DataTable(
        source=table_source,
        columns=columns,
        view=CDSView(filter=rows),
        sortable=True,
        selectable="checkbox",
        index_position=None,
        autosize_mode="none",  # columns keep their widths; the table scrolls sideways
        reorderable=False,
        sizing_mode="stretch_width",
        height=min(600, 60 + 28 * max(1, len(scopes))),
        name="index:table",
        stylesheets=[TABLE_CSS],
        margin=(4, 16, 16, 16),
    )
    search = TextInput(placeholder="search runs", name="index:search", width=300, margin=(4, 16, 4, 16))
    ticked = Div(text="<p class='sv-note'>Tick runs to open them together.</p>", name="index:ticked",
                 stylesheets=[PAGE_CSS], margin=(0, 16, 0, 16))

    def on_search(attr: str, old: Any, new: Any) -> None:
        text = (new or "").strip().lower()
        rows.indices = [
            i
            for i, s in enumerate(scopes)
            if not text
            or text in " ".join([s, data["names"][i], *(f"{k}={v}" for k, v in flat[s].items())]).lower()
        ]

    def on_tick(attr: str, old: Any, new: Any) -> None:
        picked = [scopes[i] for i in new if 0 <= i < len(scopes)]
        if not picked:
            ticked.text = "<p class='sv-note'>Tick runs to open them together.</p>"
            return
        url = ticked_link(schema, picked, scopes)
        ticked.text = (
            f"<p><a class='sv-open-ticked' href='{safe_html.text(url)}'>"
            f"open the {len(picked)} ticked run{'s' if len(picked) > 1 else ''}</a></p>"
        )

    search.on_change("value_input", on_search)
    table_source.selected.on_change("indices", on_tick)
    top = Div(text="\n".join(head), name="index", sizing_mode="stretch_width", stylesheets=[PAGE_CSS], margin=0)
    root = Column(children=[top, search, ticked, table], sizing_mode="stretch_width", name="index:page")
    return IndexPage(root, table_source, list(groups), summary)
