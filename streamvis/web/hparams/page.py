"""One hyperparameter page (a browser tab): its polls, its filters, its address.

Reads run in the app's worker pool, never on Bokeh's event loop (as ``page/session.py``):
a poll folds the points logged since the last into a ``SummaryBook`` (its cost follows
the new points) and, only when something changed, builds a ``Frame`` (runs, axes,
positions, colours, table columns) in the worker; the loop assigns it to the models. The
configs are read on the first poll, when new runs appear, and every ``CONFIG_EVERY``
seconds (a config written again reaches the page then). A dragged box on an axis becomes
``range=`` (``model.selection_range``), fades the runs outside every range, narrows the
table and rewrites the address.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from bokeh.document import Document
from bokeh.events import ConnectionLost, Event, SelectionGeometry
from bokeh.models import Column
from bokeh.models.widgets import Div
from tornado.ioloop import IOLoop

from streamvis.errors import InvalidArgumentError
from streamvis.run_analysis import SummaryBook

from .. import safe_html
from ..page.app_config import AppConfig
from ..page.pages import PAGE_CSS, error_page
from .model import (
    Axis,
    Run,
    axis_at,
    bound_text,
    build_axes,
    collect,
    group_rows,
    inside,
    resolve_filters,
    run_colors,
    selection_range,
)
from .query import HPARAMS_PARAMS, HparamsQuery, RangeFilter, parse_hparams, range_query
from .view import IN_ALPHA, OUT_ALPHA, HparamsView, filter_span, positions, table_columns

__all__ = ["Frame", "HparamsPage", "default_metric", "make_hparams_document"]

log = logging.getLogger(__name__)
CONFIG_EVERY = 10.0  # seconds between re-reads of the runs' configs
MAX_NAMES = 60  # names a note lists


@dataclass
class Frame:
    """What a poll built in a worker, for the loop to draw."""

    runs: list[Run]
    axes: list[Axis]
    every: dict[str, Axis]
    keys: list[str]
    colors: list[str]
    ys: np.ndarray
    columns: dict[str, list[Any]]
    notes: list[str] = field(default_factory=list)
    names: list[str] | None = None  # the names logged, when no run logged the metric's
    numbers: dict[str, np.ndarray] = field(default_factory=dict)  # key -> its column, for filters
    grouped: int | None = None  # group=: the rows are groups of this many runs in all

    def rows_text(self, n: int) -> str:
        """``n`` rows as words: "3 runs", or "3 groups" (of how many runs)."""
        if self.grouped is None:
            return f"{n} run{'s' if n != 1 else ''}"
        return f"{n} group{'s' if n != 1 else ''}"


class HparamsPage:
    """The live state of one hyperparameter page."""

    def __init__(self, doc: Document, cfg: AppConfig, query: HparamsQuery) -> None:
        self.doc, self.cfg, self.query = doc, cfg, query
        self.metric_key = query.metric
        self.view = HparamsView(self.metric_key, query.x)
        self.book = SummaryBook(cfg.source, [query.name], scope_pattern=query.scopes)
        self.ranges = list(query.ranges)
        self.frame: Frame | None = None
        self.inside: list[int] = []
        self.closed = False
        self.polls = 0
        self._busy = False
        self._configs: dict[str, dict[str, Any]] | None = None
        self._configs_at = 0.0
        self.config_every = CONFIG_EVERY  # seconds between re-reads of the configs
        self._flat: dict[str, Any] = {}  # scope -> (config, flattened), for collect
        self._scopes_seen = 0
        self._loop = IOLoop.current()
        self.view.coords.on_event(SelectionGeometry, self.on_selection)
        self.view.clear.on_click(self.clear_filters)
        self.view.on_scatter_box = self.on_scatter_selection
        self.view.set_title(f"{self.metric_key}: waiting for runs")
        self._cb = doc.add_periodic_callback(self.tick, max(50, int(cfg.refresh * 1000)))
        doc.on_event(ConnectionLost, lambda _event: self.close())
        with cfg.lock:
            cfg.sessions.add(self)

    # ---- polling ------------------------------------------------------------------
    def _submit(self, work: Callable[[], Any], apply: Callable[[Future[Any]], None]) -> None:
        def on_loop(fut: Future[Any]) -> None:
            if not self.closed:
                try:
                    self.doc.add_next_tick_callback(partial(apply, fut))
                except Exception:  # the document was destroyed meanwhile
                    self.closed = True

        def done(fut: Future[Any]) -> None:  # on a worker thread
            if not self.closed:
                self._loop.add_callback(on_loop, fut)

        self.cfg.executor.submit(work).add_done_callback(done)

    def tick(self) -> None:
        """Start a poll in a worker unless one is running (on the event loop)."""
        if self._busy or self.closed:
            return
        self._busy = True
        self._submit(self.poll, self._apply)

    def poll(self) -> Frame | None:
        """Fold in the new points (in a worker); a new ``Frame`` when anything changed."""
        new = self.book.refresh()
        scopes = len({s for s, _ in self.book.summaries}) if new else self._scopes_seen
        due = time.monotonic() - self._configs_at >= self.config_every
        changed = new > 0 or self.frame is None
        if self._configs is None or due or scopes != self._scopes_seen:
            configs = self.cfg.source.configs(self.query.scopes)
            self._configs_at = time.monotonic()
            changed = changed or configs != self._configs
            self._configs = configs
        self._scopes_seen = scopes
        if not changed:
            return None
        return self.build_frame()

    def build_frame(self) -> Frame:
        """Runs, axes, positions, colours and table columns from the book and configs."""
        q = self.query
        runs = collect(self.book, self._configs or {}, q.name, q.stat, q.where, self._flat)
        grouped: int | None = None
        group_notes: list[str] = []
        if q.group is not None and runs:
            grouped = len(runs)
            runs, group_notes = group_rows(runs, q.group, q.agg)
            group_notes = [f"{n}; {self.metric_key} is the {q.agg} of each group's runs"
                           if i == 0 else n for i, n in enumerate(group_notes)]
        axes, every, notes = build_axes(runs, self.metric_key)
        notes = group_notes + notes
        keys = sorted({k for r in runs for k in r.config if k != self.metric_key})
        names = None
        if not runs:
            if any(n == q.name for _, n in self.book.summaries):
                notes.insert(0, f"no run that logged {q.name!r} matches where=")
            else:
                logged = sorted({g.name for g in self.cfg.source.groups(scope_pattern=q.scopes)})
                names = logged
                listed = ", ".join(logged[:MAX_NAMES]) + (f", … ({len(logged)} names)"
                                                          if len(logged) > MAX_NAMES else "")
                notes.insert(0, f"metric={self.metric_key}: no run logged {q.name!r}; "
                             + (f"names logged: {listed}" if logged else "nothing is logged yet"))
        if q.x is not None and q.x not in every:
            notes.append(f"x={q.x}: no run has config key {q.x!r}; keys: {', '.join(keys) or 'none'}")
        colors = run_colors(runs, every[self.metric_key], q.color_by, self.metric_key)
        if q.color_by is not None and q.color_by != self.metric_key and q.color_by not in every:
            notes.append(f"color_by={q.color_by}: no run has config key {q.color_by!r}")
        frame = Frame(runs, axes, every, keys, colors, positions(runs, axes, self.metric_key),
                      table_columns(runs, keys), notes, names)
        frame.grouped = grouped
        return frame

    def _apply(self, fut: Future[Frame | None]) -> None:
        self._busy = False
        try:
            frame = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            log.warning("streamvis web: hparams poll failed: %s", exc)
            self.view.set_notes([f"The data source cannot be reached: {exc}. Retrying."])
            return
        self.polls += 1
        if frame is not None:
            self.show(frame)

    def show(self, frame: Frame) -> None:
        """Draw ``frame`` (on the event loop), with the filters applied."""
        self.frame = frame
        self.doc.hold("combine")
        try:
            self._show(frame)
        finally:
            self.doc.unhold()

    def _show(self, frame: Frame) -> None:
        with self.doc.models.freeze():
            n = len(frame.runs)
            of = f" of {frame.grouped} runs" if frame.grouped is not None else ""
            self.view.set_title(f"{self.metric_key} over {frame.rows_text(n)}{of}"
                                + (f", against {self.query.x}" if self.query.x else ""))
            self.view.draw_axes(frame.axes)
            self.view.draw_runs(frame.runs, frame.ys, frame.colors, [IN_ALPHA] * n)
            self.view.fill_table(frame.keys, frame.columns)
            x_axis = frame.every.get(self.query.x) if self.query.x else None
            if x_axis is not None:
                self.view.draw_scatter(frame.runs, x_axis, frame.every[self.metric_key],
                                       frame.colors, [IN_ALPHA] * n)
            self._refilter()

    # ---- filters ------------------------------------------------------------------
    def refilter(self) -> None:
        """Apply ``self.ranges``: fade the runs outside, narrow the table, show the boxes
        and write the address (the changes go to the browser as one message)."""
        self.doc.hold("combine")
        try:
            self._refilter()
        finally:
            self.doc.unhold()

    def _refilter(self) -> None:
        frame = self.frame
        self.view.show_url(range_query(self.query.args, self.ranges))
        if frame is None:
            return
        filters, bad = resolve_filters(self.ranges, frame.every)
        self.inside = inside(frame.runs, filters, self.metric_key, frame.numbers).tolist()
        alpha = np.full(len(frame.runs), OUT_ALPHA)
        alpha[self.inside] = IN_ALPHA
        self.view.set_alpha(alpha)
        drawn = {a.key: i for i, a in enumerate(frame.axes)}
        spans = []
        for f in filters:
            i = drawn.get(f.source.key)
            span = filter_span(frame.axes[i], f) if i is not None else None
            if i is not None and span is not None:
                spans.append((i, *span))
        self.view.draw_boxes(spans)
        self.view.show_rows(self.inside)
        self.view.set_notes(frame.notes + bad)
        n = len(frame.runs)
        said = "; ".join(f"{f.source.key} in [{f.lo}, {f.hi}]" for f in filters)
        self.view.set_status(f"{len(self.inside)} of {frame.rows_text(n)} in the filters ({said})"
                             if filters else f"{frame.rows_text(n)}; drag a box on an axis to filter")

    def on_selection(self, event: Event) -> None:
        """A box dragged on the coordinates: the axis under it gets that range (a box of
        no height, or one covering no category, clears the axis's range)."""
        if not isinstance(event, SelectionGeometry) or self.frame is None:
            return
        box = _box(event)
        if box is None:
            return
        x0, x1, y0, y1 = box
        i = axis_at(x0, x1, len(self.frame.axes))
        if i is None:
            return
        axis = self.frame.axes[i]
        r = selection_range(axis, y0, y1)
        self.ranges = [x for x in self.ranges if x.key != axis.key] + ([r] if r is not None else [])
        self.refilter()

    def on_scatter_selection(self, event: Event) -> None:
        """A box dragged on the scatter: ranges on ``x=KEY`` (when numeric) and on the
        metric; a click (no area) clears both."""
        if not isinstance(event, SelectionGeometry) or self.frame is None or self.query.x is None:
            return
        box = _box(event)
        if box is None:
            return
        x0, x1, y0, y1 = box
        keys = [self.metric_key]
        x_axis = self.frame.every.get(self.query.x)
        if x_axis is not None and x_axis.numeric:
            keys.append(x_axis.key)
        new = []
        if x1 > x0 and y1 > y0:
            new.append(RangeFilter(self.metric_key, bound_text(y0, down=True), bound_text(y1, down=False)))
            if len(keys) == 2:
                new.append(RangeFilter(keys[1], bound_text(x0, down=True), bound_text(x1, down=False)))
        self.ranges = [r for r in self.ranges if r.key not in keys] + new
        self.refilter()

    def clear_filters(self) -> None:
        """Drop every range."""
        self.ranges = []
        self.refilter()

    def close(self) -> None:
        """Stop polling and forget this page."""
        if self.closed:
            return
        self.closed = True
        try:
            self.doc.remove_periodic_callback(self._cb)
        except ValueError:
            pass
        with self.cfg.lock:
            self.cfg.sessions.discard(self)


def _box(event: SelectionGeometry) -> tuple[float, float, float, float] | None:
    """A final box selection's (x0, x1, y0, y1) in data units, each pair ordered; None
    for anything else (a drag still going on, another shape, a malformed message)."""
    g: dict[str, Any] = dict(event.geometry or {})
    if not event.final or g.get("type") != "rect":
        return None
    try:
        x0, x1, y0, y1 = (float(g[k]) for k in ("x0", "x1", "y0", "y1"))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)):
        return None
    return min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)


