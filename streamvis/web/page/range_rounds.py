"""A session's re-reads: overviews of lines past their cap, zoomed windows, smoothed lines.

Batched over every plot into one ``read_ranges`` call, throttled while lines grow
(at most every few times the last read's cost) and immediate for the plots named in
``maybe`` (a zoom, a smoothing change, plots that just joined); a round in flight
collects what is asked meanwhile and runs it next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from ..plots.plot_view import Job, PlotView

__all__ = ["RangeRounds", "RANGE_MIN_INTERVAL", "apply_jobs"]

log = logging.getLogger("streamvis.web")
RANGE_MIN_INTERVAL = 1.0  # seconds between re-reads of growing decimated lines


def apply_jobs(views: Sequence[PlotView], results: list[Any]) -> None:
    """Hand each plot (by index in ``views``) what its jobs read."""
    per_view: dict[int, list[Any]] = {}
    for i, job, table in results:
        per_view.setdefault(i, []).append((job, table))
    for i, items in per_view.items():
        if i < len(views):
            views[i].apply_ranges(items)


class RangeRounds:
    """The re-read rounds of one session. ``views()``: its plots now; ``read(jobs,
    throttled)``: the worker's read of ``[(view index, Job)]``; ``submit(work, apply,
    freeze=...)``: run in a worker, apply on the loop; ``ready()``: the session has read
    its plots once (before that, asks wait); ``refresh``: the poll interval."""

    def __init__(self, *, views: Callable[[], Sequence[PlotView]],
                 read: Callable[[list[tuple[int, Job]], bool], list[Any]],
                 submit: Callable[..., None], ready: Callable[[], bool], refresh: float) -> None:
        self._views, self._read, self._submit, self._ready = views, read, submit, ready
        self._refresh = refresh
        self.busy = False
        self.pending: set[int] = set()
        self.last = 0.0
        self.cost = 0.0  # seconds the last throttled re-read took

    def maybe(self, force_views: set[int] | None = None) -> None:
        """Start a round: due throttled reads of every plot, and the forced plots' now."""
        force_views = force_views or set()
        if self.busy or not self._ready():
            self.pending |= force_views
            return
        # growing decimated lines are re-read at most every few times the read's cost,
        # so a page of long lines being logged never keeps a core busy
        wait = max(RANGE_MIN_INTERVAL, self._refresh, 5 * self.cost)
        due = time.monotonic() - self.last >= wait
        jobs = []
        for i, v in enumerate(self._views()):
            if i in force_views or due:
                jobs += [(i, job) for job in v.range_jobs(zoomed=i in force_views)]
        if not jobs:
            return
        self.busy = True
        if due:
            self.last = time.monotonic()
        # re-read windows and overviews replace rows' data and add no models: no freeze
        # (smoothed results may make the smoothed layer's models)
        smooth = any(job.kind == "smooth" for _, job in jobs)
        self._submit(lambda: self._read(jobs, due), self._apply, freeze=smooth)

    def _apply(self, fut: Future[list[Any]]) -> None:
        self.busy = False
        try:
            apply_jobs(self._views(), fut.result())
        except Exception as exc:
            log.warning("streamvis web: range read failed: %s", exc)
        pending, self.pending = self.pending, set()
        if pending:
            self.maybe(pending)
