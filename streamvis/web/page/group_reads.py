"""When a page's grouped plots (``plots.group_view``) are computed, in a worker.

At each tick of the session (and right after its first read) every grouped plot whose
inputs changed (new points of its names, runs ticked or unticked in the runs panel,
smoothing, runs added or deleted) is computed again: one ``DataSource.aggregate`` per
name, over the plot's shown runs, in a worker thread; the result is drawn on the event
loop. A plot has at most one computation in flight, so a live page recomputes a plot at
most once per poll, and only when its names got points. What it costs: the source
keeps a query it is asked again current (``run_analysis.AggregateBook``: a local log's
``LocalSource`` and the data server alike), so a poll's computation reads only the
points appended since the last and computes only the x they touch; where that would
not be exact (runs on steps of their own, points below a run's last step, a run added
or regrouped, a deletion, ``x=NAME``) it reads every point. A plot whose last
computation took ``cost`` seconds waits at least ``SLACK * cost`` before the next, so
that a large sweep read whole cannot keep the source busy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from typing import Any

from streamvis.errors import InvalidArgumentError
from streamvis.run_analysis import GroupAggregates
from streamvis.source import DataSource

from ..plots.group_view import GroupedPlotView, GroupRequest

__all__ = ["GroupReads", "SLACK"]

log = logging.getLogger(__name__)
SLACK = 3.0  # a plot's computations at most every SLACK x its last one's time


class GroupReads:
    """Computes a session's grouped plots when they need it (see the module doc)."""

    def __init__(self, source: DataSource, submit: Callable[..., None],
                 on_error: Callable[[Exception | None], None]) -> None:
        self.source, self._submit, self._on_error = source, submit, on_error
        self._next: dict[int, float] = {}
        self.computations = 0

    def maybe(self, views: Sequence[Any]) -> None:
        """Start the computations the grouped plots among ``views`` need (event loop)."""
        now = time.monotonic()
        for v in views:
            if not isinstance(v, GroupedPlotView) or now < self._next.get(id(v), 0.0):
                continue
            req = v.need()
            if req is None:
                continue
            v.busy = True  # (freeze=False: drawing groups adds no model, so the document's
            # walk over every model after the change, ~20 ms at 1,000 runs, is not needed)
            self._submit(partial(self._compute, req), partial(self._apply, v, req), freeze=False)

    def _compute(self, req: GroupRequest) -> tuple[list[tuple[str, GroupAggregates]], float]:
        """(In a worker.) One aggregate per name of the plot; and the seconds it took."""
        t0 = time.perf_counter()
        out = [(name, self.source.aggregate(
            name, req.group_by, agg=req.agg, band=req.band, x_name=req.x_name,
            smoothing=req.smoothing, scopes=list(req.scopes), follow=True)) for name in req.names]
        return out, time.perf_counter() - t0

    def _apply(self, v: GroupedPlotView, req: GroupRequest, fut: Future[Any]) -> None:
        v.busy = False
        try:
            results, cost = fut.result()
        except InvalidArgumentError as exc:  # e.g. a name without steps and values
            v.computed = req
            v.note_error(str(exc))
            return
        except Exception as exc:  # the source failed: keep the page, retry next tick
            log.warning("streamvis web: computing groups failed: %s", exc)
            v.dirty = True
            self._on_error(exc)
            return
        self.computations += 1
        v.cost = cost
        self._next[id(v)] = time.monotonic() + SLACK * cost
        v.show(req, results)
