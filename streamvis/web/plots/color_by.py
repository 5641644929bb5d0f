"""``color_by=KEY``: runs coloured by a config value instead of one colour per line.

Runs with equal values share a colour (a number never equals a string: ``32`` and
``"32"`` are two values). Strings, booleans and up to ``MAX_CATEGORIES`` distinct
numbers take a categorical palette: values numbered in order of first appearance, so
their colours stay; the first 10 take Category10, the next 10 Category20's lighter
twins of those, and past 20 values colours repeat. More distinct numbers take a
continuous palette over their range, shown by a colour bar (colours follow the range as
it grows; positive values over two decades or more, a learning rate sweep, along their
logarithm). A run without the key is grey.

The legend has an entry per value. Clicking it hides every line of that value while
each line has its own renderer (up to ``LEGEND_MAX`` lines); past that one renderer
draws every line and the entries are not clickable (the runs panel hides runs then).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import bokeh.palettes as bp
from bokeh.models import LinearColorMapper, LogColorMapper
from bokeh.models.annotations import ColorBar, LegendItem

from ..address.where import value_text
from ..colors import Ordinals
from .lines import Key

if TYPE_CHECKING:
    from collections.abc import Callable

    from bokeh.models.annotations import Legend

    from .lines import LineLayer
    from .points import PointLayer

__all__ = ["ColorBy", "ColorByMixin", "MISSING_COLOR", "MAX_CATEGORIES", "category_color", "value_key",
           "value_label"]

MISSING_COLOR = "#9e9e9e"
MAX_CATEGORIES = 10


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def value_label(value: Any) -> str:
    """How a config value is named in the legend: a string quoted when it reads as a
    number (``batch='32'`` beside ``batch=32``)."""
    text = value_text(value)
    if isinstance(value, str) and _reads_as_number(value):
        return repr(value)
    return text


def value_key(value: Any) -> tuple[str, str]:
    """The identity of a value for colours: its kind and its text (numbers by value:
    ``32`` and ``32.0`` are one)."""
    if isinstance(value, bool):
        return "b", value_text(value)
    if _is_number(value):
        return "n", repr(float(value))
    return "s", value_text(value)


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def category_color(k: int) -> str:
    """The colour of the ``k``-th value (stable: it never depends on how many follow)."""
    if k < 10:
        return bp.Category10[10][k]
    if k < 20:
        return bp.Category20[20][2 * (k - 10) + 1]  # the lighter twin of Category10[k - 10]
    return bp.Category20[20][k % 20]


class ColorBy:
    """The colour of each value of one config key, on one plot."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._ords = Ordinals()
        self._numbers: set[float] = set()
        self._categorical = True
        self.low = self.high = math.nan  # the continuous palette's range
        self._lo, self._hi = math.inf, -math.inf  # of the numbers seen
        self.seen_key = False

    @property
    def continuous(self) -> bool:
        return not self._categorical

    def observe(self, value: Any) -> bool:
        """Take a run's value into account; True when existing colours must be redone
        (the palette switched to continuous, or the continuous range grew)."""
        if value is None:
            return False
        self.seen_key = True
        self._ords(value_key(value))
        if not _is_number(value):
            return False
        changed = False
        v = float(value)
        self._numbers.add(v)
        self._lo, self._hi = min(self._lo, v), max(self._hi, v)
        if self._categorical and len(self._numbers) > MAX_CATEGORIES and self._all_numeric():
            self._categorical = False
            changed = True
        if not self._categorical and (self._lo != self.low or self._hi != self.high):
            self.low, self.high = self._lo, self._hi
            changed = True
        return changed

    @property
    def log_scale(self) -> bool:
        """A continuous range of positive values over two decades or more (a learning
        rate sweep) is coloured along their logarithm."""
        return self.continuous and self.low > 0 and self.high >= 100 * self.low

    def _all_numeric(self) -> bool:
        return len(self._numbers) == len(self._ords)

    def color(self, value: Any) -> str:
        """The colour of ``value`` (grey when the run has no value)."""
        if value is None:
            return MISSING_COLOR
        if not self._categorical and _is_number(value):
            ramp: tuple[str, ...] = tuple(bp.Viridis256)
            if self.log_scale:
                lo, hi, v = math.log(self.low), math.log(self.high), math.log(float(value))
            else:
                lo, hi, v = self.low, self.high, float(value)
            pos = 0.5 if hi <= lo else (v - lo) / (hi - lo)
            return ramp[min(len(ramp) - 1, max(0, int(pos * (len(ramp) - 1))))]
        return category_color(self._ords(value_key(value)))


