"""A plot's smoothing: the EMA slider, and smoothed lines drawn over faint raw ones.

The store smooths every point of a line (``RangeRequest.smoothing``); the session reads
those through ``range_jobs`` and hands them here. ``PlotView`` mixes this in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .lines import Key, LineLayer
from .rows import Cols

if TYPE_CHECKING:
    from .plot_view import Job, Line
    from .points import PointLayer

__all__ = ["SmoothingMixin", "RAW_ALPHA_SMOOTHED"]

RAW_ALPHA_SMOOTHED = 0.25  # the raw lines behind a smoothed plot


class SmoothingMixin:
    """The EMA slider's effects (see the module doc)."""

    smoothing: float
    smooth_layer: LineLayer | None
    layer: LineLayer | PointLayer
    lines: dict[Key, Line]
    figure: Any
    spec: Any
    cell: Any
    on_smoothing: Callable[[Any], None] | None

    def _on_ema(self, attr: str, old: object, new: object) -> None:
        if not isinstance(new, int | float) or new == self.smoothing:
            return
        self.smoothing = float(min(max(new, 0.0), 0.999))
        for line in self.lines.values():
            line.smooth_stale = True
        if self.smoothing == 0 and self.smooth_layer is not None:
            self.smooth_layer.clear()
            self._raw_alpha(1.0)
        if self.on_smoothing is not None:
            self.on_smoothing(self)

    def _raw_alpha(self, alpha: float) -> None:
        for key in self.layer.keys():
            self.layer.set_alpha(key, alpha)

    def _show_smoothed(self, job: Job, cols: Cols) -> None:
        if not self.smoothing or job.request.smoothing != self.smoothing:
            return  # turned off or changed meanwhile
        if self.smooth_layer is None:
            self.smooth_layer = LineLayer(
                self.figure,
                None,
                glyph_kwargs=self.spec.glyph_kwargs,
                name=f"smooth:{self.cell.position}",
            )
        layer = self.smooth_layer
        if job.key not in layer:
            layer.add(job.key, self.lines[job.key].color, cols)
            if job.key in self.layer:
                self.layer.set_alpha(job.key, RAW_ALPHA_SMOOTHED)
        else:
            layer.replace(job.key, cols)
        line = self.lines.get(job.key)
        if line is not None and line.count == job.request.upto:
            line.smooth_stale = False

