"""A session's side of the runs panel: rows for the runs its plots show, kept current,
the panel's ticks and highlights applied to every plot, and the panel's state kept in
the page's address (``page_url``; a link's ``hide=``/``show=`` applied to runs as they
appear). ``LiveSession`` holds one ``SessionPanel`` and tells it what its polls saw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from bokeh.events import MouseLeave
from bokeh.models import CustomJS

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.storage.read.run_groups import PER_RUN, parse_group

from .. import safe_html
from ..address.page_url import PageUrl
from ..address.run_selection import RunSelectionError, decode_runs, encode_runs
from ..address.summary_keys import parse_summary_param
from ..plots.lines import Key
from ..plots.plot_view import PlotView
from ..plots.run_colors import RunColors
from .group_panel import GroupPanel
from .run_filter import RunFilter
from .runs_panel import RunRow, RunsPanel

log = logging.getLogger("streamvis.web")

__all__ = ["SessionPanel", "PANEL_INTERVAL"]

PANEL_INTERVAL = 1.0  # seconds between refreshes of the runs panel's table

# Hovering a line selects its run's row in the runs panel (which highlights the run),
# unless the user has selected rows themselves; leaving the plot undoes it.
# The callback runs once per renderer; with few lines each line has its own renderer
# over the shared source, whose ``inspected`` holds only the last renderer's hit, so
# each renderer's own inspection is read from the selection manager.
HOVER_SELECT_JS = """
const r = cb_data.renderer;
if (r.data_source !== lines) return;
const sel = r.get_selection_manager().inspectors.get(r) ?? cb_data.index;
let rows = sel.indices;
const multi = sel.multiline_indices;  // a Map in BokehJS 3
if ((!rows || !rows.length) && multi) rows = multi instanceof Map ? [...multi.keys()] : Object.keys(multi).map(Number);
if (!rows || !rows.length) return;
const j = table.data.scope.indexOf(lines.data.scope[rows[0]]);
const cur = table.selected.indices;
if (j < 0 || (cur.length && !(cur.length === 1 && cur[0] === table._sv_hover))) return;
if (!(cur.length === 1 && cur[0] === j)) table.selected.indices = [j];
table._sv_hover = j;
"""
HOVER_LEAVE_JS = """
const cur = table.selected.indices;
if (table._sv_hover !== undefined && cur.length === 1 && cur[0] === table._sv_hover) table.selected.indices = [];
table._sv_hover = undefined;
"""


class SessionPanel:
    """Keeps a session's runs panel in step with its plots (see the module doc).

    ``views()`` are the session's plots now; ``link`` the runs panel's parameters of the
    page's address (``find``, ``filter``, ``hide``, ``show``); ``scopes()`` lists the
    log's scopes (blocking: called in a worker); ``submit(work, apply)`` runs ``work`` in
    a worker and ``apply`` with its future on the event loop; ``colors`` the page's run
    colours (a row's swatch), the plots' own.
    """

    def __init__(
        self,
        *,
        views: Callable[[], Sequence[PlotView]],
        link: Mapping[str, str],
        color_by: str | None,
        page_url: PageUrl,
        run_filter: RunFilter,
        scopes: Callable[[], list[str]],
        submit: Callable[[Callable[[], Any], Callable[[Any], None]], None],
        colors: RunColors | None = None,
        group_by: str | None = None,
    ) -> None:
        self._views, self._link, self.page_url = views, dict(link), page_url
        self.colors = colors if colors is not None else RunColors(color_by=color_by, run_value=run_filter.value)
        self.run_filter, self._scopes, self._submit = run_filter, scopes, submit
        self.runs: dict[str, RunRow] = {}
        self._runs_seen: dict[int, set[Key]] = {}
        # per run, what its points said so far (kept apart from ``runs``: points can arrive
        # before the run's row exists): the last step of its lines, the last point's wall time
        self._last_steps: dict[str, float] = {}
        self._last_writes: dict[str, float] = {}
        self._panel_dirty, self._panel_at = False, 0.0
        self._link_runs: tuple[str, set[str]] | None = None  # hide=/show= of the link, decoded
        self._state_seq = 0
        self._link_error: str | None = None
        self._link_decoded = False
        self._names: dict[str, None] = {}  # the names the page's plots drew
        self.runs_panel = RunsPanel(on_shown=self._on_shown, on_highlight=self._on_highlight,
                                    on_state=self._on_panel_state, find=self._link.get("find", ""),
                                    filter=self._link.get("filter", ""), color_by=color_by,
                                    summary=parse_summary_param(self._link.get("summary", "")),
                                    on_summary=self._on_summary)
        self.link_hover(self.views)
        # group= (not each run alone): the panel lists the groups too, expandable to their runs
        self.groups = GroupPanel(parse_group(group_by)) if group_by and group_by != PER_RUN else None
        if self.groups is not None:
            self.runs_panel.body.children = [*self.runs_panel.body.children, self.groups.root]

    @property
    def views(self) -> Sequence[PlotView]:
        """The session's plots now (none once it closed)."""
        return self._views()

    def link_hover(self, views: Sequence[PlotView]) -> None:
        """Hovering a line of ``views`` selects its run's row (see HOVER_SELECT_JS)."""
        for v in views:
            args = {"table": self.runs_panel.source, "lines": v.layer.source}
            v.hover.callback = CustomJS(args=args, code=HOVER_SELECT_JS)
            v.figure.js_on_event(MouseLeave, CustomJS(args={"table": self.runs_panel.source}, code=HOVER_LEAVE_JS))

    # ---- the link's run selection ----------------------------------------------------------
    def decode_link_runs(self) -> None:
        """In a worker, once: the runs the link's ``hide=``/``show=`` names."""
        if self._link_decoded:
            return
        panel = self._link
        kind = "hide" if "hide" in panel else "show" if "show" in panel else None
        if kind is None:
            self._link_decoded = True
            return
        try:
            scopes = self._scopes()
        except Exception as exc:  # the source is down: the snapshot fails too, and retries
            log.warning("streamvis web: listing scopes for the link's %s= failed: %s", kind, exc)
            raise
        self._link_decoded = True
        try:
            self._link_runs = (kind, decode_runs(panel[kind], scopes, param=kind))
            self.runs_panel.mode = kind  # ticks keep the link's way with later runs
        except RunSelectionError as exc:
            self._link_error = str(exc)

    def _link_hides(self, scope: str) -> bool:
        if self._link_runs is None:
            return False
        kind, named = self._link_runs
        return (scope in named) == (kind == "hide")

    def note_runs(self) -> None:
        """Runs that appeared on the plots get a row (the run's colour: ``RunColors``); the
        link's ``hide=``/``show=`` decides whether they start ticked."""
        linked = False
        for v in self.views:
            if len(v.lines) == len(self._runs_seen.get(id(v), ())):
                continue
            seen = self._runs_seen.setdefault(id(v), set())
            for key, line in v.lines.items():
                if key not in seen:
                    seen.add(key)
                    if key[1] not in self._names:
                        self._names[key[1]] = None
                        self.runs_panel.set_names(sorted(self._names))
                    if key[0] not in self.runs:
                        self.runs[key[0]] = RunRow(
                            self.colors.swatch(key[0], line.color),
                            last_step=self._last_steps.get(key[0], float("nan")),
                            updated=self._last_writes.get(key[0], 0.0),
                        )
                        self._panel_dirty = True
                        if self._link_hides(key[0]):
                            self.runs_panel.hidden.add(key[0])
                            linked = True
        if self._link_error is not None:
            self.runs_panel.message.text = (
                f"<span class='sv-error' style='color:#b00020'>{safe_html.text(self._link_error)}</span>")
            self._link_error = None
        if linked:
            self._on_shown(set(self.runs_panel.hidden))

    def note_configured(self, scopes: set[str]) -> None:
        """Configs that came after their runs' first points: ``color_by`` colours those
        lines again, and the panel shows the new columns."""
        if not scopes:
            return
        for v in self.views:
            v.configs_arrived(scopes)
        self._panel_dirty = True

    def recolor_rows(self) -> None:
        """After a plot recoloured its lines (``color_by``'s palette or range changed, or
        a run's config came late), each row's swatch takes its run's new colour."""
        if not any(v.color_by is not None and v.color_by.recolored for v in self.views):
            return
        first: dict[str, str] = {}
        for v in self.views:
            if v.color_by is not None:
                v.color_by.recolored = False
            for key, line in v.lines.items():
                first.setdefault(key[0], line.color)
        for scope, row in self.runs.items():
            line_color = first.get(scope)
            color = None if line_color is None else self.colors.swatch(scope, line_color)
            if color is not None and color != row.color:
                row.color = color
                self._panel_dirty = True

    def note_step(self, scope: str, top: float) -> None:
        """A line of ``scope`` (a line plot's x: a step) reached ``top``."""
        if not self._last_steps.get(scope, -np.inf) >= top:
            self._last_steps[scope] = top
            row = self.runs.get(scope)
            if row is not None:
                row.last_step = top
                self._panel_dirty = True

    def _note_write(self, scope: str, when: float) -> None:
        """A point of ``scope`` was written at ``when`` (seconds since the epoch)."""
        if not self._last_writes.get(scope, 0.0) >= when:
            self._last_writes[scope] = when
            row = self.runs.get(scope)
            if row is not None:
                row.updated = when
                self._panel_dirty = True

    def note_reads(self, tables: list[tuple[str, pa.Table]]) -> None:
        """Range reads of these scopes: the last wall time each table holds."""
        for scope, table in tables:
            if WALL_TIME_COLUMN in table.column_names and table.num_rows:
                last = pc.max(table.column(WALL_TIME_COLUMN)).as_py()
                if last is not None and last == last:
                    self._note_write(scope, float(last))

    def note_points(self, scope: str, cols: dict[str, np.ndarray], *, stepped: bool) -> None:
        """New points of ``scope``: its last step (``stepped``: a line plot draws them, so
        ``x`` is a step, not a scatter's coordinate) and its last write, the points'
        ``wall_time`` (or now, for points logged without one: they have just arrived)."""
        x = cols.get("x")
        if stepped and x is not None and x.size:
            top = float(np.nanmax(x)) if x.dtype.kind == "f" else float(x.max())
            if top == top:
                self.note_step(scope, top)
        wall = cols.get(WALL_TIME_COLUMN)
        if wall is not None and wall.size:
            last = float(np.nanmax(wall))
            if last == last:
                self._note_write(scope, last)
        elif x is not None and x.size:
            self._note_write(scope, time.time())

    def refresh(self) -> None:
        """Show the rows' changes in the table (at most every ``PANEL_INTERVAL``)."""
        if not self._panel_dirty or time.monotonic() - self._panel_at < PANEL_INTERVAL:
            return
        self._panel_dirty, self._panel_at = False, time.monotonic()
        runs = {s: r for s, r in self.runs.items() if self.run_filter.allows(s)}  # (where= may drop some)
        configs = {s: self.run_filter.flat(s) for s in runs}
        sums = self.run_filter.summaries
        keys = self.runs_panel.summary_keys
        values = {s: sums.values(s, keys) for s in runs} if keys else None
        self.runs_panel.update(runs, configs, values)
        if self.groups is not None:
            self.groups.update(configs, self.runs_panel.hidden)
        lacking = [k for k in keys if sums.ready and not sums.is_summary(k)]
        self.runs_panel.summary_note.text = "" if not lacking else (
            "<span class='sv-error' style='color:#b00020'>"
            + safe_html.text(f"summary {lacking[0]!r}: no run logged {lacking[0].rsplit('.', 1)[0]!r}")
            + "</span>")

    def _on_summary(self, keys: list[str]) -> None:
        """Summary columns chosen in the panel: kept current from the next poll on."""
        self.run_filter.summaries.want(keys)
        self._panel_dirty, self._panel_at = True, 0.0
        self.refresh()

    def _on_shown(self, hidden: set[str]) -> None:
        for v in self.views:
            v.set_hidden(hidden)
            v.flush()
        if self.groups is not None:
            runs = [s for s in self.runs if self.run_filter.allows(s)]
            self.groups.update({s: self.run_filter.flat(s) for s in runs}, hidden)

    def _on_panel_state(self) -> None:
        """The panel changed: write its state into the page's address. The ticks are
        encoded against the log's scopes, listed in a worker; the newest change wins."""
        self._state_seq += 1
        seq, state = self._state_seq, dict(self.runs_panel.state())
        hidden = set(self.runs_panel.hidden)
        shown = [s for s in self.runs if s not in hidden]
        as_show = self.runs_panel.mode == "show"  # after "only these" (or a show= link)
        # runs that appear later follow what the address says: shown after hide=, not after show=
        self._link_runs = ("show", set(shown)) if as_show else ("hide", hidden) if hidden else None
        if not hidden:
            self.page_url.update(state)
            return

        def apply(fut: Future[list[str]]) -> None:
            if seq != self._state_seq:
                return
            try:
                scopes = fut.result()
            except Exception as exc:
                log.warning("streamvis web: the page's address keeps no run selection: %s", exc)
                return
            if as_show:
                state["show"] = encode_runs(shown, scopes)
            else:
                state["hide"] = encode_runs(hidden, scopes)
            self.page_url.update(state)

        self._submit(self._scopes, apply)

    def _on_highlight(self, scopes: set[str]) -> None:
        for v in self.views:
            v.highlight(scopes)
            v.flush()

