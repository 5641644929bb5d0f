"""Every line of one plot in one ``multi_line`` ColumnDataSource: a row per line.

A page of thousands of runs cannot afford a renderer, a data source and a legend
item per line (BokehJS builds a view per renderer; the document grows by three
models per line). Here a plot's lines are rows of one source with per-row colour,
alpha and labels; hover reads the row's ``scope``/``name``/``index``.

Rows are allocated with spare capacity, the tail filled with NaN (which BokehJS
neither draws nor counts in the auto range). New points of a line are written in
place (only the new points travel); a line that outgrows its row is re-sent with more
room (amortised: capacity grows by half). New rows (a plot's first draw) and rows
given new contents (a zoom re-reads every line) travel packed: one flat array of x and
one of y for all of them, each a binary websocket frame, which the browser cuts into
rows (``REPLACE_JS``); a gzip + base64 string per row cost a zoom of 1,000 lines ~0.2 s
to encode on the server and as much to decode in the browser (and the page of every
name's first draw 10-28%). All changes of a poll are collected and sent by ``flush`` as
at most one stream (new rows, without their points), one patch (colours, alphas), one
packed set of new and replaced rows, one packed set of appended points and, when rows
were removed, one replacement. Rows that go with the document itself (before the
source is in one) carry their points, inline (``inline``).

With at most ``LEGEND_MAX`` lines each line also has its own renderer over its row
(an ``IndexFilter`` view of the same source), so the legend can name and hide it;
past that one renderer draws every row and the legend is hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.core.property.vectorization import field
from bokeh.models import BooleanFilter, CDSView, ColumnDataSource, CustomJS, IndexFilter
from bokeh.models.annotations import Legend, LegendItem
from bokeh.plotting import figure as Figure

from .inline import inline
from .legend_labels import legend_labels
from .lines_js import APPEND_JS, REPLACE_JS
from .rows import Cols
from .single_points import SinglePoints

__all__ = ["Key", "LineLayer", "LEGEND_MAX", "group_label", "split_style"]

Key = tuple[str, str, int]  # (scope, name, index)
LEGEND_MAX = 10
# Past this many lines in a plot they are drawn 1 px wide whatever the style says:
# Chromium's canvas strokes a 1 px line about 10x faster than a 1.5 px one (1,000 lines of
# 1,000 points: 0.25 s against 2.5 s a paint), and hundreds of lines read alike at either.
THIN_LINES_AT = 100
MIN_SLACK = 32

REPLACED_COLUMNS = ("row", "n", "cap", "x", "y")


def group_label(key: Key) -> str:
    """The legend and hover label of a line."""
    scope, name, index = key
    return f"{scope} · {name} · {index}"


def _capacity(n: int, slack: float = 0.5) -> int:
    """Room for a row of ``n`` points to grow in place (``slack`` of it, at least 32)."""
    return n + max(MIN_SLACK, int(n * slack))


def _row(values: np.ndarray, n: int, cap: int, dtype: np.dtype) -> np.ndarray:
    out = np.full(cap, np.nan, dtype=dtype)
    out[:n] = values[:n]
    return inline(out)


COLOR_KEYS = ("color", "line_color", "fill_color")
ALPHA_KEYS = ("alpha", "line_alpha", "fill_alpha")


def split_style(glyph_kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, float]:
    """A schema's glyph kwargs without colour and alpha (which the layers set per line),
    the colour they fix for every line (or None) and the base alpha."""
    rest = {k: v for k, v in glyph_kwargs.items() if k not in COLOR_KEYS + ALPHA_KEYS}
    color = next((glyph_kwargs[k] for k in COLOR_KEYS if k in glyph_kwargs), None)
    alpha = next((glyph_kwargs[k] for k in ALPHA_KEYS if k in glyph_kwargs), 1.0)
    return rest, (str(color) if color is not None else None), float(alpha)


F32_EXACT = float(1 << 24)  # integers below this are exact in float32


def _x_dtype(x: np.ndarray) -> np.dtype:
    """float32 for steps (integers float32 holds exactly): half the bytes of float64 in
    the server's copy and on the wire; float64 for anything else (wall times)."""
    if x.size == 0:
        return np.dtype(np.float32)
    xf = np.asarray(x, np.float64)
    ok = bool(np.all(np.abs(xf) < F32_EXACT) and np.all(np.floor(xf) == xf))
    return np.dtype(np.float32) if ok else np.dtype(np.float64)


