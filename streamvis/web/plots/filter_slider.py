"""The filter slider of a plot (a cloud per step, a histogram per step).

The browser holds, per group, only its points at the largest filter value at or
below the slider's; the slider follows the newest value until the user moves it.
``PlotView`` mixes this in: it provides ``lines``, ``slider``, ``_put``,
``_extend`` and ``_empty``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .lines import Key
from .rows import Cols

if TYPE_CHECKING:
    from bokeh.models.widgets import Slider

    from .plot_view import Line

__all__ = ["FilterSliderMixin"]


class FilterSliderMixin:
    """Filter-slider state and behaviour of a plot (see the module doc)."""

    lines: dict[Key, Line]
    slider: Slider | None
    follow: bool
    selected: float | None
    _slider_set: float | None
    _f_min: float
    _f_max: float
    on_select: Callable[[Any, float], None] | None

    if TYPE_CHECKING:  # provided by PlotView

        def _put(self, key: Key, data: Cols, *, slack: float = 0.5) -> None: ...
        def _extend(self, key: Key, data: Cols) -> None: ...
        def _empty(self) -> Cols: ...

    def _add_filtered(self, line: Line, data: Cols) -> None:
        """Each glyph shows its points at its largest filter value <= the slider's."""
        self._track_filter(data)
        target = self._f_max if self.follow else self.selected
        if target is None or not np.isfinite(target):
            return
        f = data["f"]
        below = f[f <= target]
        if len(below) == 0:
            return
        best = float(below.max())
        if line.shown_f is not None and best < line.shown_f:
            return
        rows = {k: v[f == best] for k, v in data.items()}
        if line.shown_f == best:
            self._extend(line.key, rows)
        else:
            line.shown_f = best
            self._put(line.key, rows)

    def show_selection(self, value: float, data: Mapping[Key, Cols]) -> None:
        """Show, per glyph, its points at the largest filter value <= ``value``."""
        if value != (self._f_max if self.follow else self.selected):
            return  # superseded by a later move or by following the newest value
        for key, line in self.lines.items():
            rows = data.get(key) or self._empty()
            self._put(key, rows)
            line.shown_f = float(rows["f"][0]) if len(rows["f"]) else None

    def _track_filter(self, data: Cols) -> None:
        f = data["f"][np.isfinite(data["f"])]
        if self.slider is None or len(f) == 0:
            return
        self._f_min = min(self._f_min, float(f.min()))
        self._f_max = max(self._f_max, float(f.max()))
        lo, hi = self._f_min, self._f_max
        integral = bool(np.all(np.floor(f) == f))
        step = 1.0 if integral else max((hi - lo) / 200.0, 1e-12)
        s = self.slider
        s.update(start=lo, end=max(hi, lo + step), step=step, disabled=False)
        if self.follow:
            self._slider_set = hi
            s.value = hi

    def _on_slider(self, attr: str, old: object, new: object) -> None:
        if self._slider_set is not None and new == self._slider_set:
            return  # our own follow update
        if not isinstance(new, int | float):
            return
        self.follow = new >= self._f_max
        self.selected = None if self.follow else float(new)
        if self.on_select is not None:
            self.on_select(self, self._f_max if self.follow else float(new))
