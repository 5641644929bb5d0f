"""The plot toolbar's CSV download: the data a plot shows, built in the browser.

A ``CustomAction`` beside Bokeh's save tool (PNG). Its callback reads what the plot's
visible renderers draw from their data sources, as the browser holds them (decimated
as drawn, the runs panel's ticks and the legend's clicks applied), and downloads it
as ``<plot name>.csv``. Nothing goes back to the server, so it works the same on the
live page and in a standalone HTML file (``bokeh.embed.file_html``).

- A line plot (``LineLayer`` rows) or a scatter plot (``PointLayer`` points): one CSV
  row per drawn point, ``run,name,index,x,y``; a scatter with a filter column adds
  ``filter``; while smoothed lines are drawn, ``series`` says ``raw`` or ``smoothed``.
- A plot of groups (``group=``, ``x=NAME``; ``GroupLines``): one row per drawn point of
  each group's line, ``group,x,y,lo,hi,n`` (the aggregate, the band, runs at that x).
- On a wall-time axis, x is written as ISO 8601 (UTC); a NaN is an empty field (as in
  the hparams page's CSV).

CSV as RFC 4180 (CRLF; a field holding a comma, a quote, CR or LF is quoted, quotes
doubled). Text from the log (run, name, group) that starts with ``=``, ``+``, ``-``,
``@``, tab or CR gets a leading apostrophe, so a spreadsheet shows it as text and never
evaluates it as a formula.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from bokeh.models import CustomAction, CustomJS

__all__ = ["csv_tool", "csv_filename", "DESCRIPTION"]

DESCRIPTION = "download the plotted data as CSV"
_ICON_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='18' height='18' viewBox='0 0 18 18' fill='none' "
    "stroke='#5a5a5a' stroke-width='1.4'><rect x='1.5' y='1.5' width='11' height='10' rx='1'/>"
    "<path d='M1.5 5h11M1.5 8.5h11M6 1.5v10'/><path d='M14.5 8.5v7.5M12 13.5l2.5 2.5 2.5-2.5'/></svg>"
)
ICON = "data:image/svg+xml;base64," + base64.b64encode(_ICON_SVG.encode()).decode("ascii")
_UNSAFE_FILE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')

CSV_JS = """
const text = (v) => {  // text from the log: never a formula, quoted as RFC 4180 says
  let s = v == null ? '' : String(v);
  if (/^[=+\\-@\\t\\r]/.test(s)) s = "'" + s;
  return /[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
};
const num = (v) => (v == null || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v));  // NaN: empty
const xv = (v) => (x_time && typeof v === 'number' && Number.isFinite(v) ? new Date(v).toISOString() : num(v));
const drawn = new Map();  // source -> the rows its visible renderers draw (null: all)
for (const r of plot.renderers) {
  const s = r.data_source;
  if (s == null || s.data == null || !r.visible) continue;
  const f = r.view != null ? r.view.filter : null;
  let rows = null;
  if (f != null && f.indices != null) rows = Array.from(f.indices);
  else if (f != null && f.booleans != null) { rows = []; f.booleans.forEach((b, i) => { if (b) rows.push(i); }); }
  const had = drawn.get(s);
  if (had === undefined) drawn.set(s, rows);
  else if (had !== null) drawn.set(s, rows === null ? null : had.concat(rows));
}
const kind = (s) => {
  const d = s.data;
  if (d.xs !== undefined && d.n !== undefined && d.scope !== undefined) return 'lines';  // a row per line
  if (d.lo !== undefined && d.hi !== undefined && d.group !== undefined) return 'groups';
  if (d.x !== undefined && d.scope !== undefined) return 'points';  // a row per point
  return null;
};
const which = (s, rows, c) => (rows === null ? Array.from({length: s.data[c].length}, (_, i) => i)
                               : Array.from(new Set(rows)).sort((a, b) => a - b));
const smooth = (s) => (s.name || '').startsWith('smooth:');
const kinds = new Set(), found = [];
let smoothed = false, filtered = false;
for (const [s, rows] of drawn) {
  const k = kind(s);
  if (k === null) continue;
  kinds.add(k);
  found.push([s, rows, k]);
  smoothed = smoothed || (k === 'lines' && smooth(s) && s.data.xs.length > 0);
  filtered = filtered || (k === 'points' && s.data.f !== undefined);
}
const out = kinds.has('groups') ? ['group,x,y,lo,hi,n']
  : ['run,name,index,x,y' + (filtered ? ',filter' : '') + (smoothed ? ',series' : '')];
for (const [s, rows, k] of found) {
  const d = s.data;
  if (kinds.has('groups') !== (k === 'groups')) continue;
  if (k === 'groups') {
    for (const i of which(s, rows, 'x'))
      out.push([text(d.group[i]), xv(d.x[i]), num(d.y[i]), num(d.lo[i]), num(d.hi[i]), num(d.n[i])].join(','));
  } else if (k === 'lines') {
    const tail = (filtered ? ',' : '') + (smoothed ? (smooth(s) ? ',smoothed' : ',raw') : '');
    for (const j of which(s, rows, 'xs')) {
      const head = [text(d.scope[j]), text(d.name[j]), num(d.index[j])].join(',') + ',';
      const xs = d.xs[j], ys = d.ys[j], n = d.n[j];
      for (let i = 0; i < n; i++) out.push(head + xv(xs[i]) + ',' + num(ys[i]) + tail);
    }
  } else {
    const tail = smoothed ? ',raw' : '';
    for (const i of which(s, rows, 'x')) {
      const f = filtered ? ',' + num(d.f !== undefined ? d.f[i] : null) : '';
      out.push([text(d.scope[i]), text(d.name[i]), num(d.index[i]), xv(d.x[i]), num(d.y[i])].join(',') + f + tail);
    }
  }
}
const blob = new Blob([out.join('\\r\\n') + '\\r\\n'], {type: 'text/csv;charset=utf-8'});
const url = URL.createObjectURL(blob);
const a = document.createElement('a');
a.href = url;
a.download = filename;
a.style.display = 'none';
document.body.appendChild(a);
a.click();
a.remove();
setTimeout(() => URL.revokeObjectURL(url), 60000);
"""


def csv_filename(plot_name: str) -> str:
    """``<plot name>.csv``, with what a file name cannot hold (``/``, ``:``, control
    characters, ...) replaced by ``_``; ``plot.csv`` for a name of nothing else."""
    stem = _UNSAFE_FILE.sub("_", plot_name).strip(" .")
    return f"{stem[:120] or 'plot'}.csv"


def csv_tool(fig: Any, *, plot_name: str, x_time: bool) -> CustomAction:
    """The toolbar button that downloads what ``fig`` draws as CSV (see the module doc);
    ``x_time``: x is a wall time (ms since the epoch), written as ISO 8601."""
    code = CustomJS(args={"plot": fig, "filename": csv_filename(plot_name), "x_time": x_time}, code=CSV_JS)
    return CustomAction(icon=ICON, description=DESCRIPTION, callback=code, name="csv-download")