class ColorByMixin:
    """A plot's side of ``color_by``: recolouring its lines, the colour bar and the
    legend of values. ``PlotView`` provides the attributes declared here."""

    color_by: ColorBy | None
    run_value: Callable[[str, str], Any]
    layer: LineLayer | PointLayer
    smooth_layer: LineLayer | None
    legend: Legend
    lines: dict[Key, Any]
    figure: Any
    spec: Any
    _recolor: bool
    recolored: bool
    _color_bar: ColorBar | None

    if TYPE_CHECKING:

        def _note(self, key: str, text: str) -> None: ...
        def _unnote(self, key: str) -> None: ...

    def _recolor_lines(self) -> None:
        """Every line's colour again (the palette became continuous or its range grew):
        the lines drawn, and the lines admitted whose points are still being read (they
        are drawn later in ``Line.color``)."""
        assert self.color_by is not None
        self._recolor = False
        self.recolored = True  # the session's runs panel takes the new swatches
        for key, line in self.lines.items():
            color = self.color_by.color(self.run_value(key[0], self.color_by.key))
            line.color = color
            if key in self.layer:
                self.layer.set_color(key, color)
            if self.smooth_layer is not None and key in self.smooth_layer:
                self.smooth_layer.set_color(key, color)
        if self.color_by.continuous:
            kind = LogColorMapper if self.color_by.log_scale else LinearColorMapper
            if self._color_bar is None:
                self._color_bar = ColorBar(color_mapper=kind(palette=bp.Viridis256), title=self.color_by.key)
                self.figure.add_layout(self._color_bar, "right")
            elif type(self._color_bar.color_mapper) is not kind:  # the range grew past two decades
                self._color_bar.color_mapper = kind(palette=bp.Viridis256)
            bar_mapper = self._color_bar.color_mapper
            bar_mapper.update(low=self.color_by.low, high=self.color_by.high)

    def configs_arrived(self, scopes: set[str]) -> None:
        """These runs' configs came after their lines were coloured (grey, no value):
        take their values in and colour every line again at the next flush."""
        if self.color_by is None:
            return
        for key in self.lines:
            if key[0] in scopes:
                self.color_by.observe(self.run_value(key[0], self.color_by.key))
                self._recolor = True

    def _value_legend(self) -> None:
        """A legend of the values (categorical), or a note that no run has the key."""
        cb = self.color_by
        assert cb is not None
        if self.lines and not cb.seen_key:
            self._note("color_by", f"color_by: no run here has config key {cb.key!r}")
        else:
            self._unnote("color_by")
        if cb.continuous:
            self.legend.items, self.legend.visible = [], False
            return
        by_value: dict[tuple[str, str] | None, tuple[str, list[Key]]] = {}
        for key in self.layer.keys():
            value = self.run_value(key[0], cb.key)
            ident = value_key(value) if value is not None else None
            label = value_label(value) if value is not None else "(none)"
            by_value.setdefault(ident, (label, []))[1].append(key)
        entries = list(by_value.items())
        if all(ident is None or ident[0] == "n" for ident, _ in entries):  # numbers in order
            entries.sort(key=lambda e: (e[0] is None, float(e[0][1]) if e[0] is not None else 0.0))
        items, shared = [], False
        for _, (label, keys) in entries[:MAX_CATEGORIES * 2]:
            refs = [self.layer.legend_ref(k) for k in keys]
            own = list({id(r): r for r, index in refs if r is not None and index is None}.values())
            if own and len(own) == len(refs):  # a renderer per line: the entry hides them all
                items.append(LegendItem(label=f"{cb.key}={label}", renderers=own))
            elif refs[0][0] is not None:  # one renderer draws every line: a swatch only
                shared = True
                items.append(LegendItem(label=f"{cb.key}={label}", renderers=[refs[0][0]], index=refs[0][1]))
        self.legend.items = items  # type: ignore[assignment]
        self.legend.visible = bool(items)
        self.legend.click_policy = "none" if shared else self.spec.legend_kwargs.get("click_policy", "hide")

