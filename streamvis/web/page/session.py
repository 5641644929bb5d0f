"""One browser session: a cursor, a periodic poll in a worker thread, live plots.

Blocking reads never run on Bokeh's event loop: work is submitted to a thread pool
and its result handed back to the loop (``IOLoop.add_callback``, the one thread-safe
Tornado call), which applies it with ``add_next_tick_callback``. The document is
never touched from a worker thread: a callback added from one while Bokeh builds the
session is registered twice, and the page fails with "A callback of the same type
has already been added with this ID". Each application changes the document once per
plot layer, inside ``doc.hold("combine")``, so a poll of 1,000 growing runs costs a
few messages, not 1,000.

The first poll takes a snapshot (every matching group with its count, and the
cursor of that state), lets each plot admit its groups and size their caps, and
reads them all through one ``read_ranges`` call bounded by those counts (``upto``);
later polls ``fetch(since=cursor)`` and append. Re-reads (overviews of lines past
their cap, the zoomed window, smoothed lines) are batched the same way, throttled
while lines grow and immediate after a zoom (``RangesUpdate``) or a slider move.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import re2
from bokeh.document import Document
from bokeh.events import ConnectionLost, RangesUpdate
from bokeh.models.widgets import Div
from tornado.ioloop import IOLoop

from streamvis.backoff import IdleBackoff
from streamvis.errors import CursorResetError
from streamvis.patterns import MAX_PATTERN_LENGTH
from streamvis.source import DataSource
from streamvis.storage import GroupSnapshot, RangeRequest
from streamvis.storage.read.reading import index_runs

from .. import safe_html
from ..address.layout import Layout
from ..address.page_url import PageUrl
from ..plots.plot_view import Job, Key, PlotView
from ..plots.rows import Cols, select_rows
from ..plots.run_colors import RunColors
from ..runs.run_filter import RunFilter
from ..runs.session_panel import SessionPanel
from .app_config import AppConfig

__all__ = ["AppConfig", "LiveSession", "split_table"]

log = logging.getLogger(__name__)
DEBOUNCE_MS = 5  # filter slider moves (zooms are not debounced: see _on_ranges)
RANGE_MIN_INTERVAL = 1.0  # seconds between re-reads of growing decimated lines
MAX_KEYS_NAMED = 30  # config keys a where= note lists
IDLE_CEILING = 10.0  # seconds between polls of an idle object-store log at most

@dataclass
class Poll:
    """What a worker read: new points per group, tombstones, the new cursor."""

    cursor: str
    groups: list[tuple[Key, dict[str, np.ndarray]]]
    deleted: list[tuple[str, str | None]]
    reset: bool = False
    configured: set[str] = field(default_factory=set)  # scopes whose config came late


def _is_object_store(source: DataSource) -> bool:
    """A log on gs:// or s3:// (where every poll is a billed listing)."""
    store = getattr(source, "store", None)
    url = str(getattr(getattr(store, "backend", None), "url", ""))
    return url.startswith(("gs://", "s3://", "gcs://"))


