"""Every point of one scatter plot in one ColumnDataSource, with per-point colour.

Scatter groups (point clouds, often one step at a time under a filter slider) are
shown whole or replaced whole, so the layer keeps each group's points and sends
the concatenation once per poll when anything changed: one document change,
whatever the number of groups. Hover reads each point's ``scope``/``name``/``index``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource
from bokeh.models.annotations import Legend, LegendItem
from bokeh.plotting import figure as Figure

from .legend_labels import legend_labels
from .lines import LEGEND_MAX, Key, group_label, split_style
from .rows import Cols

__all__ = ["PointLayer"]


class PointLayer:
    """The groups of one scatter plot, drawn by one renderer (see the module doc)."""

    def __init__(
        self,
        fig: Figure,
        legend: Legend | None,
        *,
        glyph_kwargs: Mapping[str, Any],
        name: str,
        filtered: bool,
        glyph_method: str = "scatter",
    ) -> None:
        self.figure, self.legend, self.filtered = fig, legend, filtered
        self._cols = ["x", "y", *(["f"] if filtered else [])]
        self.source = ColumnDataSource(data=self._empty(), name=f"{name}:source")
        kw, self.fixed_color, self.base_alpha = split_style(glyph_kwargs)
        draw = getattr(fig, glyph_method)  # "circle" for a scatter sized by radius
        self.renderer = draw(
            x="x", y="y", color="color", alpha="alpha", source=self.source, name=name, **kw
        )
        self.renderers = [self.renderer]
        self._data: dict[Key, Cols] = {}
        self._colors: dict[Key, str] = {}
        self._alpha: dict[Key, float] = {}
        self._dirty = False
        self._starts: dict[Key, int] = {}
        self.hidden: set[str] = set()  # scopes not drawn (the runs panel's ticks)
        self._hidden_drawn: frozenset[str] = frozenset()

    def _empty(self) -> dict[str, Any]:
        out: dict[str, Any] = {c: np.zeros(0) for c in self._cols}
        out.update(color=[], alpha=np.zeros(0), label=[], scope=[], name=[], index=np.zeros(0, int))
        return out

    def __contains__(self, key: Key) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> list[Key]:
        return list(self._data)

    def data(self, key: Key) -> Cols:
        return self._data[key]

    def length(self, key: Key) -> int:
        return len(self._data[key]["x"])

    def add(self, key: Key, color: str, cols: Cols, *, slack: float = 0.5, dash: str = "solid") -> None:
        """A new group (``dash`` is for lines: points differ by shade, not dash)."""
        self._data[key] = {c: np.asarray(cols[c], np.float64) for c in self._cols}
        self._colors[key] = self.fixed_color or color
        self._alpha[key] = 1.0
        self._dirty = True

    def append(self, key: Key, cols: Cols) -> None:
        if len(cols["x"]):
            old = self._data[key]
            self._data[key] = {c: np.concatenate([old[c], cols[c]]) for c in self._cols}
            self._dirty = True

    def replace(self, key: Key, cols: Cols, *, slack: float = 0.5) -> None:
        self._data[key] = {c: np.asarray(cols[c], np.float64) for c in self._cols}
        self._dirty = True

    def set_color(self, key: Key, color: str) -> None:
        self._colors[key] = color
        self._dirty = True

    def legend_ref(self, key: Key) -> tuple[Any, int | None]:
        """(renderer, index of one of its points), for a legend item of its own."""
        return self.renderer, self._starts.get(key)

    def set_alpha(self, key: Key, alpha: float) -> None:
        self._alpha[key] = alpha
        self._dirty = True

    def remove(self, keys: Iterable[Key]) -> None:
        for k in keys:
            if self._data.pop(k, None) is not None:
                self._dirty = True

    def clear(self) -> None:
        self._data.clear()
        self._dirty = True

    def flush(self) -> None:
        """Send every group's points once, if anything changed since the last flush."""
        if not self._dirty and frozenset(self.hidden) == self._hidden_drawn:
            return
        self._dirty = False
        self._hidden_drawn = frozenset(self.hidden)
        keys = [k for k in self._data if k[0] not in self.hidden]
        sizes = [len(self._data[k]["x"]) for k in keys]
        starts = np.cumsum([0, *sizes])[: len(sizes)].tolist()
        self._starts = {k: int(a) for k, a, n in zip(keys, starts, sizes, strict=True) if n}
        out: dict[str, Any] = {
            c: np.concatenate([self._data[k][c] for k in keys]) if keys else np.zeros(0)
            for c in self._cols
        }
        rep = lambda values: np.repeat(np.asarray(values, dtype=object), sizes).tolist()  # noqa: E731
        out["color"] = rep([self._colors[k] for k in keys])
        alphas = [self._alpha[k] * self.base_alpha for k in keys]
        out["alpha"] = np.repeat(alphas, sizes).astype(np.float64)
        out["label"] = rep([group_label(k) for k in keys])
        out["scope"] = rep([k[0] for k in keys])
        out["name"] = rep([k[1] for k in keys])
        out["index"] = np.repeat([k[2] for k in keys], sizes).astype(np.int64)
        self.source.data = out
        if self.legend is not None:
            few = len(keys) <= LEGEND_MAX
            self.legend.items = (  # type: ignore[assignment]
                [
                    LegendItem(label=text, renderers=[self.renderer], index=int(i))  # type: ignore[list-item]
                    for text, i, n in zip(legend_labels(keys), starts, sizes, strict=True)
                    if n
                ]
                if few
                else []
            )
            self.legend.visible = few and bool(keys)
