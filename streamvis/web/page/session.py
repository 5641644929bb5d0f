"""One browser session: a cursor, a periodic poll in a worker thread, live plots.

Blocking reads never run on Bokeh's event loop: work is submitted to a thread pool and
its result handed back to the loop (``IOLoop.add_callback``, the one thread-safe Tornado
call), which applies it with ``add_next_tick_callback``. The document is never touched
from a worker thread: a callback added from one while Bokeh builds the session is
registered twice, and the page fails with "A callback of the same type has already been
added with this ID". Each application changes the document once per plot layer, inside
``doc.hold("combine")``, so a poll of 1,000 growing runs costs a few messages, not 1,000.

The first poll takes a snapshot (every matching group with its count, and the cursor of
that state), lets each plot admit its groups and size their caps, and reads them all through
one ``read_ranges`` call bounded by those counts (``upto``); later polls ``fetch(since=
cursor)`` and append. Re-reads (overviews of lines past their cap, the zoomed window,
smoothed lines) are batched the same way, throttled while lines grow, at once after a zoom.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from functools import partial
from typing import Any

import re2
from bokeh.document import Document
from bokeh.events import ConnectionLost, RangesUpdate
from tornado.ioloop import IOLoop

from streamvis.backoff import IdleBackoff
from streamvis.errors import CursorResetError
from streamvis.patterns import MAX_PATTERN_LENGTH
from streamvis.storage import GroupSnapshot

from ..address.layout import Cell, Layout
from ..address.page_url import PageUrl
from ..plots.group_view import GroupedPlotView, grouping_of
from ..plots.line_state import PlotLimits
from ..plots.plot_view import Job, PlotView
from ..plots.run_colors import RunColors
from ..runs.run_filter import RunFilter
from ..runs.run_summaries import page_summaries
from ..runs.session_panel import SessionPanel
from ..schema import PlotSpec
from .app_config import AppConfig
from .group_reads import GroupReads
from .model_batch import models_batched
from .notes import Banner, waiting_notes
from .polls import Joined, Poll, fetch_groups, is_object_store, join, split_table
from .range_rounds import RangeRounds, apply_jobs
from .selection import SelectionReads

__all__ = ["AppConfig", "LiveSession", "split_table"]

log = logging.getLogger(__name__)
DEBOUNCE_MS = 5  # filter slider moves (zooms are not debounced: see _on_ranges)
IDLE_CEILING = 10.0  # seconds between polls of an idle object-store log at most

class LiveSession:
    """The live state of one document (browser tab); ``panel`` keeps its runs panel."""

    def __init__(self, doc: Document, cfg: AppConfig, layout: Layout, *, webgl: bool = False,
                 args: Mapping[str, Sequence[str]] | None = None, specs: Sequence[PlotSpec] | None = None) -> None:
        """``specs``: the plot of each of the layout's cells (default: the schema's)."""
        self.doc, self.cfg, self.layout, self.webgl = doc, cfg, layout, webgl
        self._loop = IOLoop.current()  # Bokeh builds documents on its event loop
        self.run_filter = RunFilter(layout.where, keep_configs=True, summaries=page_summaries(layout))
        # a run's colour, the same on every plot and in the panel, for the page's life
        self.colors = RunColors(color_by=layout.color_by, run_value=self.run_filter.value)
        self.smoothing = layout.smoothing
        self.scope_pattern = layout.scopes
        self._scope_re = re2.compile(layout.scopes) if layout.scopes else None
        self.views: list[PlotView] = []
        self._joining: list[PlotView] = []  # made, waiting to join the session's reads
        self._routes: dict[tuple[str, str], list[int]] = {}
        self._snap_groups: list[Any] = []
        self.cursor: str | None = None
        self.closed = False
        self.polls = 0
        self._busy = False
        self.rounds = RangeRounds(
            views=lambda: self.views, submit=self._submit, ready=lambda: self.cursor is not None,
            read=lambda jobs, throttled: self._read_jobs(jobs, throttled=throttled),
            refresh=cfg.refresh,
        )
        self._debounce: dict[Any, Any] = {}
        self.on_zoom: Callable[[tuple[float, float]], None] | None = None  # the page's zoom=
        self.selection = SelectionReads(cfg.source, self._submit, lambda: not self.closed)
        self.group_reads = GroupReads(cfg.source, self._submit, lambda exc: self._source_down(exc))
        self.views = [
            self.make_view(cfg.schema.plot(c.plot) if specs is None else specs[k], c)
            for k, c in enumerate(layout.cells)
        ]
        self._set_patterns()
        self.notice = Banner()
        self.banner = self.notice.div
        self._source_down = self.notice.source_down
        self.page_url = PageUrl(args or {})
        self.panel = SessionPanel(
            views=lambda: self.views, link=dict(layout.panel), color_by=layout.color_by,
            page_url=self.page_url, run_filter=self.run_filter, scopes=cfg.source.scopes,
            submit=self._submit, colors=self.colors, group_by=layout.group_by,
        )
        # polls of an object store cost requests: an idle page polls less often
        ceiling = IDLE_CEILING if is_object_store(cfg.source) else cfg.refresh
        self.backoff = IdleBackoff(cfg.refresh, ceiling=ceiling)
        self._cb = doc.add_periodic_callback(self.tick, max(50, int(cfg.refresh * 1000)))
        # the tab's websocket closed: nothing more to send it (Bokeh keeps the session
        # some seconds longer; pushing to it then logs "Failed sending message")
        doc.on_event(ConnectionLost, lambda _event: self._connection_lost())
        with cfg.lock:
            cfg.sessions.add(self)

    # ---- plots -------------------------------------------------------------------
    def make_view(self, spec: PlotSpec, cell: Cell, *, slider: bool = True,
                  limits: PlotLimits | None = None) -> PlotView:
        """A plot of this page (its x mode, colours, smoothing; ``limits``: the page's),
        wired to this session; ``add_views`` (or the constructor) makes it read."""
        kw: dict[str, Any] = dict(limits=limits or self.cfg.limits, webgl=self.webgl, color_by=self.layout.color_by,
                                  run_value=self.run_filter.value, x_mode=self.layout.x_mode,
                                  colors=self.colors, smoothing_slider=slider)
        lay, grouping = self.layout, None
        if spec.glyph_kind == "line":  # group= and x=NAME: drawn from the source's aggregates
            grouping = grouping_of(spec.group or lay.group_by, spec.x_mode or lay.x_mode)
        v = PlotView(spec, cell, **kw) if grouping is None else GroupedPlotView(
            spec, cell, group_by=grouping, agg=spec.agg or lay.agg, band=spec.band or lay.band, **kw)
        v.smoothing.set_value(self.smoothing if spec.smoothing is None else spec.smoothing)
        if self.layout.zoom is not None and v.is_line:
            v.figure.x_range.update(start=self.layout.zoom[0], end=self.layout.zoom[1])
            v.view_range = self.layout.zoom
        v.figure.on_event(RangesUpdate, partial(self._on_ranges, v))
        if v.filter_slider is not None:
            v.filter_slider.on_select = partial(self._on_select, v)
        v.smoothing.on_change = partial(self._on_smoothing, v)
        v.figure.on_change("inner_width", partial(self._on_width, v))
        return v

    def add_views(self, views: Sequence[PlotView]) -> None:
        """Plots made after the page (cards scrolled to): they join the session's reads
        at its next tick, from the same state as the others (``polls.join``)."""
        self._joining += views
        self.panel.link_hover(views)
        self.backoff.wake()
        self.tick()

    def _set_patterns(self) -> None:
        """The one name pattern the session reads (its plots' names; None: every name)."""
        self.name_pattern: str | None = "|".join(f"(?:{v.name_pattern})" for v in self.views)
        if len(self.name_pattern) > MAX_PATTERN_LENGTH:
            self.name_pattern = None  # too long for one pattern: read every name, route below
        self._name_res = [re2.compile(v.name_pattern) for v in self.views]
        self._routes = {}

    def set_smoothing(self, value: float) -> None:
        """The page's smoothing (the header's control): every plot, read again."""
        self.smoothing = value
        for v in [*self.views, *self._joining]:
            if v.spec.smoothing is None:  # (a schema's own smoothing stays)
                v.smoothing.set_value(value)
        self._later("smooth", partial(self.rounds.maybe, set(range(len(self.views)))), 100)

    # ---- plumbing ----------------------------------------------------------------
    def _submit(
        self, work: Callable[[], Any], apply: Callable[[Any], None], *, freeze: bool = True
    ) -> None:
        def on_loop(fut: Future[Any]) -> None:
            if self.closed:
                return
            try:
                self.doc.add_next_tick_callback(partial(self._applying, apply, fut, freeze))
            except Exception:  # the document was destroyed meanwhile
                self.closed = True

        def done(fut: Future[Any]) -> None:  # on a worker thread (or the loop, if fast)
            if not self.closed:  # (a closed loop drops the callback: Tornado's contract)
                self._loop.add_callback(on_loop, fut)

        self.cfg.executor.submit(work).add_done_callback(done)

    def _applying(self, apply: Callable[[Any], None], fut: Future[Any], freeze: bool = True) -> None:
        """Run ``apply`` on the event loop with the document's changes held and combined,
        then send every plot's changes. ``freeze``: batch model changes (``models_batched``;
        a zoom's re-read goes without)."""
        if self.closed:
            return
        self.doc.hold("combine")
        try:
            with models_batched(self.doc) if freeze else nullcontext():
                apply(fut)
                self.panel.note_runs()
                for v in self.views:
                    v.flush()
                self.panel.recolor_rows()
                self.panel.refresh()
        finally:
            self.doc.unhold()

    def _routes_of(self, scope: str, name: str) -> list[int]:
        """The plots a (scope, name) belongs to (cached: polls ask for thousands)."""
        if not self.run_filter.allows(scope):
            return []
        hit = self._routes.get((scope, name))
        if hit is None:
            if self._scope_re is not None and not self._scope_re.search(scope):
                hit = []
            else:
                hit = [i for i, rx in enumerate(self._name_res) if rx.search(name)]
            self._routes[(scope, name)] = hit
        return hit

    # ---- polling -----------------------------------------------------------------
    def tick(self) -> None:
        """Start a poll in a worker unless one is running (called on the event loop)."""
        if self._busy or self.closed:
            return
        if self.cursor is not None:  # runs ticked, smoothing moved: grouped plots anew
            self.group_reads.maybe(self.views)
        if self.cursor is None and self._joining:  # no state: the first card alone, drawn
            self.views += self._joining[:1]  # before the others are read (they join after it)
            self._joining = self._joining[1:]
            self._set_patterns()
        if self._joining and self.cursor is not None:
            self._busy = True
            new = list(self._joining)
            self._submit(partial(self._join, self.cursor, new), partial(self._apply_join, new))
            return
        if not self.views or (self.cursor is not None and not self.backoff.due()):
            return  # (a page without plots reads nothing)
        self._busy = True
        if self.cursor is None:
            self._submit(self._snapshot, self._apply_snapshot)
        else:
            self._submit(partial(self._fetch, self.cursor), self._apply_poll)

    # ---- plots joining a live page -----------------------------------------------------
    def _join(self, cursor: str | None, new: list[PlotView]) -> Joined:
        """(In a worker.) The session's polls and the new plots' snapshot, aligned."""
        pattern: str | None = "|".join(f"(?:{v.name_pattern})" for v in new)
        if pattern is not None and len(pattern) > MAX_PATTERN_LENGTH:
            pattern = None

        def snapshot() -> GroupSnapshot:
            self.panel.decode_link_runs()
            snap = self.cfg.source.snapshot(scope_pattern=self.scope_pattern, name_pattern=pattern)
            self.run_filter.decide(self.cfg.source, dict.fromkeys(g.scope for g in snap.groups))
            return snap

        return join(cursor, self._fetch, snapshot)

    def _apply_join(self, new: list[PlotView], fut: Future[Joined]) -> None:
        try:
            joined = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            self._busy = False
            log.warning("streamvis web: adding plots failed: %s", exc)
            self._source_down(exc)
            return
        for poll in joined.polls:
            if not self._take_poll(poll):
                self._busy = False
                return  # reset: the next tick reads every plot anew
        if joined.snapshot is None:
            self._busy = False
            return  # not aligned (writes kept coming): the next tick tries again
        snap = joined.snapshot
        res = [re2.compile(v.name_pattern) for v in new]
        per_view: list[list[Any]] = [[] for _ in new]
        for g in snap.groups:
            if not self.run_filter.allows(g.scope) or (
                self._scope_re is not None and not self._scope_re.search(g.scope)
            ):
                continue
            for j, rx in enumerate(res):
                if rx.search(g.name):
                    per_view[j].append(g)
        jobs = [(j, job) for j, v in enumerate(new) for job in v.initial_jobs(per_view[j])]
        self._submit(partial(self._read_jobs, jobs, throttled=False),
                     partial(self._apply_joined, new, snap, per_view))

    def _apply_joined(self, new: list[PlotView], snap: GroupSnapshot, groups: list[list[Any]],
                      fut: Future[Any]) -> None:
        self._busy = False
        try:
            results = fut.result()
        except Exception as exc:
            log.warning("streamvis web: first read of added plots failed: %s", exc)
            self._source_down(exc)
            for v in new:
                v.clear()
            return
        per_view: dict[int, list[Any]] = {}
        for j, job, table in results:
            per_view.setdefault(j, []).append((job, table))
        for j, items in per_view.items():
            new[j].apply_ranges(items)
        self.panel.note_reads([(job.request.scope, table) for _, job, table in results])
        first = len(self.views)
        self.views += new
        self._joining = [v for v in self._joining if all(v is not w for w in new)]
        self._set_patterns()
        for v, gs in zip(new, groups, strict=True):
            for g in gs:
                if g.count and v.x_is_step:
                    self.panel.note_step(g.scope, float(g.x_max))
        self.cursor = snap.cursor
        waiting_notes(self.views, self.layout, self.run_filter)
        self.rounds.maybe(set(range(first, len(self.views))))
        if self._joining:  # cards seen meanwhile: now, not at the next poll
            self.tick()

    def _snapshot(self) -> GroupSnapshot:
        self.panel.decode_link_runs()
        snap = self.cfg.source.snapshot(
            scope_pattern=self.scope_pattern, name_pattern=self.name_pattern
        )
        self.run_filter.decide(self.cfg.source, dict.fromkeys(g.scope for g in snap.groups))
        return snap

    def _apply_snapshot(self, fut: Future[GroupSnapshot]) -> None:
        try:
            snap = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            self._busy = False
            log.warning("streamvis web: listing groups failed: %s", exc)
            self._source_down(exc)
            return
        self._source_down(None)
        per_view: list[list[Any]] = [[] for _ in self.views]
        self._snap_groups = list(snap.groups)
        for g in snap.groups:
            for i in self._routes_of(g.scope, g.name):
                per_view[i].append(g)
        jobs = [(i, job) for i, v in enumerate(self.views) for job in v.initial_jobs(per_view[i])]
        self.group_reads.maybe(self.views)  # (grouped plots read nothing here: computed at once)
        self._submit(
            partial(self._read_jobs, jobs, throttled=False),
            partial(self._apply_first_read, snap.cursor),
        )

    def _apply_first_read(self, cursor: str, fut: Future[Any]) -> None:
        self._busy = False
        try:
            results = fut.result()
        except Exception as exc:
            log.warning("streamvis web: first read failed: %s", exc)
            self._source_down(exc)
            for v in self.views:
                v.clear()
            return
        apply_jobs(self.views, results)
        # the runs' last writes, from what was read (later points come with the polls,
        # and a zoom's re-reads hold none newer)
        self.panel.note_reads([(job.request.scope, table) for _, job, table in results])
        waiting_notes(self.views, self.layout, self.run_filter)
        for g in self._snap_groups:  # (see PlotView.x_is_step)
            if g.count and any(self.views[i].x_is_step for i in self._routes_of(g.scope, g.name)):
                self.panel.note_step(g.scope, float(g.x_max))
        self._snap_groups = []
        self.panel.note_runs()
        self.cursor = cursor
        self.polls += 1
        if self.smoothing:  # the page's smoothing= : smoothed lines at once
            self.rounds.maybe(set(range(len(self.views))))
        if self._joining:  # plots made meanwhile (cards seen): now, not at the next poll
            self.tick()

    def _fetch(self, cursor: str) -> Poll:
        try:
            r = fetch_groups(self.cfg.source, cursor, self.scope_pattern, self.name_pattern)
        except CursorResetError:
            return Poll("", [], [], reset=True)
        if self.run_filter.decide(self.cfg.source, dict.fromkeys(s for s, _, _ in r.groups)):
            return Poll("", [], [], reset=True)  # a hidden run now matches: draw it whole
        groups = list(r.groups.items())
        self.backoff.record(bool(groups or r.deleted))
        gone: list[tuple[str, str | None]] = [(s, None) for s in self.run_filter.take_gone()]  # no longer matching where=
        return Poll(r.cursor, groups, list(r.deleted) + gone, configured=self.run_filter.take_late())

    def _apply_poll(self, fut: Future[Poll]) -> None:
        self._busy = False
        try:
            poll = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            log.warning("streamvis web: poll failed: %s", exc)
            self._source_down(exc)
            return
        self._take_poll(poll)

    def _take_poll(self, poll: Poll) -> bool:
        """Show a poll's points; False after a reset (the plots are read anew)."""
        self._source_down(None)
        self.polls += 1
        if poll.reset:  # compacted (or a mangled cursor): start over from a snapshot
            for v in self.views:
                v.clear()
            self.cursor = None
            return False
        for scope, name in poll.deleted:
            for v in self.views:
                v.remove(scope, name)
        self.panel.note_configured(poll.configured)
        for key, cols in poll.groups:
            routes = self._routes_of(key[0], key[1])
            self.panel.note_points(key[0], cols, stepped=any(self.views[i].x_is_step for i in routes))
            for i in routes:
                v = self.views[i]
                if not v.wants(cols):
                    v.note_unfit(key, cols)
                elif v.admit(key):
                    v.add_points(key, v.pick(cols, key))
        self.cursor = poll.cursor
        waiting_notes(self.views, self.layout, self.run_filter)
        self.rounds.maybe()
        self.group_reads.maybe(self.views)
        return True

    # ---- range reads -------------------------------------------------------------
    def _read_jobs(self, jobs: list[tuple[int, Job]], *, throttled: bool) -> list[Any]:
        """Every job's table through one ``read_ranges`` call (in a worker)."""
        if not jobs:
            return []
        t0 = time.perf_counter()
        result = self.cfg.source.read_ranges([job.request for _, job in jobs])
        if throttled:
            self.rounds.cost = time.perf_counter() - t0
        return [(i, job, table) for (i, job), table in zip(jobs, result.tables, strict=True)]

    def _later(self, key: Any, fn: Callable[[], None], ms: int = DEBOUNCE_MS) -> None:
        """Run ``fn`` after ``ms`` unless called again for ``key`` meanwhile."""
        old = self._debounce.pop(key, None)
        if old is not None:
            try:
                self.doc.remove_timeout_callback(old)
            except ValueError:
                pass

        def run() -> None:
            self._debounce.pop(key, None)
            fn()

        self._debounce[key] = self.doc.add_timeout_callback(run, ms)

    def _index(self, v: PlotView) -> int | None:
        """``v``'s place among the session's plots (None: not joined yet, or gone)."""
        return next((i for i, w in enumerate(self.views) if w is v), None)

    def _on_ranges(self, v: PlotView, event: RangesUpdate) -> None:
        self.backoff.wake()
        if event.x0 is None or event.x1 is None:
            return
        v.view_range = (float(event.x0), float(event.x1))
        if v.is_line and self.on_zoom is not None:
            self.on_zoom(v.view_range)
        i = self._index(v)
        if i is not None:  # at once: BokehJS sends RangesUpdate at most once a paint, and
            self.rounds.maybe({i})  # a read in flight collects the ones meanwhile

    def _on_smoothing(self, v: PlotView) -> None:
        i = self._index(v)
        if i is not None:
            self._later(("smooth", i), partial(self.rounds.maybe, {i}), 100)

    def _on_width(self, v: PlotView, attr: str, old: object, new: object) -> None:
        if isinstance(new, int) and new > 0:
            v.width_px = new

    def _on_select(self, v: PlotView, value: float) -> None:
        """The filter slider moved: read the points at ``value`` (``selection``)."""
        self._later(("select", id(v)), partial(self.selection.select, v, value))

    def _connection_lost(self) -> None:
        """The tab's websocket closed: stop polling now (the document lives on until Bokeh
        discards the session, which removes what is left and calls ``close``)."""
        if self.closed:
            return
        for cb in [self._cb, *self._debounce.values()]:
            try:  # Bokeh refuses to remove a callback it has already dropped
                if cb is self._cb:
                    self.doc.remove_periodic_callback(cb)
                else:
                    self.doc.remove_timeout_callback(cb)
            except ValueError:
                pass
        self._debounce.clear()
        self.close()

    def close(self) -> None:
        """Free this session's state (the tab was closed)."""
        self.closed = True
        with self.cfg.lock:
            self.cfg.sessions.discard(self)
            last = not self.cfg.sessions
        self.views = []
        if last:  # no page left: the decoded groups of range reads are not needed
            self.cfg.executor.submit(self.cfg.release_cache_if_idle)
