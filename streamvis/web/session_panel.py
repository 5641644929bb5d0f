"""A session's side of the runs panel: rows for the runs its plots show, kept current,
and the panel's ticks and highlights applied to every plot. ``LiveSession`` mixes
this in and provides the attributes declared here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .lines import Key
from .runs_panel import RunRow, RunsPanel

if TYPE_CHECKING:
    from .plots import PlotView
    from .run_filter import RunFilter

__all__ = ["SessionPanelMixin", "PANEL_INTERVAL"]

PANEL_INTERVAL = 1.0  # seconds between refreshes of the runs panel's table


class SessionPanelMixin:
    """Keeps the runs panel in step with the plots (see the module doc)."""

    views: list[PlotView]
    runs: dict[str, RunRow]
    panel: RunsPanel
    run_filter: RunFilter
    _runs_seen: dict[int, set[Key]]
    _panel_dirty: bool
    _panel_at: float

    def _note_runs(self) -> None:
        """Runs that appeared on the plots get a row (colour of their first line)."""
        for v in self.views:
            if len(v.lines) == len(self._runs_seen.get(id(v), ())):
                continue
            seen = self._runs_seen.setdefault(id(v), set())
            for key, line in v.lines.items():
                if key not in seen:
                    seen.add(key)
                    if key[0] not in self.runs:
                        self.runs[key[0]] = RunRow(line.color, updated=time.time())
                        self._panel_dirty = True

    def _note_points(self, scope: str, x: np.ndarray) -> None:
        row = self.runs.get(scope)
        if row is not None and x.size:
            top = float(np.nanmax(x)) if x.dtype.kind == "f" else float(x.max())
            if not row.last_step >= top:
                row.last_step = top
            row.updated = time.time()
            self._panel_dirty = True

    def _refresh_panel(self) -> None:
        if not self._panel_dirty or time.monotonic() - self._panel_at < PANEL_INTERVAL:
            return
        self._panel_dirty, self._panel_at = False, time.monotonic()
        configs = {s: self.run_filter.flat(s) for s in self.runs}
        self.panel.update(self.runs, configs)

    def _on_shown(self, hidden: set[str]) -> None:
        for v in self.views:
            v.set_hidden(hidden)
            v.flush()

    def _on_highlight(self, scopes: set[str]) -> None:
        for v in self.views:
            v.highlight(scopes)
            v.flush()

