"""``color_by=KEY``: runs coloured by a config value instead of one colour per run.

Runs with equal values share a colour (a number never equals a string: ``32`` and
``"32"`` are two values). Strings, booleans and up to ``MAX_CATEGORIES`` distinct
numbers take a categorical palette: values numbered in order of first appearance, so
their colours stay; the first 10 take Category10, the next 10 Category20's lighter
twins of those, and past 20 values colours repeat. More distinct numbers take a
continuous palette over their range, shown by a colour bar (colours follow the range as
it grows; positive values over two decades or more, a learning rate sweep, along their
logarithm). A key spelled like a run summary (``color_by=loss.last``) takes the
continuous palette from its first value. A run without the key is grey. A page has one ``ColorBy`` (``run_colors.RunColors``
holds it), so a value has one colour on every plot; each plot's ``ColorByControl``
recolours its lines when the shared palette changes (``ColorBy.generation``).

The legend has an entry per value. Clicking it hides every line of that value while
each line has its own renderer (up to ``LEGEND_MAX`` lines); past that one renderer
draws every line and the entries are not clickable (the runs panel hides runs then).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import bokeh.palettes as bp
from bokeh.models import LinearColorMapper, LogColorMapper
from bokeh.models.annotations import ColorBar, Legend, LegendItem

from .. import safe_html
from ..address.summary_keys import split_key
from ..address.where import value_text
from ..colors import Ordinals
from .lines import Key, LineLayer
from .points import PointLayer

__all__ = ["ColorBy", "ColorByControl", "MISSING_COLOR", "MAX_CATEGORIES", "category_color", "value_key",
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
        # a run summary (``loss.last``) is a number per run: a continuous palette at once
        self._categorical = split_key(key) is None
        self.low = self.high = math.nan  # the continuous palette's range
        self._lo, self._hi = math.inf, -math.inf  # of the numbers seen
        self.seen_key = False
        self.generation = 0  # counts the changes that recolour lines already drawn

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
        self.generation += changed
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


class ColorByControl:
    """A plot's side of ``color_by``: each line's colour from its run's value, recolouring
    the lines when the palette changes, the colour bar and the legend of values.

    ``by`` is the page's rule (shared by its plots); ``lines`` is the plot's own dict of lines (shared); ``layer`` draws them, ``legend``
    is the plot's; ``run_value(scope, key)`` is a run's config value; ``note``/``unnote``
    say things in the plot's title; ``also_color`` recolours a line in other layers
    (the smoothed one).
    """

    def __init__(
        self,
        by: ColorBy,
        *,
        run_value: Callable[[str, str], Any],
        lines: dict[Key, Any],
        layer: LineLayer | PointLayer,
        figure: Any,
        legend: Legend,
        note: Callable[[str, str], None],
        unnote: Callable[[str], None],
        also_color: Callable[[Key, str], None],
        click_policy: Literal["none", "hide", "mute"],
    ) -> None:
        self.by = by
        self._generation = by.generation  # the rule's changes this plot's lines follow
        self._run_value, self._lines, self._layer = run_value, lines, layer
        self._figure, self._legend = figure, legend
        self._note, self._unnote, self._also_color = note, unnote, also_color
        self._click_policy = click_policy
        self._recolor = False
        self.recolored = False  # lines recoloured since the session last looked
        self._color_bar: ColorBar | None = None

    def color(self, scope: str) -> str:
        """The colour of a new line of run ``scope`` (its value is taken into account)."""
        value = self._run_value(scope, self.by.key)
        self.by.observe(value)
        return self.by.color(value)

    def recolor_if_needed(self) -> None:
        """Every line's colour again if the palette became continuous or its range grew
        (on any plot of the page): the lines drawn, and the lines admitted whose points
        are still being read (they are drawn later in ``Line.color``)."""
        if not self._recolor and self._generation == self.by.generation:
            return
        self._recolor = False
        self._generation = self.by.generation
        self.recolored = True  # the session's runs panel takes the new swatches
        for key, line in self._lines.items():
            color = self.by.color(self._run_value(key[0], self.by.key))
            line.color = color
            if key in self._layer:
                self._layer.set_color(key, color)
            self._also_color(key, color)
        if self.by.continuous:
            kind = LogColorMapper if self.by.log_scale else LinearColorMapper
            if self._color_bar is None:
                self._color_bar = ColorBar(color_mapper=kind(palette=bp.Viridis256),
                                           title=safe_html.plain(self.by.key))
                self._figure.add_layout(self._color_bar, "right")
            elif type(self._color_bar.color_mapper) is not kind:  # the range grew past two decades
                self._color_bar.color_mapper = kind(palette=bp.Viridis256)
            bar_mapper = self._color_bar.color_mapper
            bar_mapper.update(low=self.by.low, high=self.by.high)

    def configs_arrived(self, scopes: set[str]) -> None:
        """These runs' configs came after their lines were coloured (grey, no value):
        take their values in and colour every line again at the next flush."""
        for key in self._lines:
            if key[0] in scopes:
                self.by.observe(self._run_value(key[0], self.by.key))
                self._recolor = True

    def update_legend(self) -> None:
        """A legend of the values (categorical), or a note that no run has the key."""
        cb = self.by
        if self._lines and not cb.seen_key:
            summary = split_key(cb.key)
            self._note("color_by", f"color_by: no run here has config key {cb.key!r}" if summary is None
                       else f"color_by: no run here has a value of {cb.key!r} (NaN: {summary[0]!r} "
                            f"not logged, or its {summary[1]} is NaN)")
        else:
            self._unnote("color_by")
        if cb.continuous:
            self._legend.items, self._legend.visible = [], False
            return
        by_value: dict[tuple[str, str] | None, tuple[str, list[Key]]] = {}
        for key in self._layer.keys():
            value = self._run_value(key[0], cb.key)
            ident = value_key(value) if value is not None else None
            label = value_label(value) if value is not None else "(none)"
            by_value.setdefault(ident, (label, []))[1].append(key)
        entries = list(by_value.items())
        if all(ident is None or ident[0] == "n" for ident, _ in entries):  # numbers in order
            entries.sort(key=lambda e: (e[0] is None, float(e[0][1]) if e[0] is not None else 0.0))
        items, shared = [], False
        for _, (label, keys) in entries[:MAX_CATEGORIES * 2]:
            refs = [self._layer.legend_ref(k) for k in keys]
            own = list({id(r): r for r, index in refs if r is not None and index is None}.values())
            if own and len(own) == len(refs):  # a renderer per line: the entry hides them all
                items.append(LegendItem(label=f"{cb.key}={label}", renderers=own))
            elif refs[0][0] is not None:  # one renderer draws every line: a swatch only
                shared = True
                items.append(LegendItem(label=f"{cb.key}={label}", renderers=[refs[0][0]], index=refs[0][1]))
        self._legend.items = items  # type: ignore[assignment]
        self._legend.visible = bool(items)
        self._legend.click_policy = "none" if shared else self._click_policy
