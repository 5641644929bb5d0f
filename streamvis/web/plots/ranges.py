"""A plot's range reads: what it asks the store for after growth or a zoom, and how
decimated lines are drawn. ``PlotView`` holds one ``RangeReads``.

A line past its cap is "decimated": its overview (min/max over the whole line,
read again once new points pass half the cap) and, when zoomed, the window's detail
at full cap joined to the thinned overview at the edges the detail was read for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamvis.storage import RangeRequest

from .line_state import Job, Line
from .lines import Key
from .rows import Cols, minmax_thin, minmax_thin_many

__all__ = ["RangeReads", "DECIMATED_SLACK"]

DECIMATED_SLACK = 0.1  # room for new points in a decimated line's row (a fraction)


class RangeReads:
    """What one plot reads after growth or a zoom, and how decimated lines are shown.

    ``lines`` is the plot's own dict of lines (shared); ``x_mode``/``x_col`` say which x
    column is read and in which units it is drawn; ``cap()`` is the plot's points per
    line now; ``put(key, data, slack=...)`` shows data as the whole of a line.
    ``view_range`` is the axis range the user zoomed to (None: never zoomed).
    """

    def __init__(
        self,
        lines: dict[Key, Line],
        *,
        x_mode: str,
        x_col: str,
        cap: Callable[[], int],
        put: Callable[..., None],
    ) -> None:
        self._lines, self._x_mode, self._x_col = lines, x_mode, x_col
        self._cap, self._put = cap, put
        self.view_range: tuple[float, float] | None = None  # set after the user zooms

    def jobs(self, *, zoomed: bool, smoothing: float) -> list[Job]:
        """Reads wanted now: stale overviews, the zoomed window, smoothed lines (with
        ``smoothing``, the EMA's weight; 0: none)."""
        cap, jobs = self._cap(), []
        window = self.view_range
        xc = self._x_col if self._x_mode != "step" else None
        for key, line in self._lines.items():
            s, n, i = key
            if line.mode == "exact" and line.count > cap:
                line.mode, line.stale = "decimated", True
            if line.mode == "decimated" and line.stale:
                req = RangeRequest(s, n, i, max_points=cap, upto=line.count, x_column=xc)
                jobs.append(Job(key, "overview", req))
            zoom_read = line.mode == "decimated" and window is not None
            if zoom_read and (line.stale or zoomed):
                lo, hi = self._to_stored(window, line)
                req = RangeRequest(s, n, i, lo, hi, cap, line.count, x_column=xc)
                jobs.append(Job(key, "detail", req, window))
            if smoothing and (line.smooth_stale or (zoomed and line.mode == "decimated")):
                lo_hi = self._to_stored(window, line) if zoom_read else (None, None)
                req = RangeRequest(
                    s, n, i, lo_hi[0], lo_hi[1], cap if line.count > cap else None,
                    line.count, smoothing, xc,
                )
                jobs.append(Job(key, "smooth", req))
        return jobs

    def _to_stored(
        self, window: tuple[float, float] | None, line: Line
    ) -> tuple[float | None, float | None]:
        """An axis range in the stored x column's units (wall: ms -> s; relative: + t0)."""
        if window is None:
            return None, None
        lo, hi = window
        if self._x_mode == "wall":
            return lo / 1000.0, hi / 1000.0
        if self._x_mode == "relative":
            t0 = line.t0 or 0.0
            return lo + t0, hi + t0
        return lo, hi

    def show_decimated_many(
        self, reads: Sequence[tuple[Line, tuple[Job, Cols] | None, tuple[Job, Cols] | None]]
    ) -> None:
        """``show_decimated`` for each (line, overview, detail), the overviews thinned in
        one pass (``minmax_thin_many``)."""
        thinned = iter(minmax_thin_many([ov[1] for _, ov, _ in reads if ov is not None],
                                        max(self._cap() // 16, 16)))
        for line, ov, detail in reads:
            self.show_decimated(line, ov, detail, coarse=next(thinned) if ov is not None else None)

    def show_decimated(
        self, line: Line, overview: tuple[Job, Cols] | None, detail: tuple[Job, Cols] | None,
        *, coarse: Cols | None = None,
    ) -> None:
        """A decimated line: its overview, or (zoomed) its thinned overview outside the
        window and the window's detail; then the points that arrived after both reads.
        ``coarse``: the overview thinned already."""
        ov: Cols | None = None
        if overview is not None:
            job, ov = overview
            upto = job.request.upto or 0
            line.count = max(line.count, upto)  # the first read: the snapshot's count
            line.mode, line.stale, line.overview_upto = "decimated", False, upto
            line.coarse = coarse if coarse is not None else minmax_thin(ov, max(self._cap() // 16, 16))
            line.tail = [(a, c) for a, c in line.tail if a + len(c["x"]) > upto]
        if line.coarse is None:
            return  # a detail before any overview: wait for the overview
        # the window the detail was read for: the view may have moved on meanwhile (its
        # own read follows), and the overview outside must meet this detail's edges
        window = (detail[0].window or self.view_range) if detail is not None else None
        det_upto = (detail[0].request.upto or 0) if detail is not None else 0
        if window is not None and detail is not None:
            lo, hi = window
            coarse = line.coarse
            left, right = coarse["x"] < lo, coarse["x"] > hi
            parts = [{k: v[left] for k, v in coarse.items()}, detail[1]]
            parts.append({k: v[right] for k, v in coarse.items()})
        elif ov is not None:
            parts = [ov]
        else:
            return
        for a, c in line.tail:  # points after the overview, except those the detail holds
            pos = np.arange(a, a + len(c["x"]))
            keep = pos >= line.overview_upto
            if window is not None:
                inside = (c["x"] >= window[0]) & (c["x"] <= window[1])
                keep &= ~((pos < det_upto) & inside)
            if keep.any():
                parts.append({k: v[keep] for k, v in c.items()})
        # a decimated row is read again once its tail passes half the cap: little room
        data = {k: np.concatenate([p[k] for p in parts]) for k in ("x", "y")}
        self._put(line.key, data, slack=DECIMATED_SLACK)
