"""The filter slider of a plot (a cloud per step, a histogram per step).

The browser holds, per group, only its points at the largest filter value at or
below the slider's; the slider follows the newest value until the user moves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from bokeh.models.widgets import Slider

from .line_state import Line
from .lines import Key
from .rows import Cols

__all__ = ["FilterSlider"]


class FilterSlider:
    """The filter slider of one plot and the filter value each group shows.

    ``lines`` is the plot's own dict of lines (shared); ``put`` shows data as the whole
    of a group's line, ``extend`` appends to it. ``on_select`` is called with the value
    to show after the user moved the slider (the session reads those points).
    """

    def __init__(
        self,
        lines: dict[Key, Line],
        *,
        put: Callable[[Key, Cols], None],
        extend: Callable[[Key, Cols], None],
        title: str,
        position: int,
    ) -> None:
        self._lines, self._put, self._extend = lines, put, extend
        self.follow = True
        self._slider_set: float | None = None
        self.selected: float | None = None  # the filter value shown (server-side filter)
        self.on_select: Callable[[float], None] | None = None
        self._f_min, self._f_max = np.inf, -np.inf
        self.slider = Slider(
            start=0,
            end=1,
            step=1,
            value=0,
            disabled=True,
            title=title,
            name=f"filter:{position}",
            sizing_mode="stretch_width",
        )
        self.slider.on_change("value", self._on_slider)

    def add(self, line: Line, data: Cols) -> None:
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
        for key, line in self._lines.items():
            rows = data.get(key) or _empty()
            self._put(key, rows)
            line.shown_f = float(rows["f"][0]) if len(rows["f"]) else None

    def _track_filter(self, data: Cols) -> None:
        f = data["f"][np.isfinite(data["f"])]
        if len(f) == 0:
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
            self.on_select(self._f_max if self.follow else float(new))


def _empty() -> Cols:
    """No points of a filtered group (its 'f' column included)."""
    return {"x": np.zeros(0), "y": np.zeros(0), "f": np.zeros(0)}
