"""The hover table of a line plot: every shown line's value at the x under the cursor,
sorted by value, beside the cursor (TensorBoard's).

Drawn in the browser from what the plot's source already holds (no round trip): for
each row drawn by a visible renderer (the runs panel's ticks and the legend's clicks
hide rows), the last point at or before the cursor's x. Runs' and names' text is set as
``textContent`` (never markup); at most ``MAX_ROWS`` rows, then how many more.
"""

from __future__ import annotations

from typing import Any

from bokeh.events import MouseLeave, MouseMove
from bokeh.models import ColumnDataSource, CustomJS

__all__ = ["attach_hover_table", "MAX_ROWS", "TABLE_ID"]

MAX_ROWS = 20
TABLE_ID = "sv-hover-table"

SHOW_JS = """
if (window._svMouse === undefined) {
  window._svMouse = [0, 0];
  window.addEventListener('mousemove', (e) => { window._svMouse = [e.clientX, e.clientY]; }, true);
}
let box = document.getElementById(table_id);
if (box === null) {
  box = document.createElement('div');
  box.id = table_id;
  Object.assign(box.style, {position: 'fixed', zIndex: 1000, pointerEvents: 'none', display: 'none',
    background: 'rgba(255,255,255,0.96)', border: '1px solid #d0d7de', borderRadius: '4px',
    padding: '4px 8px', font: '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    color: '#1f2328', boxShadow: '0 2px 6px rgba(0,0,0,0.12)', maxWidth: '480px'});
  document.body.appendChild(box);
}
const x = cb_obj.x, d = lines.data;
if (x == null || d.xs === undefined) { box.style.display = 'none'; return; }
const shown = new Set();
for (const r of fig.renderers) {
  if (r.data_source !== lines || !r.visible) continue;
  const f = r.view.filter;
  if (f.indices != null) { for (const i of f.indices) shown.add(i); }
  else if (f.booleans != null) { f.booleans.forEach((b, i) => { if (b) shown.add(i); }); }
  else { for (let i = 0; i < d.xs.length; i++) shown.add(i); }
}
const rows = [];
for (const j of shown) {
  const xs = d.xs[j], ys = d.ys[j], n = d.n[j];
  if (!n || !(xs[0] <= x)) continue;
  let lo = 0, hi = n - 1;  // the last point at or before x
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid - 1; }
  const y = ys[lo];
  if (y == null || Number.isNaN(y)) continue;
  rows.push({scope: d.scope[j], name: d.name[j], index: d.index[j], color: d.color[j], x: xs[lo], y});
}
if (rows.length < 2) { box.style.display = 'none'; return; }
rows.sort((a, b) => b.y - a.y);
const fmt = (v) => Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-4) ? v.toExponential(3) : String(+v.toPrecision(5));
const fx = (v) => x_mode === 'wall' ? new Date(v).toLocaleString() : fmt(v);
box.replaceChildren();
const head = document.createElement('div');
head.textContent = `${x_label} ${fx(x)}`;
head.style.color = '#57606a';
box.appendChild(head);
const table = document.createElement('table');
table.style.borderCollapse = 'collapse';
for (const r of rows.slice(0, max_rows)) {
  const tr = document.createElement('tr');
  const sw = document.createElement('td');
  const chip = document.createElement('span');
  Object.assign(chip.style, {display: 'inline-block', width: '10px', height: '10px', background: r.color});
  sw.appendChild(chip);
  const run = document.createElement('td'), name = document.createElement('td'), val = document.createElement('td');
  run.textContent = r.scope;
  name.textContent = r.index ? `${r.name} · ${r.index}` : r.name;
  val.textContent = fmt(r.y);
  name.style.color = '#57606a';
  val.style.textAlign = 'right';
  val.style.fontVariantNumeric = 'tabular-nums';
  for (const td of [sw, run, name, val]) { td.style.padding = '1px 6px 1px 0'; tr.appendChild(td); }
  tr.className = 'sv-hover-row';
  table.appendChild(tr);
}
box.appendChild(table);
if (rows.length > max_rows) {
  const more = document.createElement('div');
  more.textContent = `… ${rows.length - max_rows} more`;
  more.style.color = '#57606a';
  box.appendChild(more);
}
const [mx, my] = window._svMouse;
box.style.display = 'block';
const w = box.offsetWidth, h = box.offsetHeight;
box.style.left = `${mx + 24 + w > window.innerWidth ? Math.max(0, mx - 24 - w) : mx + 24}px`;
box.style.top = `${my + 16 + h > window.innerHeight ? Math.max(0, window.innerHeight - h) : my + 16}px`;
"""

HIDE_JS = """
const box = document.getElementById(table_id);
if (box !== null) box.style.display = 'none';
"""


def attach_hover_table(figure: Any, lines: ColumnDataSource, *, x_mode: str, x_label: str) -> None:
    """Show the hover table over ``figure`` for the rows of ``lines`` (a ``LineLayer``'s
    source); ``x_mode`` "wall" writes x as a date in the viewer's zone."""
    args = {"lines": lines, "fig": figure, "table_id": TABLE_ID, "max_rows": MAX_ROWS,
            "x_mode": x_mode, "x_label": x_label}
    figure.js_on_event(MouseMove, CustomJS(args=args, code=SHOW_JS))
    figure.js_on_event(MouseLeave, CustomJS(args={"table_id": TABLE_ID}, code=HIDE_JS))
