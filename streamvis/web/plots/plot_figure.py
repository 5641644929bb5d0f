"""The Bokeh figure of one plot, built from its schema entry and its place on the page."""

from __future__ import annotations

from typing import Any

from bokeh.core.validation import silence
from bokeh.core.validation.warnings import MISSING_RENDERERS
from bokeh.models import DatetimeTickFormatter
from bokeh.models.annotations import Title
from bokeh.plotting import figure

from .. import safe_html
from ..address.layout import Cell
from ..figure_kwargs import apply_submodels
from ..local_time import local_time_ticks
from ..schema import PlotSpec
from .csv_download import csv_tool
from .ticks import use_number_ticks

__all__ = ["build_figure", "lod_interval", "LOD_THRESHOLD"]

LOD_THRESHOLD = 200  # rows (lines) above which BokehJS draws every 10th during a gesture
LOD_INTERVAL = 300  # BokehJS's default: ms after a gesture event that count as interactive

# A plot has no renderer until its first lines arrive, and its legend sits beside the
# data (not in ``center``, which quieted Bokeh's check): an empty plot is not a mistake
# here, and the warning would fill the server's log with a line per plot per tab.
silence(MISSING_RENDERERS, True)


def lod_interval(lines: int, threshold: int | None = LOD_THRESHOLD) -> int:
    """The figure's ``lod_interval`` for a plot of ``lines`` lines.

    BokehJS sends a wheel zoom's RangesUpdate when its level-of-detail interaction
    ends: a paint finds the gesture over (``lod_interval`` 0), or else a timer
    ``lod_timeout`` ms after a paint does. The thinned drawing that the interaction
    buys only happens past ``LOD_THRESHOLD`` lines, so below it the interval is 0 and
    the zoomed window is asked for in the first paint after the wheel, ~10 ms sooner.
    ``threshold``: the figure's ``lod_threshold`` (None: never thinned).
    """
    return LOD_INTERVAL if threshold is not None and lines > threshold else 0


def build_figure(spec: PlotSpec, cell: Cell, *, x_mode: str, webgl: bool) -> Any:
    """A figure with the app's tools and interaction settings (PNG by Bokeh's save
    tool, CSV by ours: ``csv_download``), the schema's ``figure_kwargs`` (and nested
    title/axis styles), the cell's log axes and the page's x mode (a datetime axis for
    ``wall``)."""
    kw: dict[str, object] = {
        # lines zoom along x with the wheel (a time axis); scatter plots in both
        "tools": "pan,xwheel_zoom,wheel_zoom,box_zoom,reset,save",
        "active_scroll": "xwheel_zoom" if spec.glyph_kind == "line" else "wheel_zoom",
        # BokehJS sends RangesUpdate for wheel zooms when its level-of-detail
        # interaction ends, lod_timeout ms after the last event (default 500)
        "lod_timeout": 10,
        # a pan or zoom over many lines draws every 10th of them until it ends
        "lod_threshold": LOD_THRESHOLD,
    }
    if spec.glyph_kind == "line":  # a row per line (PlotView.flush follows their count)
        kw["lod_interval"] = lod_interval(0)
    kw.update(spec.figure_kwargs)
    kw.update(
        sizing_mode="stretch_both",
        output_backend="webgl" if webgl else "canvas",
        name=f"plot:{cell.position}",
    )
    if spec.title is not None or "title" not in kw:  # from the data (or the name): text, not TeX
        kw["title"] = Title(text=safe_html.plain(spec.title if spec.title is not None else spec.name))
    if cell.x_log:
        kw["x_axis_type"] = "log"
    if x_mode == "wall":
        kw["x_axis_type"] = "datetime"
        kw["x_axis_label"] = "wall time"  # the schema's label names its x column, not this
    elif x_mode == "relative":
        kw["x_axis_label"] = "seconds since the line's first point"
    if cell.y_log:
        kw["y_axis_type"] = "log"
    fig = figure(**kw)  # type: ignore[arg-type]
    apply_submodels(fig, spec.figure_submodels)  # the original's nested title/axis styles
    use_number_ticks(fig)  # 0.0014, not 1.400e-3 (ticks.py); the schema's formatters stay
    if x_mode == "wall":  # the viewer's zone (Bokeh's datetime labels are UTC)
        for axis in fig.xaxis:
            if type(axis.formatter) is DatetimeTickFormatter:  # not one the schema set
                axis.formatter = local_time_ticks()
    fig.add_tools(csv_tool(fig, plot_name=spec.name, x_time=x_mode == "wall"))
    fig.min_height = 60
    fig.min_width = 60
    return fig