def _help() -> Div:
    params = ", ".join(HPARAMS_PARAMS)
    return Div(text=f"""<div class="sv-page"><p><b>/hparams parameters:</b> {safe_html.text(params)}.
<code>metric=NAME.STAT</code> (required, e.g. <code>metric=loss.min</code>);
<code>where=</code>, <code>scopes=</code>, <code>color_by=</code> as on the plot page;
<code>range=KEY:lo:hi</code> (repeatable); <code>x=KEY</code> (a scatter of the metric against KEY);
<code>group=KEY,...</code> or <code>group=-seed</code> (a line per group of runs) with
<code>agg=mean|median|min|max</code> (the group's metric from its runs').</p></div>""",
               stylesheets=[PAGE_CSS], name="hparams:help")


def default_metric(groups: Sequence[Any]) -> str | None:
    """``/hparams`` without ``metric=``: the first name with "loss" in it at its min, else
    the first name logged at its last value; None when nothing is logged."""
    names = list(dict.fromkeys(g.name for g in groups))
    for name in names:
        if "loss" in name.lower():
            return f"{name}.min"
    return f"{names[0]}.last" if names else None


def make_hparams_document(doc: Document, cfg: AppConfig, args: Mapping[str, Sequence[str]]) -> None:
    """Fill ``doc`` with the hyperparameter page for ``args``, or the error page."""
    doc.title = "streamvis: hyperparameters"
    if not args.get("metric"):  # the header's and index page's link: a sensible default
        default = default_metric(cfg.source.groups())
        if default is not None:
            args = {**args, "metric": [default]}
    try:
        query = parse_hparams(args)
    except InvalidArgumentError as exc:
        doc.add_root(Column(children=[error_page(str(exc), cfg.schema), _help()],
                            sizing_mode="stretch_width"))
        return
    page = HparamsPage(doc, cfg, query)
    doc.add_root(page.view.root)
    doc.on_session_destroyed(lambda _ctx: page.close())
    page.tick()
