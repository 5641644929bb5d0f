"""Tick labels that read well for small and large numbers.

Bokeh's default labels switch every tick of an axis to ``1.400e-3`` as soon as one tick is
below 1e-3, and print zero as ``0.000e+0``. ``number_ticks`` labels a numeric axis with
the fewest decimals that tell its ticks apart (``0.0014``, ``2.45``), ``0`` for zero, and
uses ``1.4e-3`` / ``2.5e6`` only where plain decimals would need more than five places
or the numbers reach 100,000. Datetime and log axes keep their own formatters."""

from __future__ import annotations

from typing import Any

from bokeh.models import BasicTickFormatter, CustomJSTickFormatter

__all__ = ["number_ticks", "use_number_ticks", "NUMBER_TICKS_JS"]

# BokehJS calls it once per tick with ``tick``, ``index`` and every ``ticks`` of the axis
NUMBER_TICKS_JS = """
const finite = ticks.filter(t => Number.isFinite(t));
let step = Infinity;
for (let i = 1; i < finite.length; i++) {
  const gap = Math.abs(finite[i] - finite[i - 1]);
  if (gap > 0 && gap < step) step = gap;
}
const near_zero = (t) => t === 0 || (Number.isFinite(step) && Math.abs(t) < step * 1e-9);
if (!Number.isFinite(tick)) return String(tick);
if (near_zero(tick)) return "0";
const exact = (t, d) => {
  const s = t * 10 ** d;  // a nonzero tick must not round to 0
  return Math.round(s) !== 0 && Math.abs(s - Math.round(s)) <= 1e-6 * Math.max(1, Math.abs(s));
};
let d = 0;
while (d < 12 && !finite.every(t => near_zero(t) || exact(t, d))) d++;
const big = Math.max(0, ...finite.map(t => Math.abs(t)));
if (big < 1e5 && d <= 5) return tick.toFixed(d);
let p = 0;
const same = (t, q) => Math.abs(Number(t.toExponential(q)) - t) <= 1e-9 * Math.abs(t);
while (p < 12 && !finite.every(t => near_zero(t) || same(t, p))) p++;
return tick.toExponential(p).replace("e+", "e");
"""


def number_ticks() -> CustomJSTickFormatter:
    """A tick formatter for a linear numeric axis (see the module's docstring)."""
    return CustomJSTickFormatter(code=NUMBER_TICKS_JS)


def use_number_ticks(fig: Any) -> None:
    """Give each of ``fig``'s axes that still has Bokeh's default number formatter
    (``BasicTickFormatter``: linear axes, not datetime or log ones) ``number_ticks``;
    a formatter the schema set is kept."""
    for axis in [*fig.xaxis, *fig.yaxis]:
        if type(axis.formatter) is BasicTickFormatter:
            axis.formatter = number_ticks()
