"""Dates and times in the viewer's time zone.

The server sends times as numbers (milliseconds since the epoch) and the browser writes
them in its own zone, so the runs panel, the index page, an ``x=wall`` axis and its
tooltips agree with each other and with the viewer's clock, wherever the server runs.
Cells render text: the template's only output is ``<%- ... %>`` (escaped), a number
turned into ``YYYY-MM-DD HH:MM:SS``; anything else (a config's own text) is shown as is,
escaped."""

from __future__ import annotations

import math
from typing import Any

from bokeh.models import CustomJSHover, CustomJSTickFormatter
from bokeh.models.widgets import HTMLTemplateFormatter

__all__ = ["epoch_ms", "local_time_cells", "local_time_ticks", "local_time_hover", "LOCAL_DATE_JS",
           "DATE_CELL_WIDTH"]

DATE_CELL_WIDTH = 160  # px: a table column of "YYYY-MM-DD HH:MM:SS" (at 120 the time was cut off)

# (ms) -> "YYYY-MM-DD HH:MM:SS" in the browser's zone; ``ms_digits`` adds ".mmm"
LOCAL_DATE_JS = """((ms, ms_digits) => { const d = new Date(ms);
  const p = (n, w) => String(n).padStart(w ?? 2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
    p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) +
    (ms_digits ? "." + p(d.getMilliseconds(), 3) : ""); })"""

_CELL = ("<%- (typeof value === 'number' && isFinite(value)) ? " + LOCAL_DATE_JS.replace("\n", " ")
         + "(value, false) : (value === null || value === undefined || "
           "(typeof value === 'number') ? '' : String(value)) %>")

# a datetime axis's ticks: the shortest local form their spacing needs
_TICKS = """
const f = """ + LOCAL_DATE_JS + """;
let step = Infinity;
for (let i = 1; i < ticks.length; i++) step = Math.min(step, Math.abs(ticks[i] - ticks[i - 1]));
const full = f(tick, step < 1000);
if (step >= 86400000) return full.slice(0, 10);           // days: 2026-12-06
if (step >= 60000) return full.slice(5, 16);              // minutes: 12-06 13:15
if (step >= 1000) return full.slice(11, 19);              // seconds: 13:15:07
return full.slice(11);                                    // below: 13:15:07.250
"""


def epoch_ms(seconds: Any) -> float | None:
    """Seconds since the epoch as milliseconds for the browser; unknown (0, None, NaN,
    not a number) as None (an empty cell)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return float(seconds) * 1000.0


def local_time_cells() -> HTMLTemplateFormatter:
    """A DataTable formatter: epoch milliseconds as the viewer's local date and time."""
    return HTMLTemplateFormatter(template=_CELL)


def local_time_ticks() -> CustomJSTickFormatter:
    """A datetime axis's tick formatter in the viewer's zone (Bokeh's writes UTC)."""
    return CustomJSTickFormatter(code=_TICKS)


def local_time_hover() -> CustomJSHover:
    """A hover field formatter: the x (epoch ms) as local date and time with ms."""
    return CustomJSHover(code="return " + LOCAL_DATE_JS.replace("\n", " ") + "(value, true);")
