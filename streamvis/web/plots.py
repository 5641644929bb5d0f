"""One plot on the page: a WebGL figure whose glyphs are (scope, name, index) groups.

``PlotView`` owns the Bokeh models of one layout cell and applies data to them; it
never does I/O (the session fetches in a worker thread and hands results here on
Bokeh's event loop). A glyph holds every point while it has at most ``budget``
points ("full" mode, new points streamed); beyond that it is in "range" mode and
shows a decimated overview plus the visible x-range at full budget (re-read on
zoom and pan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bokeh.models import (
    Column,
    ColumnDataSource,
    CustomJS,
    CustomJSTransform,
    HoverTool,
    Row,
)
from bokeh.models.annotations import Legend, LegendItem
from bokeh.models.widgets import Slider
from bokeh.plotting import figure

from .colors import Ordinals
from .layout import Cell
from .rows import Cols, minmax_thin
from .schema import PlotSpec

__all__ = ["Key", "Cols", "Glyph", "PlotView", "group_label"]

Key = tuple[str, str, int]  # (scope, name, index)

EMA_JS = """
const a = alpha.value;
if (!(a > 0)) return xs;
const out = new Float64Array(xs.length);
let m = NaN;
for (let i = 0; i < xs.length; i++) {
  const v = xs[i];
  if (!Number.isFinite(v)) { out[i] = v; continue; }
  m = Number.isNaN(m) ? v : a * m + (1 - a) * v;
  out[i] = m;
}
return out;
"""

REDRAW_JS = "for (const s of sources) s.change.emit();"


def group_label(key: Key) -> str:
    """The legend and hover label of a glyph."""
    scope, name, index = key
    return f"{scope} · {name} · {index}"


@dataclass
class Glyph:
    """Server-side state of one drawn group."""

    key: Key
    source: ColumnDataSource
    renderer: object
    item: LegendItem
    mode: str = "full"  # "full": every point; "range": decimated per visible range
    chunks: list[Cols] = field(default_factory=list)  # full mode: what the browser has
    count: int = 0
    x_max: float = -np.inf
    dirty: bool = False  # range mode: new points not yet shown
    overview: Cols | None = None
    shown_f: float | None = None  # filtered plots: the filter value shown

    def full_data(self) -> Cols:
        if not self.chunks:
            return {}
        if len(self.chunks) > 1:
            self.chunks = [{k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}]
        return self.chunks[0]


def _empty(filtered: bool) -> Cols:
    cols = {"x": np.zeros(0), "y": np.zeros(0)}
    if filtered:
        cols["f"] = np.zeros(0)
    return cols


class PlotView:
    """The figure, legend and controls of one layout cell."""

    def __init__(self, spec: PlotSpec, cell: Cell, *, budget: int) -> None:
        self.spec, self.cell, self.budget = spec, cell, budget
        self.name_pattern = cell.names or spec.name_pattern
        self.glyphs: dict[Key, Glyph] = {}
        self.scope_ords, self.name_ords = Ordinals(), Ordinals()
        self.view_range: tuple[float, float] | None = None  # set after the user zooms
        kw: dict[str, object] = {
            # lines zoom along x with the wheel (a time axis); scatter plots in both
            "tools": "pan,xwheel_zoom,wheel_zoom,box_zoom,reset,save",
            "active_scroll": "xwheel_zoom" if spec.glyph_kind == "line" else "wheel_zoom",
            # BokehJS sends RangesUpdate for wheel zooms when its level-of-detail
            # interaction ends, lod_timeout ms after the last event (default 500)
            "lod_timeout": 30,
        }
        kw.update(spec.figure_kwargs)
        kw.update(sizing_mode="stretch_both", output_backend="webgl", name=f"plot:{cell.position}")
        kw.setdefault("title", spec.name)
        if cell.x_log:
            kw["x_axis_type"] = "log"
        if cell.y_log:
            kw["y_axis_type"] = "log"
        self.figure = figure(**kw)  # type: ignore[arg-type]
        self.figure.min_height = 60
        self.figure.min_width = 60
        legend_kw: dict[str, object] = {"click_policy": "hide", "location": "top_left"}
        legend_kw.update(spec.legend_kwargs)
        self.legend = Legend(items=[], **legend_kw)  # type: ignore[arg-type]
        self.figure.add_layout(self.legend)
        tips = [("group", "$name"), (spec.x, "@x"), (spec.y, "@y")]
        if spec.filter_column:
            tips.append((spec.filter_column, "@f"))
        self.figure.add_tools(HoverTool(tooltips=tips))

        controls: list[object] = []
        self.ema: Slider | None = None
        self.ema_transform: CustomJSTransform | None = None
        self.redraw = CustomJS(args={"sources": []}, code=REDRAW_JS)
        if spec.glyph_kind == "line":
            self.ema = Slider(
                start=0,
                end=0.99,
                step=0.01,
                value=0,
                title="EMA smoothing",
                name=f"ema:{cell.position}",
                sizing_mode="stretch_width",
            )
            self.ema_transform = CustomJSTransform(args={"alpha": self.ema}, v_func=EMA_JS)
            self.ema.js_on_change("value", self.redraw)
            controls.append(self.ema)
        self.slider: Slider | None = None
        self.follow = True
        self._slider_set: float | None = None
        self.selected: float | None = None  # the filter value shown (server-side filter)
        self.on_select: Callable[[PlotView, float], None] | None = None
        if spec.filter_column:
            self.slider = Slider(
                start=0,
                end=1,
                step=1,
                value=0,
                disabled=True,
                title=spec.filter_title or spec.filter_column,
                name=f"filter:{cell.position}",
                sizing_mode="stretch_width",
            )
            self.slider.on_change("value", self._on_slider)
            controls.append(self.slider)
        if controls:
            bar = Row(children=controls, sizing_mode="stretch_width", height=50)  # type: ignore[arg-type]
            self.root: object = Column(
                children=[self.figure, bar],
                sizing_mode="stretch_both",
                name=f"cell:{cell.position}",
            )
        else:
            self.root = self.figure
        self._f_min, self._f_max = np.inf, -np.inf
        self._unfit: set[tuple[str, str]] = set()

    # ---- which groups belong here -------------------------------------------------
    def color(self, key: Key) -> str:
        scope, name, index = key
        return self.spec.color.color(self.scope_ords(scope), self.name_ords(name), index)

    def _add_glyph(self, key: Key) -> Glyph:
        filtered = self.spec.filter_column is not None
        src = ColumnDataSource(data=_empty(filtered))
        label = group_label(key)
        kw = dict(self.spec.glyph_kwargs)
        kw.setdefault("color", self.color(key))
        r: Any
        if self.spec.glyph_kind == "line":
            y = {"field": "y", "transform": self.ema_transform}
            r = self.figure.line(x="x", y=y, source=src, name=label, **kw)  # type: ignore[arg-type]
        else:
            r = self.figure.scatter(x="x", y="y", source=src, name=label, **kw)
        item = LegendItem(label=label, renderers=[r])
        self.legend.items.append(item)  # type: ignore[arg-type]
        self.redraw.args["sources"] = [*self.redraw.args["sources"], src]
        g = Glyph(key=key, source=src, renderer=r, item=item)
        self.glyphs[key] = g
        return g

    def remove(self, scope: str, name: str | None) -> None:
        """Drop the glyphs of a deleted scope or (scope, name)."""
        self._remove_keys(
            [k for k in self.glyphs if k[0] == scope and (name is None or k[1] == name)]
        )

    def _remove_keys(self, gone: list[Key]) -> None:
        if not gone:
            return
        dead = {id(self.glyphs[k].renderer) for k in gone}
        self.figure.renderers = [r for r in self.figure.renderers if id(r) not in dead]
        items: list[Any] = list(self.legend.items)
        self.legend.items = [i for i in items if id(i.renderers[0]) not in dead]
        srcs = {id(self.glyphs[k].source) for k in gone}
        self.redraw.args["sources"] = [s for s in self.redraw.args["sources"] if id(s) not in srcs]
        for k in gone:
            del self.glyphs[k]

    def clear(self, keep: set[Key]) -> None:
        """After a cursor reset: drop glyphs not in ``keep``, forget the data of the rest
        (renderers and colours stay; the reload refills them)."""
        for key in [k for k in self.glyphs if k not in keep]:
            self._remove_keys([key])
        for g in self.glyphs.values():
            g.chunks, g.count, g.x_max, g.mode, g.overview = [], 0, -np.inf, "full", None
            g.shown_f = None
            g.source.data = _empty(self.spec.filter_column is not None)

    # ---- new data ------------------------------------------------------------------
    def pick(self, cols: Mapping[str, np.ndarray]) -> Cols:
        """Columns of one group as this plot draws them ('x', 'y'[, 'f'])."""
        data = {
            "x": np.asarray(cols[self.spec.x], dtype=np.float64),
            "y": np.asarray(cols[self.spec.y], dtype=np.float64),
        }
        if self.spec.filter_column:
            data["f"] = np.asarray(cols[self.spec.filter_column], dtype=np.float64)
        return data

    def wants(self, cols: Mapping[str, np.ndarray]) -> bool:
        """Whether a group with these columns can be drawn here."""
        return all(c in cols for c in self.spec.columns)

    def note_unfit(self, key: Key, cols: Mapping[str, np.ndarray]) -> None:
        """Say in the title, once per (scope, name), why a matching group is not drawn."""
        scope, name, _ = key
        if (scope, name) in self._unfit:
            return
        self._unfit.add((scope, name))
        missing = ", ".join(c for c in self.spec.columns if c not in cols)
        title: Any = self.figure.title
        title.text = f"{title.text}  [not drawn: {scope}/{name} has no column {missing}]"

    def ensure(self, key: Key) -> None:
        """Create the glyph of ``key`` if it is new (its colour is fixed from now on)."""
        if key not in self.glyphs:
            self._add_glyph(key)

    def add_points(self, key: Key, data: Cols, *, total: int | None = None) -> None:
        """Append new points of ``key`` (only what the browser lacks)."""
        g = self.glyphs.get(key) or self._add_glyph(key)
        n = len(data["x"])
        if n == 0:
            return
        g.count = total if total is not None else g.count + n
        if self.slider is not None:
            self._add_filtered(g, data)
            return
        if g.mode == "range":
            g.dirty = True
            return
        if g.count > self.budget:
            g.mode, g.dirty, g.chunks = "range", True, []
            return
        x = data["x"]
        in_order = self.spec.glyph_kind != "line" or (
            x[0] >= g.x_max and bool(np.all(x[1:] >= x[:-1]))
        )
        g.chunks.append(dict(data))
        g.x_max = max(g.x_max, float(np.max(x)))
        if in_order and g.count > n:
            g.source.stream(data)  # type: ignore[arg-type]
        else:
            full = g.full_data()
            if self.spec.glyph_kind == "line":
                order = np.argsort(full["x"], kind="stable")
                full = {k: v[order] for k, v in full.items()}
                g.chunks = [full]
            g.source.data = dict(full)

    def mark_big(self, key: Key, count: int) -> None:
        """A group already over budget: draw it in range mode."""
        g = self.glyphs.get(key) or self._add_glyph(key)
        g.mode, g.dirty, g.chunks, g.count = "range", True, [], count

    def range_jobs(self, force: bool = False) -> list[tuple[Key, tuple[float, float] | None]]:
        """Range-mode glyphs that need a re-read: (key, visible x-range or None)."""
        return [
            (k, self.view_range)
            for k, g in self.glyphs.items()
            if g.mode == "range" and (g.dirty or force)
        ]

    def set_range_data(
        self,
        key: Key,
        overview: Cols | None,
        detail: Cols | None,
        window: tuple[float, float] | None,
    ) -> None:
        """Show a range-mode glyph: the overview outside ``window``, the detail inside."""
        g = self.glyphs.get(key)
        if g is None:
            return
        if overview is not None:
            g.overview = overview
            g.dirty = False
        ov = g.overview or _empty(self.spec.filter_column is not None)
        if detail is None or window is None:
            data = ov
        else:  # off-screen, a coarser overview (extremes kept) is enough until a pan re-reads
            lo, hi = window
            coarse = minmax_thin(ov, max(self.budget // 8, 16))
            left, right = coarse["x"] < lo, coarse["x"] > hi
            data = {k: np.concatenate([coarse[k][left], detail[k], coarse[k][right]]) for k in ov}
        g.source.data = dict(data)

    # ---- filter slider: the browser holds only the selected filter value's points ----
    def _add_filtered(self, g: Glyph, data: Cols) -> None:
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
        if g.shown_f is not None and best < g.shown_f:
            return
        rows = {k: v[f == best] for k, v in data.items()}
        if g.shown_f == best:
            g.source.stream(rows)  # type: ignore[arg-type]
        else:
            g.shown_f = best
            g.source.data = rows

    def show_selection(self, value: float, data: Mapping[Key, Cols]) -> None:
        """Show, per glyph, its points at the largest filter value <= ``value``."""
        if value != (self._f_max if self.follow else self.selected):
            return  # superseded by a later move or by following the newest value
        for key, g in self.glyphs.items():
            rows = data.get(key) or _empty(True)
            g.source.data = dict(rows)
            g.shown_f = float(rows["f"][0]) if len(rows["f"]) else None

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