def split_table(scope: str, name: str, table: pa.Table) -> list[tuple[Key, dict[str, np.ndarray]]]:
    """Split a read table (an 'index' column, rows grouped by index) into groups."""
    if table.num_rows == 0:
        return []
    values, bounds = index_runs(table.column("index"))  # on the dictionary codes
    cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
    return [
        ((scope, name, int(i)), {c: v[a:b] for c, v in cols.items()})
        for i, a, b in zip(values, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    ]


class LiveSession:
    """The live state of one document (browser tab); ``panel`` keeps its runs panel."""

    def __init__(self, doc: Document, cfg: AppConfig, layout: Layout, *, webgl: bool = False,
                 args: Mapping[str, Sequence[str]] | None = None) -> None:
        self.doc, self.cfg, self.layout = doc, cfg, layout
        self._loop = IOLoop.current()  # Bokeh builds documents on its event loop
        self.run_filter = RunFilter(layout.where, keep_configs=True)  # the panel shows configs
        # a run's colour, the same on every plot and in the panel, for the page's life
        self.colors = RunColors(color_by=layout.color_by, run_value=self.run_filter.value)
        self.views = [
            PlotView(
                cfg.schema.plot(c.plot),
                c,
                limits=cfg.limits,
                webgl=webgl,
                color_by=layout.color_by,
                run_value=self.run_filter.value,
                x_mode=layout.x_mode,
                colors=self.colors,
            )
            for c in layout.cells
        ]
        self.name_pattern: str | None = "|".join(f"(?:{v.name_pattern})" for v in self.views)
        if len(self.name_pattern) > MAX_PATTERN_LENGTH:
            self.name_pattern = None  # too long for one pattern: read every name, route below
        self.scope_pattern = layout.scopes
        self._scope_re = re2.compile(layout.scopes) if layout.scopes else None
        self._name_res = [re2.compile(v.name_pattern) for v in self.views]
        self._routes: dict[tuple[str, str], list[int]] = {}
        self._snap_groups: list[Any] = []
        self.cursor: str | None = None
        self.closed = False
        self.polls = 0
        self._busy = False
        self._range_busy = False
        self._range_pending: set[int] = set()
        self._range_last = 0.0
        self._range_cost = 0.0  # seconds the last throttled re-read took
        self._debounce: dict[Any, Any] = {}
        for i, v in enumerate(self.views):
            v.figure.on_event(RangesUpdate, partial(self._on_ranges, i))
            if v.filter_slider is not None:
                v.filter_slider.on_select = partial(self._on_select, i)
            v.smoothing.on_change = partial(self._on_smoothing, i)
            v.figure.on_change("inner_width", partial(self._on_width, i))
        self.banner = Div(
            text="", visible=False, name="banner", sizing_mode="stretch_width",
            styles={"background": "#fdecea", "color": "#b00020", "padding": "6px 10px",
                    "font-weight": "600", "font-family": "system-ui, sans-serif"},
        )
        self.page_url = PageUrl(args or {})
        self.panel = SessionPanel(
            views=lambda: self.views, link=dict(layout.panel), color_by=layout.color_by,
            page_url=self.page_url, run_filter=self.run_filter, scopes=cfg.source.scopes,
            submit=self._submit, colors=self.colors,
        )
        # polls of an object store cost requests: an idle page polls less often
        ceiling = IDLE_CEILING if _is_object_store(cfg.source) else cfg.refresh
        self.backoff = IdleBackoff(cfg.refresh, ceiling=ceiling)
        self._cb = doc.add_periodic_callback(self.tick, max(50, int(cfg.refresh * 1000)))
        # the tab's websocket closed: nothing more to send it (Bokeh keeps the session
        # some seconds longer; pushing to it then logs "Failed sending message")
        doc.on_event(ConnectionLost, lambda _event: self._connection_lost())
        with cfg.lock:
            cfg.sessions.add(self)

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
        then send every plot's changes. ``freeze``: defer the document's model graph
        walk to the end (it costs ~5 ms however little changed; a zoom's re-read goes
        without it)."""
        if self.closed:
            return
        self.doc.hold("combine")
        try:
            with self.doc.models.freeze() if freeze else nullcontext():
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
        if self._busy or self.closed or (self.cursor is not None and not self.backoff.due()):
            return
        self._busy = True
        if self.cursor is None:
            self._submit(self._snapshot, self._apply_snapshot)
        else:
            self._submit(partial(self._fetch, self.cursor), self._apply_poll)

    def _snapshot(self) -> GroupSnapshot:
        self.panel.decode_link_runs()
        snap = self.cfg.source.snapshot(
            scope_pattern=self.scope_pattern, name_pattern=self.name_pattern
        )
        self.run_filter.decide(self.cfg.source, dict.fromkeys(g.scope for g in snap.groups))
        return snap

    def _source_down(self, exc: BaseException | None) -> None:
        """Show (or, with None, clear) the banner saying the data cannot be reached."""
        if exc is None:
            if self.banner.visible:
                self.banner.update(visible=False, text="")
            return
        text = f"The data source cannot be reached: {exc}. Retrying; the page keeps what it has."
        if self.banner.text != safe_html.text(text):
            self.banner.update(text=safe_html.text(text), visible=True)  # text first: never an empty banner

    def _waiting_notes(self) -> None:
        narrowed = [p for p in ("scopes", "where") if getattr(self.layout, p)]
        waiting = "waiting for data" + (f" matching {' and '.join(f'{p}=' for p in narrowed)}" if narrowed else "")
        idle = any(not (v.lines or v.has_unfit) for v in self.views)
        missing, have = self.run_filter.unknown_keys() if idle and self.layout.where else ([], [])
        if missing:  # runs exist and none has the key: say so, not "waiting"
            keys = ", ".join(have[:MAX_KEYS_NAMED]) + (f", … ({len(have)} keys)" if len(have) > MAX_KEYS_NAMED else "")
            waiting = (f"where=: no run has config key {missing[0]!r}; "
                       + (f"the runs' keys: {keys}" if have else "the runs have no config"))
        for v in self.views:
            if v.lines or v.has_unfit:  # (groups that cannot be drawn are named instead)
                v._unnote("waiting")
            else:
                v._note("waiting", waiting)

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
        self._apply_jobs(results)
        # the runs' last writes, from what was read (later points come with the polls,
        # and a zoom's re-reads hold none newer)
        self.panel.note_reads([(job.request.scope, table) for _, job, table in results])
        self._waiting_notes()
        for g in self._snap_groups:  # a line plot's x is a step (a scatter's is not)
            if g.count and any(self.views[i].is_line for i in self._routes_of(g.scope, g.name)):
                self.panel.note_step(g.scope, float(g.x_max))
        self._snap_groups = []
        self.panel.note_runs()
        self.cursor = cursor
        self.polls += 1

    def _fetch(self, cursor: str) -> Poll:
        try:
            r = self.cfg.source.fetch(
                scope_pattern=self.scope_pattern, name_pattern=self.name_pattern, since=cursor
            )
        except CursorResetError:
            return Poll("", [], [], reset=True)
        if self.run_filter.decide(self.cfg.source, dict.fromkeys(s for s, _ in r.tables)):
            return Poll("", [], [], reset=True)  # a hidden run now matches: draw it whole
        groups = [g for (s, n), t in r.tables.items() for g in split_table(s, n, t)]
        self.backoff.record(bool(groups or r.deleted))
        return Poll(r.cursor, groups, list(r.deleted), configured=self.run_filter.take_late())

    def _apply_poll(self, fut: Future[Poll]) -> None:
        self._busy = False
        try:
            poll = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            log.warning("streamvis web: poll failed: %s", exc)
            self._source_down(exc)
            return
        self._source_down(None)
        self.polls += 1
        if poll.reset:  # compacted (or a mangled cursor): start over from a snapshot
            for v in self.views:
                v.clear()
            self.cursor = None
            return
        for scope, name in poll.deleted:
            for v in self.views:
                v.remove(scope, name)
        self.panel.note_configured(poll.configured)
        for key, cols in poll.groups:
            routes = self._routes_of(key[0], key[1])
            self.panel.note_points(key[0], cols, stepped=any(self.views[i].is_line for i in routes))
            for i in routes:
                v = self.views[i]
                if not v.wants(cols):
                    v.note_unfit(key, cols)
                elif v.admit(key):
                    v.add_points(key, v.pick(cols, key))
        self.cursor = poll.cursor
        self._waiting_notes()
        self._maybe_ranges()

    # ---- range reads -------------------------------------------------------------
    def _read_jobs(self, jobs: list[tuple[int, Job]], *, throttled: bool) -> list[Any]:
        """Every job's table through one ``read_ranges`` call (in a worker)."""
        if not jobs:
            return []
        t0 = time.perf_counter()
        result = self.cfg.source.read_ranges([job.request for _, job in jobs])
        if throttled:
            self._range_cost = time.perf_counter() - t0
        return [(i, job, table) for (i, job), table in zip(jobs, result.tables, strict=True)]

    def _apply_jobs(self, results: list[Any]) -> None:
        per_view: dict[int, list[Any]] = {}
        for i, job, table in results:
            per_view.setdefault(i, []).append((job, table))
        for i, items in per_view.items():
            if i < len(self.views):
                self.views[i].apply_ranges(items)

    def _maybe_ranges(self, force_views: set[int] | None = None) -> None:
        force_views = force_views or set()
        if self._range_busy or self.cursor is None:
            self._range_pending |= force_views
            return
        # growing decimated lines are re-read at most every few times the read's cost,
        # so a page of long lines being logged never keeps a core busy
        wait = max(RANGE_MIN_INTERVAL, self.cfg.refresh, 5 * self._range_cost)
        due = time.monotonic() - self._range_last >= wait
        jobs = []
        for i, v in enumerate(self.views):
            if i in force_views or due:
                jobs += [(i, job) for job in v.range_jobs(zoomed=i in force_views)]
        if not jobs:
            return
        self._range_busy = True
        if due:
            self._range_last = time.monotonic()
        # re-read windows and overviews replace rows' data and add no models: no freeze
        # (smoothed results may make the smoothed layer's models)
        smooth = any(job.kind == "smooth" for _, job in jobs)
        self._submit(
            partial(self._read_jobs, jobs, throttled=due), self._apply_ranges, freeze=smooth
        )

    def _apply_ranges(self, fut: Future[list[Any]]) -> None:
        self._range_busy = False
        try:
            self._apply_jobs(fut.result())
        except Exception as exc:
            log.warning("streamvis web: range read failed: %s", exc)
        pending, self._range_pending = self._range_pending, set()
        if pending:
            self._maybe_ranges(pending)

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

    def _on_ranges(self, i: int, event: RangesUpdate) -> None:
        self.backoff.wake()
        if event.x0 is None or event.x1 is None:
            return
        self.views[i].view_range = (float(event.x0), float(event.x1))
        # at once: BokehJS sends RangesUpdate at most once a paint, and a read in flight
        # collects the ones that arrive meanwhile (``_range_pending``)
        self._maybe_ranges({i})

    def _on_smoothing(self, i: int) -> None:
        self._later(("smooth", i), partial(self._maybe_ranges, {i}), 100)

    def _on_width(self, i: int, attr: str, old: object, new: object) -> None:
        if isinstance(new, int) and new > 0:
            self.views[i].width_px = new

    # ---- filter slider moved by the user -------------------------------------------
    def _on_select(self, i: int, value: float) -> None:
        self._later(("select", i), partial(self._select_now, i, value))

    def _select_now(self, i: int, value: float) -> None:
        v = self.views[i]
        reqs = [
            (key, RangeRequest(key[0], key[1], key[2], upto=line.count))
            for key, line in v.lines.items()
        ]
        self._submit(
            partial(self._read_selection, i, reqs, value), partial(self._apply_selection, i, value)
        )

    def _read_selection(
        self, i: int, reqs: list[tuple[Key, RangeRequest]], value: float
    ) -> dict[Key, Cols]:
        v, out = self.views[i], {}
        result = self.cfg.source.read_ranges([r for _, r in reqs])
        for (key, _), table in zip(reqs, result.tables, strict=True):
            if table is None:
                continue
            cols = {c: table.column(c).to_numpy() for c in table.column_names}
            if v.wants(cols):
                out[key] = select_rows(v.pick(cols, key), value)
        return out

    def _apply_selection(self, i: int, value: float, fut: Future[dict[Key, Cols]]) -> None:
        try:
            data = fut.result()
        except Exception as exc:
            log.warning("streamvis web: filter read failed: %s", exc)
            return
        if self.views:
            self.views[i].show_selection(value, data)

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
