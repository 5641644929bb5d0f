"""One browser session: a cursor, a periodic poll in a worker thread, live plots.

Blocking reads never run on Bokeh's event loop: the periodic callback submits a
``fetch(since=cursor)`` to a thread pool and the result is applied to the document
with ``add_next_tick_callback`` (the one thread-safe Document method). Zoom and pan
(``RangesUpdate``) re-read range-mode glyphs after a short debounce.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import re2
from bokeh.document import Document
from bokeh.events import RangesUpdate

from streamvis.errors import CursorResetError
from streamvis.patterns import MAX_PATTERN_LENGTH
from streamvis.source import DataSource

from .layout import Layout
from .plots import Key, PlotView
from .rows import Cols, select_rows
from .schema import Schema

__all__ = ["AppConfig", "LiveSession", "split_table"]

log = logging.getLogger(__name__)
DEBOUNCE_MS = 5  # BokehJS already sends RangesUpdate at the end of a gesture
RANGE_MIN_INTERVAL = 1.0  # seconds between re-reads of a growing range-mode glyph


@dataclass
class AppConfig:
    """What every session of one server shares."""

    source: DataSource
    schema: Schema
    refresh: float = 1.0  # seconds between polls
    budget: int = 4000  # points per glyph before range mode
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="streamvis-web"
        )
    )
    sessions: set[LiveSession] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Poll:
    """What a worker read: new points per group, tombstones, the new cursor."""

    cursor: str
    groups: list[tuple[Key, dict[str, np.ndarray]]]
    deleted: list[tuple[str, str | None]]
    big: list[tuple[Key, int]] = field(default_factory=list)
    reset: bool = False


def split_table(scope: str, name: str, table: pa.Table) -> list[tuple[Key, dict[str, np.ndarray]]]:
    """Split a read table (an 'index' column, rows grouped by index) into groups."""
    if table.num_rows == 0:
        return []
    idx = table.column("index").to_numpy()
    cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
    cuts = np.flatnonzero(idx[1:] != idx[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(idx)]])
    return [
        ((scope, name, int(idx[a])), {c: v[a:b] for c, v in cols.items()})
        for a, b in zip(starts, ends, strict=True)
    ]


class LiveSession:
    """The live state of one document (browser tab)."""

    def __init__(self, doc: Document, cfg: AppConfig, layout: Layout) -> None:
        self.doc, self.cfg, self.layout = doc, cfg, layout
        self.views = [PlotView(cfg.schema.plot(c.plot), c, budget=cfg.budget) for c in layout.cells]
        self.name_pattern: str | None = "|".join(f"(?:{v.name_pattern})" for v in self.views)
        if len(self.name_pattern) > MAX_PATTERN_LENGTH:
            self.name_pattern = None  # too long for one pattern: read every name, route below
        self.scope_pattern = layout.scopes
        self._scope_re = re2.compile(layout.scopes) if layout.scopes else None
        self._name_res = [re2.compile(v.name_pattern) for v in self.views]
        self.cursor: str | None = None
        self.closed = False
        self.polls = 0
        self._busy = False
        self._range_busy = False
        self._range_pending: set[int] = set()
        self._range_last = 0.0
        self._range_cost = 0.0  # seconds the last re-read of growing glyphs took
        self._debounce: dict[int, Any] = {}
        self._filtered_res = [
            rx for v, rx in zip(self.views, self._name_res, strict=True) if v.slider is not None
        ]
        for i, v in enumerate(self.views):
            v.figure.on_event(RangesUpdate, partial(self._on_ranges, i))
            v.on_select = partial(self._on_select, i)
        self._cb = doc.add_periodic_callback(self.tick, max(50, int(cfg.refresh * 1000)))
        with cfg.lock:
            cfg.sessions.add(self)

    # ---- polling -----------------------------------------------------------------
    def tick(self) -> None:
        """Start a poll in a worker unless one is running (called on the event loop)."""
        if self._busy or self.closed:
            return
        self._busy = True
        self._submit(partial(self._poll, self.cursor), self._apply_poll)

    def _submit(self, work: Callable[[], Any], apply: Callable[[Any], None]) -> None:
        def done(fut: Future[Any]) -> None:
            if self.closed:
                return
            try:
                self.doc.add_next_tick_callback(partial(apply, fut))
            except Exception:  # the document was destroyed meanwhile
                self.closed = True

        self.cfg.executor.submit(work).add_done_callback(done)

    def _poll(self, cursor: str | None) -> Poll:
        src = self.cfg.source
        if cursor is not None:
            try:
                r = src.fetch(
                    scope_pattern=self.scope_pattern, name_pattern=self.name_pattern, since=cursor
                )
            except CursorResetError:
                return self._initial(reset=True)
            groups = [g for (s, n), t in r.tables.items() for g in split_table(s, n, t)]
            return Poll(r.cursor, groups, list(r.deleted))
        return self._initial()

    def _initial(self, reset: bool = False) -> Poll:
        """Everything so far: groups over budget as decimated overviews, the rest whole."""
        src, budget = self.cfg.source, self.cfg.budget
        infos = src.groups(scope_pattern=self.scope_pattern, name_pattern=self.name_pattern)
        # filtered plots hold one filter value's points: their groups are read whole
        big = {
            (g.scope, g.name, g.index): g.count
            for g in infos
            if g.count > budget and not any(rx.search(g.name) for rx in self._filtered_res)
        }
        big_names = {k[1] for k in big}
        small_names = {g.name for g in infos} - big_names
        mixed = {g.name for g in infos if g.count <= budget} & big_names
        names = sorted(small_names | mixed)
        pattern: str | None
        if big and names:
            pattern = "^(?:" + "|".join(re2.escape(n) for n in names) + ")$"
            if len(pattern) > MAX_PATTERN_LENGTH:  # too many names for one pattern: read
                pattern = self.name_pattern  # the plots' names; big groups are skipped below
        elif big:
            pattern = "[^\\x00-\\x{10FFFF}]"  # matches nothing: only the cursor
        else:
            pattern = self.name_pattern
        r = src.fetch(scope_pattern=self.scope_pattern, name_pattern=pattern)
        groups = []
        for (s, n), t in r.tables.items():
            for key, cols in split_table(s, n, t):
                if key in big:
                    continue
                groups.append((key, cols))
        return Poll(r.cursor, groups, [], big=sorted(big.items()), reset=reset)

    def _matches(self, key: Key) -> list[PlotView]:
        scope, name, _ = key
        if self._scope_re is not None and not self._scope_re.search(scope):
            return []
        return [v for v, rx in zip(self.views, self._name_res, strict=True) if rx.search(name)]

    def _apply_poll(self, fut: Future[Poll]) -> None:
        self._busy = False
        try:
            poll = fut.result()
        except Exception as exc:  # the source failed: keep the page, retry next tick
            log.warning("streamvis web: poll failed: %s", exc)
            return
        self.polls += 1
        if poll.groups or poll.deleted or poll.big or poll.reset:
            # new models in one reference sweep; their data once they are attached
            with self.doc.models.freeze():
                self._apply_models(poll)
            self._apply_data(poll)
        self.cursor = poll.cursor
        self._maybe_ranges()

    def _apply_models(self, poll: Poll) -> None:
        if poll.reset:
            keep = {k for k, _ in poll.groups} | {k for k, _ in poll.big}
            for v in self.views:
                v.clear(keep)
        for scope, name in poll.deleted:
            for v in self.views:
                v.remove(scope, name)
        for key, cols in poll.groups:
            for v in self._matches(key):
                if v.wants(cols):
                    v.ensure(key)
                else:
                    v.note_unfit(key, cols)
        for key, _ in poll.big:
            for v in self._matches(key):
                v.ensure(key)

    def _apply_data(self, poll: Poll) -> None:
        for key, cols in poll.groups:
            for v in self._matches(key):
                if v.wants(cols):
                    v.add_points(key, v.pick(cols))
        for key, count in poll.big:
            for v in self._matches(key):
                v.mark_big(key, count)

    # ---- range mode --------------------------------------------------------------
    def _maybe_ranges(self, force_views: set[int] | None = None) -> None:
        force_views = force_views or set()
        if self._range_busy:
            self._range_pending |= force_views
            return
        # a growing decimated line is re-read at most every few times its read cost,
        # so a 10M-point line being logged never keeps a core busy
        wait = max(RANGE_MIN_INTERVAL, self.cfg.refresh, 5 * self._range_cost)
        due = time.monotonic() - self._range_last >= wait
        jobs = []
        for i, v in enumerate(self.views):
            if i in force_views or due:
                for key, window in v.range_jobs(force=i in force_views):
                    g = v.glyphs[key]
                    jobs.append((i, key, window, g.dirty or g.overview is None))
        if not jobs:
            return
        self._range_busy = True
        self._range_last = time.monotonic()
        self._submit(partial(self._read_ranges, jobs), self._apply_ranges)

    def _read_ranges(self, jobs: list[Any]) -> list[Any]:
        t0 = time.perf_counter()
        src, budget, out = self.cfg.source, self.cfg.budget, []
        for i, key, window, need_overview in jobs:
            v = self.views[i]
            scope, name, index = key
            ov = None
            if need_overview:
                ov = _cols(v, src.read_range(scope, name, index, max_points=budget))
            det = None
            if window is not None:
                det = _cols(v, src.read_range(scope, name, index, window[0], window[1], budget))
            out.append((i, key, ov, det, window))
        if any(job[3] for job in jobs):
            self._range_cost = time.perf_counter() - t0
        return out

    def _apply_ranges(self, fut: Future[list[Any]]) -> None:
        self._range_busy = False
        try:
            results = fut.result()
        except Exception as exc:
            log.warning("streamvis web: range read failed: %s", exc)
            results = []
        for i, key, ov, det, window in results:
            if i < len(self.views):
                self.views[i].set_range_data(key, ov, det, window)
        pending, self._range_pending = self._range_pending, set()
        if pending:
            self._maybe_ranges(pending)

    # ---- filter slider moved by the user -------------------------------------------
    def _on_select(self, i: int, view: PlotView, value: float) -> None:
        old = self._debounce.pop(-1 - i, None)
        if old is not None:
            try:
                self.doc.remove_timeout_callback(old)
            except ValueError:
                pass
        self._debounce[-1 - i] = self.doc.add_timeout_callback(
            partial(self._select_now, i, value), DEBOUNCE_MS
        )

    def _select_now(self, i: int, value: float) -> None:
        self._debounce.pop(-1 - i, None)
        keys = list(self.views[i].glyphs)
        self._submit(
            partial(self._read_selection, i, keys, value), partial(self._apply_selection, i, value)
        )

    def _read_selection(self, i: int, keys: list[Key], value: float) -> dict[Key, Cols]:
        v, out = self.views[i], {}
        for scope, name in dict.fromkeys((k[0], k[1]) for k in keys):
            r = self.cfg.source.fetch(scope, name)
            for key, cols in (g for t in r.tables.values() for g in split_table(scope, name, t)):
                if key in keys and v.wants(cols):
                    out[key] = select_rows(v.pick(cols), value)
        return out

    def _apply_selection(self, i: int, value: float, fut: Future[dict[Key, Cols]]) -> None:
        try:
            data = fut.result()
        except Exception as exc:
            log.warning("streamvis web: filter read failed: %s", exc)
            return
        if self.views:
            self.views[i].show_selection(value, data)

    def _on_ranges(self, i: int, event: RangesUpdate) -> None:
        if event.x0 is None or event.x1 is None:
            return
        self.views[i].view_range = (float(event.x0), float(event.x1))
        old = self._debounce.pop(i, None)
        if old is not None:
            try:
                self.doc.remove_timeout_callback(old)
            except ValueError:
                pass
        self._debounce[i] = self.doc.add_timeout_callback(partial(self._zoomed, i), DEBOUNCE_MS)

    def _zoomed(self, i: int) -> None:
        self._debounce.pop(i, None)
        self._maybe_ranges({i})

    def close(self) -> None:
        """Free this session's state (the tab was closed)."""
        self.closed = True
        with self.cfg.lock:
            self.cfg.sessions.discard(self)
        self.views = []


def _cols(view: PlotView, table: pa.Table) -> Cols | None:
    cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
    return view.pick(cols) if view.wants(cols) else None
