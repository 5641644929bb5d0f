"""Lines of one point, drawn as dots.

A ``multi_line`` row of one point strokes nothing, so a value logged once per run (a
final evaluation, the metrics of TensorBoard's ``add_hparams``) left its plot empty.
A line layer hands its one-point rows here after each flush: a scatter over its own
small source, in each row's colour and opacity, with the row's labels for hover. It is
made at the first such row (a plot without one carries no extra models) and sent only
when its rows change; a line that grows to two points leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bokeh.models import ColumnDataSource
from bokeh.plotting import figure as Figure

__all__ = ["SinglePoints", "DOT_SIZE"]

DOT_SIZE = 6  # px: as TensorBoard draws a run's only point

# (x, y, colour, alpha, label, scope, name, index): one dot, labelled as its line
Dot = tuple[float, float, str, float, str, str, str, int]
COLUMNS = ("x", "y", "color", "alpha", "label", "scope", "name", "index")


class SinglePoints:
    """The dots of one plot's one-point lines."""

    def __init__(self, fig: Figure, name: str) -> None:
        self.figure, self.name = fig, name
        self.source: ColumnDataSource | None = None
        self.renderer: Any = None
        self._shown: tuple[Dot, ...] = ()

    def show(self, dots: Sequence[Dot]) -> None:
        """Draw exactly ``dots`` (nothing is sent when they did not change)."""
        want = tuple(dots)
        if want == self._shown:
            return
        self._shown = want
        data: dict[str, list[Any]] = {c: [d[i] for d in want] for i, c in enumerate(COLUMNS)}
        if self.source is None:
            self.source = ColumnDataSource(data=data, name=f"{self.name}:dots")
            self.renderer = self.figure.scatter("x", "y", source=self.source, color="color", alpha="alpha",
                                                size=DOT_SIZE, name=f"{self.name}:dots:glyph")
        else:
            self.source.data = data
