"""What a plot knows of each of its lines, the reads it asks for, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamvis.storage import RangeRequest

from .lines import Key
from .rows import Cols

__all__ = ["PlotLimits", "Line", "Job"]


@dataclass(frozen=True)
class PlotLimits:
    """How much one plot shows: ``budget`` points in all, ``max_lines`` groups."""

    budget: int = 1_000_000
    max_lines: int = 10_000
    width_px: int = 1200  # until the browser reports the plot's width


@dataclass
class Line:
    """What the browser holds of one group, and what must be read for it."""

    key: Key
    color: str
    dash: str = "solid"  # a run's several groups in one plot differ by dash (colors.variant)
    count: int = 0  # the group's points this page has seen (log order)
    mode: str = "exact"  # "exact": every point; "decimated": overview (+ window) + tail
    x_max: float = -np.inf
    tail: list[tuple[int, Cols]] = field(default_factory=list)  # (first count, points)
    stale: bool = False  # decimated: the overview should be read again
    coarse: Cols | None = None  # decimated: a thinned overview, shown outside a zoomed window
    overview_upto: int = 0  # the count the overview was read at (tail: points after it)
    smooth_stale: bool = True
    shown_f: float | None = None  # filtered plots: the filter value shown
    t0: float | None = None  # x=relative: the wall time of the line's first point


@dataclass(frozen=True)
class Job:
    """One range read a plot wants: for ``key``, of ``kind`` overview|detail|smooth."""

    key: Key
    kind: str
    request: RangeRequest
    window: tuple[float, float] | None = None  # detail: the axis range it was read for
