"""The colours of a page's runs: one owner per page session, asked by every plot and by
the runs panel.

A run takes the next colour of ``colors.run_color`` when a plot of the page first
admits one of its lines, and keeps it for the life of the page: runs that appear later,
ticks and highlights in the runs panel, a cursor reset and zooms never move it. With
``color_by=`` the page has one ``ColorBy`` (a value keeps its colour on every plot, and
a continuous palette spans the values of every plot). The runs panel's swatch of a run
is the colour its lines have: its ``color_by`` value's colour, else the run's colour
(a page whose every plot has its own schema ``color`` section shows the run's first
line's colour instead).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..colors import Ordinals, run_color
from .color_by import ColorBy

__all__ = ["RunColors"]


class RunColors:
    """Run -> colour for one page (see the module doc). ``run_value(scope, key)`` is a
    run's config value (for ``color_by``)."""

    def __init__(
        self,
        *,
        color_by: str | None = None,
        run_value: Callable[[str, str], Any] | None = None,
    ) -> None:
        self._ords = Ordinals()
        self.by: ColorBy | None = ColorBy(color_by) if color_by else None
        self._run_value = run_value or (lambda scope, key: None)
        self.used = False  # whether some plot draws runs in their run colour

    def run(self, scope: str) -> str:
        """The colour of run ``scope``: the next free one on first sight, then always it."""
        self.used = True
        return run_color(self._ords(scope))

    @property
    def count(self) -> int:
        """How many runs have a colour."""
        return len(self._ords)

    def swatch(self, scope: str, fallback: str) -> str:
        """The runs panel's swatch for ``scope``; ``fallback`` (its first line's colour)
        when no plot colours by run."""
        if self.by is not None:
            return self.by.color(self._run_value(scope, self.by.key))
        if self.used:
            return self.run(scope)
        return fallback
