"""A plot's range reads: what it asks the store for after growth or a zoom, and how
the answers are drawn. ``PlotView`` mixes this in and provides the attributes and
methods declared here.

A line past its cap is "decimated": its overview (min/max over the whole line,
read again once new points pass half the cap) and, when zoomed, the window's detail
at full cap joined to the thinned overview at the edges the detail was read for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from streamvis.storage import RangeRequest

from .line_state import Job, Line
from .lines import Key
from .rows import Cols, minmax_thin

__all__ = ["RangeReadsMixin", "DECIMATED_SLACK"]

DECIMATED_SLACK = 0.1  # room for new points in a decimated line's row (a fraction)


class RangeReadsMixin:
    """Range reads of one plot (see the module doc)."""

    lines: dict[Key, Line]
    slider: Any
    smoothing: float
    x_mode: str
    x_col: str
    unfit_keys: set[Key]

    view_range: tuple[float, float] | None

    if TYPE_CHECKING:  # provided by PlotView and its other mixins (never shadow them)
        @property
        def cap(self) -> int: ...

        def pick(self, cols: Mapping[str, Any], key: Key | None = None) -> Cols: ...
        def wants(self, cols: Mapping[str, Any]) -> bool: ...
        def note_unfit(self, key: Key, cols: Mapping[str, Any]) -> None: ...
        def set_full(self, key: Key, data: Cols) -> None: ...
        def _put(self, key: Key, data: Cols, *, slack: float = 0.5) -> None: ...
        def _show_smoothed(self, job: Job, cols: Cols) -> None: ...

    def range_jobs(self, *, zoomed: bool) -> list[Job]:
        """Reads this plot wants now: stale overviews, the zoomed window, smoothed lines."""
        if self.slider is not None:
            return []
        cap, jobs = self.cap, []
        window = self.view_range
        xc = self.x_col if self.x_mode != "step" else None
        for key, line in self.lines.items():
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
            if self.smoothing and (line.smooth_stale or (zoomed and line.mode == "decimated")):
                lo_hi = self._to_stored(window, line) if zoom_read else (None, None)
                req = RangeRequest(
                    s, n, i, lo_hi[0], lo_hi[1], cap if line.count > cap else None,
                    line.count, self.smoothing, xc,
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
        if self.x_mode == "wall":
            return lo / 1000.0, hi / 1000.0
        if self.x_mode == "relative":
            t0 = line.t0 or 0.0
            return lo + t0, hi + t0
        return lo, hi

    def apply_ranges(self, results: Sequence[tuple[Job, pa.Table | None]]) -> None:
        """Show what the jobs read (overview + detail of a line arrive together)."""
        overview: dict[Key, tuple[Job, Cols]] = {}
        detail: dict[Key, tuple[Job, Cols]] = {}
        for job, table in results:
            if job.key not in self.lines:
                continue
            cols = self._table_cols(table, job.key)
            if cols is None:
                if table is not None:  # the group lacks this plot's columns
                    self.note_unfit(job.key, dict.fromkeys(table.column_names))
                    self.unfit_keys.add(job.key)
                    del self.lines[job.key]
                continue
            if job.kind == "full":
                self.set_full(job.key, cols)
            elif job.kind == "overview":
                overview[job.key] = (job, cols)
            elif job.kind == "detail":
                detail[job.key] = (job, cols)
            elif job.kind == "smooth":
                self._show_smoothed(job, cols)
        for key in {**overview, **detail}:
            line = self.lines.get(key)
            if line is not None:
                self._show_decimated(line, overview.get(key), detail.get(key))

    def _table_cols(self, table: pa.Table | None, key: Key) -> Cols | None:
        if table is None:
            return None
        cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
        return self.pick(cols, key) if self.wants(cols) else None

    def _show_decimated(
        self, line: Line, overview: tuple[Job, Cols] | None, detail: tuple[Job, Cols] | None
    ) -> None:
        """A decimated line: its overview, or (zoomed) its thinned overview outside the
        window and the window's detail; then the points that arrived after both reads."""
        ov: Cols | None = None
        if overview is not None:
            job, ov = overview
            upto = job.request.upto or 0
            line.count = max(line.count, upto)  # the first read: the snapshot's count
            line.mode, line.stale, line.overview_upto = "decimated", False, upto
            line.coarse = minmax_thin(ov, max(self.cap // 16, 16))
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