def _y_dtype(y: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if y.dtype == np.float32 else np.dtype(np.float64)


@dataclass
class _Row:
    index: int
    length: int


class LineLayer:
    """The lines of one plot: rows of one multi_line source (see the module doc)."""

    COLUMNS = ("xs", "ys", "n", "color", "dash", "alpha", "label", "scope", "name", "index")

    def __init__(
        self,
        fig: Figure,
        legend: Legend | None,
        *,
        glyph_kwargs: Mapping[str, Any],
        name: str,
        alpha: float = 1.0,
        dots: bool = True,
    ) -> None:
        """``dots``: draw lines of one point as dots (``single_points``)."""
        self.figure, self.legend, self.name = fig, legend, name
        self.dots = SinglePoints(fig, name) if dots else None
        self.glyph_kwargs, self.fixed_color, style_alpha = split_style(glyph_kwargs)
        self.base_alpha = alpha * style_alpha
        self.source = ColumnDataSource(
            data={c: [] for c in self.COLUMNS}, name=f"{name}:source"
        )
        # new points of many lines in one message: flat (row, position, x, y) columns that
        # the browser writes into the rows' spare capacity (APPEND_JS)
        self.appendix = ColumnDataSource(
            data={c: [] for c in ("row", "pos", "x", "y")}, name=f"{name}:appendix"
        )
        self.appendix.js_on_change("data", CustomJS(args={"lines": self.source}, code=APPEND_JS))
        # rows given new contents, packed: a set is one row of this source whose cells
        # are arrays, streamed (a stream's message carries its own data, whenever sent)
        self.rowset = ColumnDataSource(
            data={c: [] for c in REPLACED_COLUMNS}, name=f"{name}:rowset"
        )
        self.rowset.js_on_change("streaming", CustomJS(args={"lines": self.source}, code=REPLACE_JS))
        self.source.tags = [self.appendix, self.rowset]  # keeps them in the document
        self._appended: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self._replaced: dict[int, None] = {}  # rows (in order) for the next packed set
        self.rows: dict[Key, _Row] = {}
        self._keys: list[Key] = []  # by row
        # the arrays of every row, as the browser has (or will have, after flush) them
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self._new: dict[str, list[Any]] = {c: [] for c in self.COLUMNS}
        self._patches: dict[str, list[tuple[Any, Any]]] = {}
        self._rebuild = False
        self._replaced_all = False  # the source's data assigned whole in this batch
        self._single: Any = None  # the renderer of every row (past LEGEND_MAX lines)
        self._per_line: dict[Key, Any] = {}  # row renderers while there are few lines
        self.renderers: list[Any] = []
        self._synced = 0  # rows when the renderers were last arranged
        self.hidden: set[str] = set()  # scopes not drawn (the runs panel's ticks)
        self._hidden_synced: tuple[int, frozenset[str]] = (0, frozenset())

    # ---- reading back ----------------------------------------------------------------
    def __contains__(self, key: Key) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def keys(self) -> list[Key]:
        return list(self._keys)

    def data(self, key: Key) -> Cols:
        """What the browser holds for ``key`` (x, y), without the spare capacity."""
        r = self.rows[key]
        return {"x": self._xs[r.index][: r.length], "y": self._ys[r.index][: r.length]}

    def length(self, key: Key) -> int:
        return self.rows[key].length

    # ---- changes (sent by flush) -----------------------------------------------------
    def add(self, key: Key, color: str, cols: Cols, *, slack: float = 0.5, dash: str = "solid") -> None:
        """A new line; ``cols`` may be empty. ``slack``: room to grow, as a fraction;
        ``dash``: its dash pattern (unless the schema's glyph_kwargs fix one)."""
        n = len(cols["x"])
        cap = _capacity(n, slack)
        index = len(self._xs)
        xs = _row(np.asarray(cols["x"], np.float64), n, cap, _x_dtype(cols["x"]))
        ys = _row(cols["y"], n, cap, _y_dtype(cols["y"]))
        row: dict[str, Any] = {
            "xs": xs,
            "ys": ys,
            "n": n,
            "color": self.fixed_color or color,
            "dash": dash,
            "alpha": self.base_alpha,
            "label": group_label(key),
            "scope": key[0],
            "name": key[1],
            "index": key[2],
        }
        for c in self.COLUMNS:
            self._new[c].append(row[c])
        self._xs.append(xs)
        self._ys.append(ys)
        self.rows[key] = _Row(index, n)
        self._keys.append(key)

    def append(self, key: Key, cols: Cols) -> None:
        """New points at the end of a line (only they are sent, while the row has room)."""
        k = len(cols["x"])
        if k == 0:
            return
        r = self.rows[key]
        xs, ys = self._xs[r.index], self._ys[r.index]
        end = r.length + k
        if end > xs.size or (xs.dtype == np.float32 and _x_dtype(cols["x"]) != xs.dtype):
            old = self.data(key)
            self.replace(
                key,
                {
                    "x": np.concatenate([np.asarray(old["x"], np.float64), cols["x"]]),
                    "y": np.concatenate([old["y"], np.asarray(cols["y"], ys.dtype)]),
                },
            )
            return
        xs[r.length : end] = cols["x"]  # the server's copy, in place (no change event)
        ys[r.length : end] = cols["y"]
        if r.index < len(self.source.data["xs"]):
            self._appended.setdefault(r.index, []).append((r.length, xs[r.length : end], ys[r.length : end]))
            n_col: list[int] = self.source.data["n"]  # type: ignore[assignment]
            list.__setitem__(n_col, r.index, end)  # in place, as the browser does
            r.length = end
        else:
            self._set_length(r, end)

    def replace(self, key: Key, cols: Cols, *, slack: float = 0.5) -> None:
        """New contents for a line (an overview, a zoomed window, a re-sorted line)."""
        r = self.rows[key]
        n = len(cols["x"])
        cap = _capacity(n, slack)
        xs = _row(np.asarray(cols["x"], np.float64), n, cap, _x_dtype(cols["x"]))
        ys = _row(cols["y"], n, cap, _y_dtype(cols["y"]))
        self._xs[r.index], self._ys[r.index] = xs, ys
        self._appended.pop(r.index, None)  # the new row holds them
        data = self.source.data
        if r.index < len(data["xs"]):
            # the server's copy, in place (no change event): the packed set carries it
            values: tuple[tuple[str, Any], ...] = (("xs", xs), ("ys", ys), ("n", n))
            for column, value in values:
                column_list: list[Any] = data[column]  # type: ignore[assignment]
                list.__setitem__(column_list, r.index, value)
            self._replaced[r.index] = None
            r.length = n
        else:
            j = r.index - len(data["xs"])
            self._new["xs"][j], self._new["ys"][j] = xs, ys
            self._set_length(r, n)

    def _set_length(self, r: _Row, n: int) -> None:
        r.length = n
        if r.index < len(self.source.data["n"]):
            self._patch("n", r.index, n)
        else:
            self._new["n"][r.index - len(self.source.data["n"])] = n

    def set_color(self, key: Key, color: str) -> None:
        """The line's colour (``color_by`` recolours lines as values arrive)."""
        r = self.rows[key]
        if r.index < len(self.source.data["color"]):
            self._patch("color", r.index, color)
        else:
            self._new["color"][r.index - len(self.source.data["color"])] = color

    def legend_ref(self, key: Key) -> tuple[Any, int | None]:
        """(renderer, row) that draws ``key``, for a legend item of its own."""
        if key in self._per_line:
            return self._per_line[key], None
        return self._single, self.rows[key].index

    def set_alpha(self, key: Key, alpha: float) -> None:
        """The line's opacity (dimmed behind smoothed lines, or to highlight others)."""
        r = self.rows[key]
        if r.index < len(self.source.data["alpha"]):
            self._patch("alpha", r.index, alpha * self.base_alpha)
        else:
            self._new["alpha"][r.index - len(self.source.data["alpha"])] = alpha * self.base_alpha

    def remove(self, keys: Iterable[Key]) -> None:
        """Drop lines (their rows are compacted away in the next flush)."""
        gone = {k for k in keys if k in self.rows}
        if not gone:
            return
        self.flush()  # apply what is pending, then rebuild without the gone rows
        data = self.source.data
        keep = [i for i, k in enumerate(self._keys) if k not in gone]
        new_data = {c: [data[c][i] for i in keep] for c in self.COLUMNS}
        lengths = [self.rows[self._keys[i]].length for i in keep]
        self._keys = [self._keys[i] for i in keep]
        self._xs = [self._xs[i] for i in keep]
        self._ys = [self._ys[i] for i in keep]
        self.rows = {k: _Row(i, n) for i, (k, n) in enumerate(zip(self._keys, lengths, strict=True))}
        self._replace_all(new_data)
        self._rebuild = True

    def clear(self) -> None:
        """Forget every line (after a cursor reset)."""
        self._new = {c: [] for c in self.COLUMNS}
        self._patches = {}
        self._appended = {}
        self._replaced = {}
        self.rows, self._keys = {}, []
        self._xs, self._ys = [], []
        self._replace_all({c: [] for c in self.COLUMNS})
        self._rebuild = True

    def flush(self) -> None:
        """Send what changed since the last flush: new rows, then patches."""
        self._forget_sent_rows()
        if self._new["xs"]:
            new, self._new = self._new, {c: [] for c in self.COLUMNS}
            if self._replaced_all:  # see _replace_all: not a stream after it
                data = self.source.data
                self._replace_all({c: [*data[c], *new[c]] for c in self.COLUMNS})
            elif self.rowset.document is not None:
                self._stream_packed(new)
            else:
                self.source.stream(new)  # type: ignore[arg-type]
        if self._patches:
            patches, self._patches = self._patches, {}
            self.source.patch(patches)
        if self._replaced:
            self._send_replaced()
        if self._appended:
            appended, self._appended = self._appended, {}
            chunks = [(r, p, x, y) for r, cs in appended.items() for p, x, y in cs]
            sizes = [len(x) for _, _, x, _ in chunks]
            self.appendix.data = {
                "row": np.repeat(np.array([c[0] for c in chunks], np.int32), sizes),
                "pos": np.concatenate(
                    [np.arange(p, p + len(x), dtype=np.int32) for _, p, x, _ in chunks]
                ),
                "x": np.concatenate([x for _, _, x, _ in chunks]).astype(np.float64),
                "y": np.concatenate([y for _, _, _, y in chunks]).astype(np.float64),
            }
        if self._rebuild or len(self.rows) != self._synced:
            self._rebuild = False
            self._sync_renderers()
        if (len(self.rows), frozenset(self.hidden)) != self._hidden_synced:
            self._sync_hidden()
        if self.dots is not None:
            data = self.source.data
            self.dots.show([(float(self._xs[r.index][0]), float(self._ys[r.index][0]), data["color"][r.index],
                             data["alpha"][r.index], data["label"][r.index], *k)
                            for k, r in self.rows.items() if r.length == 1 and k[0] not in self.hidden])
        self._replaced_all = False  # the session sends the batch after its flushes

    def _row_filter(self, key: Key) -> list[int]:
        """The rows ``key``'s own renderer draws: its row, or none while its run is hidden."""
        return [] if key[0] in self.hidden else [self.rows[key].index]

    def _sync_hidden(self) -> None:
        """Draw only the rows of scopes not in ``hidden``."""
        self._hidden_synced = (len(self.rows), frozenset(self.hidden))
        # a hidden run's renderer draws no row, and its legend entry goes: the legend's
        # own clicks toggle ``visible``, which the panel's ticks leave alone
        for k, r in self._per_line.items():
            want = self._row_filter(k)
            if list(r.view.filter.indices) != want:
                r.view.filter.indices = want
        if self.legend is not None and self._per_line:
            for item in self.legend.items:
                if not isinstance(item, LegendItem):
                    continue
                keys = [k for k, r in self._per_line.items() if any(r is x for x in item.renderers)]
                item.visible = not keys or any(k[0] not in self.hidden for k in keys)
        if self._single is not None:
            if self.hidden:
                shown = [k[0] not in self.hidden for k in self._keys]
                self._single.view = CDSView(filter=BooleanFilter(booleans=shown))
            else:
                self._single.view = CDSView()

    # ---- internals -------------------------------------------------------------------
    def _send_replaced(self) -> None:
        """The replaced rows as one packed set (``REPLACE_JS``). Before the source is in a
        document there is nothing to send: the source goes whole, rows and all."""
        rows, self._replaced = list(self._replaced), {}
        if self.rowset.document is None:
            return
        lengths = np.array([self.rows[self._keys[i]].length for i in rows], np.int32)
        packed = {
            "row": [np.array(rows, np.int32)],
            "n": [lengths],
            "cap": [np.array([self._xs[i].size for i in rows], np.int32)],
            "x": [self._flat(self._xs, rows, lengths)],
            "y": [self._flat(self._ys, rows, lengths)],
        }
        self.rowset.stream(packed, rollover=1)  # type: ignore[arg-type]

    def _stream_packed(self, new: dict[str, list[Any]]) -> None:
        """New rows streamed without their points, which go in the packed set of this
        flush (``_send_replaced``: two binary frames for all rows, not a gzip + base64
        string per row): the stream's rows are empty (no points, ``n`` 0: the browser
        never holds a count without its points) until ``REPLACE_JS`` fills them, in the
        next message of the same batch. The server's copy holds the rows as they are."""
        first, count = len(self.source.data["xs"]), len(new["xs"])
        empty = {"xs": [[] for _ in range(count)], "ys": [[] for _ in range(count)], "n": [0] * count}
        self.source.stream({**new, **empty})  # type: ignore[arg-type]
        for column in empty:  # the server's copy, in place (no change event)
            values: list[Any] = self.source.data[column]  # type: ignore[assignment]
            list.__setitem__(values, slice(first, first + count), new[column])
        self._replaced.update(dict.fromkeys(range(first, first + count)))

    def _replace_all(self, data: dict[str, list[Any]]) -> None:
        """The source's data assigned whole. Bokeh reads such a change's data when the
        session sends its held batch, not when it is made: rows streamed after it in the
        same batch would reach the browser twice (once in the data, once streamed), so
        until the batch's flush new rows are sent by assigning the data whole again."""
        self.source.data = data
        self._replaced_all = True

    def _forget_sent_rows(self) -> None:
        """Empty the packed set streamed by an earlier flush, silently: its message holds
        its own data, and the rows live in the source, so the server keeps no second
        copy of them."""
        data = self.rowset.data
        if any(len(v) for v in data.values()):
            for c in REPLACED_COLUMNS:
                dict.__setitem__(data, c, [])

    @staticmethod
    def _flat(arrays: list[np.ndarray], rows: list[int], lengths: np.ndarray) -> np.ndarray:
        """The rows' points end to end, as a plain array (a binary frame, not inline)."""
        parts = [arrays[i][:k].view(np.ndarray) for i, k in zip(rows, lengths, strict=True)]
        return np.concatenate(parts)

    def _patch(self, column: str, where: Any, value: Any) -> None:
        self._patches.setdefault(column, []).append((where, value))

    def _glyph(self, view: CDSView | None, label: str) -> Any:
        kw: dict[str, Any] = dict(self.glyph_kwargs)
        kw.setdefault("line_dash", field("dash"))  # a schema's own line_dash wins
        if view is not None:
            kw["view"] = view
        return self.figure.multi_line(
            xs="xs",
            ys="ys",
            line_color="color",
            line_alpha="alpha",
            source=self.source,
            name=label,
            **kw,
        )

    def _sync_renderers(self) -> None:
        """One renderer per line while there are few, else one for all rows."""
        self._synced = len(self.rows)
        ours = {id(r) for r in self._per_line.values()} | {id(self._single)}
        others = [r for r in self.figure.renderers if id(r) not in ours]
        if len(self.rows) <= LEGEND_MAX:
            self._single = None
            per_line = {}
            for k in self._keys:
                r = self._per_line.get(k)
                want = self._row_filter(k)
                if r is None:
                    r = self._glyph(CDSView(filter=IndexFilter(indices=want)), group_label(k))
                elif list(r.view.filter.indices) != want:
                    r.view.filter.indices = want
                per_line[k] = r
            self._per_line = per_line
            self.renderers = list(per_line.values())
            if self.legend is not None:
                self.legend.items = [  # type: ignore[assignment]
                    LegendItem(label=text, renderers=[r])
                    for r, text in zip(per_line.values(), legend_labels(list(per_line)), strict=True)
                ]
                self.legend.visible = bool(per_line)
        else:
            self._per_line = {}
            if self._single is None:
                self._single = self._glyph(None, self.name)
                self._hidden_synced = (-1, frozenset())
            width = self.glyph_kwargs.get("line_width", 1)
            if len(self.rows) > THIN_LINES_AT and isinstance(width, int | float):
                width = min(width, 1)
            if self._single.glyph.line_width != width:
                self._single.glyph.line_width = width
            self.renderers = [self._single]
            if self.legend is not None:
                self.legend.items = []
                self.legend.visible = False
        self.figure.renderers = [*others, *self.renderers]
