"""A plot's smoothing: the EMA slider, and smoothed lines drawn over faint raw ones.

The store smooths every point of a line (``RangeRequest.smoothing``); the session reads
those through the plot's range jobs and hands them to :meth:`Smoothing.show`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bokeh.models.widgets import Slider

from .line_state import Job, Line
from .lines import Key, LineLayer
from .points import PointLayer
from .rows import Cols

__all__ = ["Smoothing", "RAW_ALPHA_SMOOTHED"]

RAW_ALPHA_SMOOTHED = 0.25  # the raw lines behind a smoothed plot


class Smoothing:
    """The EMA smoothing of one plot: its slider (line plots), its value, and the layer
    of smoothed lines drawn over ``raw``'s lines (made on the first smoothed read).

    ``lines`` is the plot's own dict of lines (shared, never rebound by the plot);
    ``on_change`` is called after the user moved the slider.
    """

    def __init__(
        self,
        figure: Any,
        raw: LineLayer | PointLayer,
        lines: dict[Key, Line],
        *,
        glyph_kwargs: Mapping[str, Any],
        position: int,
        slider: bool,
    ) -> None:
        self.value = 0.0
        self.layer: LineLayer | None = None  # the smoothed lines
        self.on_change: Callable[[], None] | None = None
        self._figure, self._raw, self._lines = figure, raw, lines
        self._glyph_kwargs, self._position = glyph_kwargs, position
        self.slider: Slider | None = None
        if slider:
            self.slider = Slider(
                start=0,
                end=0.99,
                step=0.01,
                value=0,
                title="EMA smoothing",
                name=f"ema:{position}",
                sizing_mode="stretch_width",
            )
            self.slider.on_change("value", self._on_ema)

    @property
    def drawn(self) -> bool:
        """Whether smoothed lines are on: new raw lines are then drawn faintly."""
        return bool(self.value) and self.layer is not None

    def set_value(self, value: float) -> None:
        """Smooth with ``value`` (the page's control; 0: raw lines); the slider follows.
        The caller reads the smoothed lines (``on_change`` is not called)."""
        if not self._take(value):
            return
        if self.slider is not None and self.slider.value != self.value:
            self.slider.value = self.value  # (its callback finds the value taken)

    def _take(self, new: float) -> bool:
        """Take a new weight: lines to be smoothed again, raw lines back at 0."""
        if new == self.value:
            return False
        self.value = float(min(max(new, 0.0), 0.999))
        for line in self._lines.values():
            line.smooth_stale = True
        if self.value == 0 and self.layer is not None:
            self.layer.clear()
            self._raw_alpha(1.0)
        return True

    def _on_ema(self, attr: str, old: object, new: object) -> None:
        if not isinstance(new, int | float) or not self._take(float(new)):
            return
        if self.on_change is not None:
            self.on_change()

    def _raw_alpha(self, alpha: float) -> None:
        for key in self._raw.keys():
            self._raw.set_alpha(key, alpha)

    def show(self, job: Job, cols: Cols) -> None:
        """Draw a smoothed read (unless smoothing was turned off or changed meanwhile)."""
        if not self.value or job.request.smoothing != self.value:
            return  # turned off or changed meanwhile
        if self.layer is None:
            self.layer = LineLayer(
                self._figure,
                None,
                glyph_kwargs=self._glyph_kwargs,
                name=f"smooth:{self._position}",
            )
        layer = self.layer
        if job.key not in layer:
            drawn = self._lines[job.key]
            layer.add(job.key, drawn.color, cols, dash=drawn.dash)
            if job.key in self._raw:
                self._raw.set_alpha(job.key, RAW_ALPHA_SMOOTHED)
        else:
            layer.replace(job.key, cols)
        line = self._lines.get(job.key)
        if line is not None and line.count == job.request.upto:
            line.smooth_stale = False

    # ---- the smoothed layer follows the raw one ---------------------------------------------
    def set_color(self, key: Key, color: str) -> None:
        if self.layer is not None and key in self.layer:
            self.layer.set_color(key, color)

    def remove(self, keys: list[Key]) -> None:
        if self.layer is not None:
            self.layer.remove(keys)

    def clear(self) -> None:
        if self.layer is not None:
            self.layer.clear()

    def set_hidden(self, scopes: set[str]) -> None:
        if self.layer is not None:
            self.layer.hidden = set(scopes)

    def flush(self) -> None:
        if self.layer is not None:
            self.layer.flush()
