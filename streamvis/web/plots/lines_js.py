"""The browser's halves of ``LineLayer``'s updates: CustomJS code run when the layer's
appended points or its packed rows arrive (``lines``: the layer's multi_line source)."""

from __future__ import annotations

__all__ = ["APPEND_JS", "REPLACE_JS"]

# the browser's half of LineLayer.append: points into the rows' spare capacity, in place
# (no change is sent back: the server already holds them), then one redraw
APPEND_JS = """
const a = cb_obj.data, d = lines.data;
const row = a.row, pos = a.pos, x = a.x, y = a.y;
for (let k = 0; k < row.length; k++) {
  const r = row[k], p = pos[k];
  d.xs[r][p] = x[k];
  d.ys[r][p] = y[k];
  if (p + 1 > d.n[r]) d.n[r] = p + 1;
}
if (row.length) lines.change.emit();
"""

# the browser's half of LineLayer.replace: each row re-made from the flat arrays, with
# the spare capacity (NaN) that the server's copy has, then one redraw. The set is
# streamed into a source that keeps one row: the newest set
REPLACE_JS = """
const a = cb_obj.data, last = a.row.length - 1;
if (last < 0) return;
const rows = a.row[last], ns = a.n[last], caps = a.cap[last], x = a.x[last], y = a.y[last];
const X = x instanceof Float32Array ? Float32Array : Float64Array;
const Y = y instanceof Float32Array ? Float32Array : Float64Array;
// views made by hand: BokehJS's arrays are subclasses whose subarray() ignores its bounds
const part = (T, a, off, n) => new T(a.buffer, a.byteOffset + off * T.BYTES_PER_ELEMENT, n);
const d = lines.data;
let off = 0;
for (let k = 0; k < rows.length; k++) {
  const r = rows[k], n = ns[k], cap = Math.max(caps[k], n);
  const xs = new X(cap), ys = new Y(cap);
  xs.set(part(X, x, off, n));
  ys.set(part(Y, y, off, n));
  xs.fill(NaN, n);
  ys.fill(NaN, n);
  d.xs[r] = xs;
  d.ys[r] = ys;
  d.n[r] = n;
  off += n;
}
lines.change.emit();
"""
