"""One plot on the page: a figure whose lines (or points) are (scope, name, index) groups.

``PlotView`` owns the Bokeh models of one layout cell and decides what each group
shows; it never does I/O (the session reads in a worker thread, through one batched
``read_ranges`` per round, and hands results here on Bokeh's event loop).

Point budget: a plot holds about ``budget`` points in the browser, shared by the
lines it shows. Each line's cap is ``min(2 x the plot's pixel width, budget /
lines)``. A line within its cap holds every point ("exact": new points are
appended). A longer line holds a min/max decimation of its whole range ("overview",
every bucket's extremes, so no spike is hidden) plus the raw points that arrived
since; once that tail passes half the cap, the overview is read again. After a zoom
or pan, decimated lines show the visible range at full cap inside the window.

Smoothing (the EMA slider) is computed by the store over every point of a line
(``RangeRequest.smoothing``), drawn over the raw lines (faint behind, as TensorBoard's).

A plot is composed of parts that own their state: ``ranges`` (a ``RangeReads``: what
to read after growth or a zoom, decimated lines), ``smoothing`` (a ``Smoothing``),
``filter_slider`` (a ``FilterSlider``, plots with a filter column) and ``color_by`` (a
``ColorByControl``, pages with ``color_by=``). Each is given the plot's lines and the
few plot methods it calls; none refers back to ``PlotView``. The page's ``RunColors``
(shared by its plots and its runs panel) gives each run its colour.

Colours: ``color_by=`` first, then the schema's ``color`` section; without one (the
``run`` formula) a line has its run's colour, and the run's several (name, index)
groups in this plot are told apart by dash (lines) or shade (points), numbered in order
of first appearance in the plot (``colors.variant``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from bokeh.models import Column, HoverTool, Row
from bokeh.models.annotations import Legend

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.storage import GroupInfo, RangeRequest

from .. import safe_html
from ..address.layout import Cell
from ..colors import DASHES, Ordinals, variant
from ..local_time import local_time_hover
from ..schema import PlotSpec, color_key
from .color_by import ColorByControl
from .filter_slider import FilterSlider
from .histogram_bins import HIST_EDGES, even_bin_cols
from .hover_table import attach_hover_table
from .line_state import Job, Line, PlotLimits
from .lines import Key, LineLayer, group_label
from .plot_figure import build_figure, lod_interval
from .points import PointLayer
from .ranges import RangeReads
from .rows import Cols
from .run_colors import RunColors
from .smoothing import RAW_ALPHA_SMOOTHED, Smoothing

__all__ = ["Key", "Cols", "PlotView", "group_label", "PlotLimits", "Job"]

MIN_CAP = 64  # points per line, however many lines share the budget
DIMMED_ALPHA = 0.15  # lines of runs not highlighted in the runs panel
LEGEND_STYLE: dict[str, object] = {
    "click_policy": "hide", "location": "top_left", "label_text_font_size": "11px",
    "label_height": 16, "glyph_height": 16, "glyph_width": 18, "spacing": 0, "padding": 8,
    "margin": 4, "border_line_alpha": 0, "background_fill_alpha": 0,
}


class PlotView:
    """The figure, layers and controls of one layout cell."""

    def __init__(
        self,
        spec: PlotSpec,
        cell: Cell,
        *,
        limits: PlotLimits,
        webgl: bool = False,
        color_by: str | None = None,
        run_value: Callable[[str, str], Any] | None = None,
        x_mode: str | None = None,
        colors: RunColors | None = None,
        smoothing_slider: bool = True,
    ) -> None:
        """``colors``: the page's run colours (its ``by`` is the ``color_by`` rule); None:
        this plot's own, from ``color_by`` and ``run_value``. ``smoothing_slider``: a line
        plot gets its own EMA slider (else the page's)."""
        self.spec, self.cell, self.limits = spec, cell, limits
        # x=wall|relative: drawn against each point's wall time (a datetime axis for wall).
        # The page's x= sets line plots; a scatter's x is a coordinate, so only its own
        # schema x_mode moves it; without either, the x column (step)
        page_mode = x_mode if spec.glyph_kind == "line" else None
        self.x_mode = page_mode or spec.x_mode or "step"
        self.x_col = WALL_TIME_COLUMN if self.x_mode != "step" else spec.x
        self.run_value = run_value or (lambda scope, key: None)
        self.name_pattern = cell.names or spec.name_pattern
        self.lines: dict[Key, Line] = {}
        self.hidden = 0  # matching groups beyond max_lines
        self.scope_ords, self.name_ords, self.key_ords = Ordinals(), Ordinals(), Ordinals()
        self.variant_ords = Ordinals()  # (name, index) groups of a run told apart
        self.colors = colors if colors is not None else RunColors(color_by=color_by, run_value=self.run_value)
        self.width_px = limits.width_px
        self.filtered = spec.filter_column is not None
        self.is_line = spec.glyph_kind == "line"
        # x is a step (the runs panel's "last step"): a line plot's, but not a scatter's
        # coordinate, nor the value axis of a line plot shown at one step (a histogram's)
        self.x_is_step = self.is_line and not self.filtered
        self.figure = self._figure(webgl)
        self._title_value = self.figure.title.text  # type: ignore[attr-defined]  # shown when no note
        self._base_title = str(getattr(self._title_value, "text", self._title_value))  # PlainText or str
        self._notes: dict[str, str] = {}
        # the legend beside the data, never on it (hidden past LEGEND_MAX lines); a
        # schema's legend kwargs place it within that side panel
        legend_kw: dict[str, object] = dict(LEGEND_STYLE)
        legend_kw.update(spec.legend_kwargs)
        self.legend = Legend(items=[], visible=False, **legend_kw)  # type: ignore[arg-type]
        self.figure.add_layout(self.legend, "right")
        name = f"lines:{cell.position}"
        self.layer: LineLayer | PointLayer
        if self.is_line:
            self.layer = LineLayer(self.figure, self.legend, glyph_kwargs=spec.glyph_kwargs, name=name)
        else:
            self.layer = PointLayer(self.figure, self.legend, glyph_kwargs=spec.glyph_kwargs, name=name,
                                    filtered=self.filtered, glyph_method=spec.glyph_method)
        self.ranges = RangeReads(
            self.lines, x_mode=self.x_mode, x_col=self.x_col, cap=lambda: self.cap, put=self._put
        )
        self.smoothing = Smoothing(
            self.figure, self.layer, self.lines, glyph_kwargs=spec.glyph_kwargs,
            position=cell.position, slider=self.is_line and smoothing_slider,
        )
        self.filter_slider: FilterSlider | None = None
        if self.filtered:
            self.filter_slider = FilterSlider(
                self.lines, put=self._put, extend=self._extend,
                title=spec.filter_title or spec.filter_column or "", position=cell.position,
            )
        self.color_by: ColorByControl | None = None
        if self.colors.by is not None:
            self.color_by = ColorByControl(
                self.colors.by, run_value=self.run_value, lines=self.lines, layer=self.layer,
                figure=self.figure, legend=self.legend, note=self._note, unnote=self._unnote,
                also_color=self.smoothing.set_color,
                click_policy=spec.legend_kwargs.get("click_policy", "hide"),
            )
            self.layer.legend = None  # the legend names the values, not the lines
        self.hover = self._hover_tool()
        self.figure.add_tools(self.hover)
        if self.is_line:  # every shown line's value at the cursor's x, sorted
            attach_hover_table(self.figure, self.layer.source, x_mode=self.x_mode, x_label=self._x_label)
        self.root: object = self._controls()
        self._unfit: set[tuple[str, str]] = set()
        self._unfit_by_missing: dict[str, tuple[str, int]] = {}  # missing columns -> (first, count)
        self.unfit_keys: set[Key] = set()

    def _figure(self, webgl: bool) -> Any:
        return build_figure(self.spec, self.cell, x_mode=self.x_mode, webgl=webgl)

    def _controls(self) -> object:
        controls: list[object] = []
        if self.smoothing.slider is not None:
            controls.append(self.smoothing.slider)
        if self.filter_slider is not None:
            controls.append(self.filter_slider.slider)
        if not controls:
            return self.figure
        bar = Row(children=controls, sizing_mode="stretch_width", height=50)  # type: ignore[arg-type]
        return Column(
            children=[self.figure, bar], sizing_mode="stretch_both", name=f"cell:{self.cell.position}"
        )

    # ---- which groups, how many points -------------------------------------------------
    def color(self, key: Key) -> str:
        """The colour of a new line (see the module doc)."""
        return self.style(key)[0]

    def style(self, key: Key) -> tuple[str, str]:
        """(colour, dash pattern) of a new line (see the module doc)."""
        scope, name, index = key
        if self.color_by is not None:
            k = self.variant_ords((name, index))  # the value's colour; a run's groups by dash
            return self.color_by.color(scope), DASHES[k % len(DASHES)] if self.is_line else "solid"
        if self.spec.color.formula == "run":
            return variant(self.colors.run(scope), self.variant_ords((name, index)), dashes=self.is_line)
        s_ord, n_ord = self.scope_ords(scope), self.name_ords(name)
        ck = color_key(self.spec.key_fun, s_ord, n_ord, index) if self.spec.key_fun else key
        return self.spec.color.color(s_ord, n_ord, index, self.key_ords(ck)), "solid"

    @property
    def cap(self) -> int:
        """Points per line: 2 x the plot's width, and the budget shared by the lines."""
        share = self.limits.budget // max(1, len(self.lines))
        return max(MIN_CAP, min(2 * self.width_px, share))

    @property
    def needed(self) -> tuple[str, ...]:
        """The columns a group needs to be drawn here."""
        return (self.x_col, *self.spec.columns[1:], *(HIST_EDGES if self.spec.even_bins else ()))

    @property
    def _x_label(self) -> str:
        return {"wall": "time", "relative": "seconds"}.get(self.x_mode, self.spec.x)

    def _hover_tool(self) -> HoverTool:
        """Hover names the group and the values of the point under the cursor: a line's
        nearest point is ``$snap_x``/``$snap_y`` (BokehJS's names for multi_line), in the
        axis's units (a date for x=wall)."""
        spec = self.spec
        x, y = ("$snap_x", "$snap_y") if self.is_line else ("@x", "@y")
        x_label = self._x_label
        tips = [("run", "@scope"), ("name", "@name"), ("index", "@index")]
        formatters: dict[str, Any] = {}
        if self.x_mode == "wall":
            tips.append((x_label, x + "{custom}"))  # the viewer's zone, with milliseconds
            formatters[x] = local_time_hover()
        else:
            tips.append((x_label, x))
        tips.append((spec.y, y))
        if spec.filter_column and not self.is_line:
            tips.append((spec.filter_column, "@f"))
        return HoverTool(tooltips=tips, formatters=formatters, line_policy="nearest")

    def wants(self, cols: Mapping[str, Any]) -> bool:
        """Whether a group with these columns can be drawn here."""
        return all(c in cols for c in self.needed)

    def pick(self, cols: Mapping[str, Any], key: Key | None = None) -> Cols:
        """Columns of one group as this plot draws them ('x', 'y'[, 'f']), x in axis units
        (wall: milliseconds since the epoch; relative: seconds since the line's start)."""
        if self.spec.even_bins and self.spec.filter_column:  # a histogram (histogram_bins)
            return even_bin_cols(cols, self.spec.y, self.spec.filter_column, self.spec.even_bins)
        y = np.asarray(cols[self.spec.y])
        x = np.asarray(cols[self.x_col], dtype=np.float64)
        if self.x_mode == "wall":
            x = x * 1000.0
        elif self.x_mode == "relative":
            line = self.lines.get(key) if key is not None else None
            if line is not None and line.t0 is None and x.size:
                line.t0 = float(np.nanmin(x))
            x = x - (line.t0 if line is not None and line.t0 is not None else 0.0)
        data = {"x": x, "y": y if y.dtype == np.float32 else y.astype(np.float64)}
        if self.spec.filter_column:
            data["f"] = np.asarray(cols[self.spec.filter_column], dtype=np.float64)
        return data

    def admit(self, key: Key) -> bool:
        """Take ``key`` on if it is new and the plot has room (its colour is fixed now)."""
        if key in self.lines:
            return True
        if key in self.unfit_keys:
            return False
        if len(self.lines) >= self.limits.max_lines:
            self.hidden += 1
            self._note(
                "limit",
                f"showing {len(self.lines):,} of {len(self.lines) + self.hidden:,} lines:"
                " narrow them with scopes= (or names=)",
            )
            return False
        color, dash = self.style(key)
        self.lines[key] = Line(key, color=color, dash=dash)
        return True

    def _put(self, key: Key, data: Cols, *, slack: float = 0.5) -> None:
        """Show ``data`` as the whole of ``key``'s line (its row is made on first data;
        ``slack``: its room to grow in place, as a fraction)."""
        if key in self.layer:
            self.layer.replace(key, data, slack=slack)
        else:
            line = self.lines[key]
            self.layer.add(key, line.color, data, slack=slack, dash=line.dash)
            if self.smoothing.drawn:
                self.layer.set_alpha(key, RAW_ALPHA_SMOOTHED)

    def _extend(self, key: Key, data: Cols) -> None:
        """Append ``data`` to ``key``'s line."""
        if key in self.layer:
            self.layer.append(key, data)
        else:
            self._put(key, data)

    def note_unfit(self, key: Key, cols: Mapping[str, Any]) -> None:
        """Say in the title why matching groups are not drawn: one note per set of
        missing columns, naming the (scope, name) when it is the only one, else how
        many and the first (a thousand old runs under x=wall make one short note)."""
        scope, name, _ = key
        if (scope, name) in self._unfit:
            return
        self._unfit.add((scope, name))
        missing = ", ".join(c for c in self.needed if c not in cols)
        first, count = self._unfit_by_missing.get(missing, (f"{scope}/{name}", 0))
        self._unfit_by_missing[missing] = (first, count + 1)
        if count == 0:
            text = f"not drawn: {first} has no column {missing}"
        else:
            text = f"not drawn: {count + 1:,} groups have no column {missing} (the first: {first})"
        if WALL_TIME_COLUMN in missing.split(", "):
            text += ": logged without wall times, x=step draws them"
        self._note(f"unfit:{missing}", text)

    @property
    def has_unfit(self) -> bool:
        """Whether some matching group could not be drawn here (the title says why)."""
        return bool(self._unfit)

    def _note(self, key: str, text: str) -> None:
        """Say ``text`` in the plot's title (one note per ``key``)."""
        if self._notes.get(key) == text:
            return
        self._notes[key] = text
        self._show_notes()

    def _unnote(self, key: str) -> None:
        if self._notes.pop(key, None) is not None:
            self._show_notes()

    def _show_notes(self) -> None:
        title: Any = self.figure.title
        if not self._notes:
            title.text = self._title_value
        else:  # notes name runs, names and keys: text, never TeX
            title.text = safe_html.plain("  ".join([self._base_title, *(f"[{t}]" for t in self._notes.values())]))

    # ---- the first read ------------------------------------------------------------------
    def initial_jobs(self, infos: Sequence[GroupInfo]) -> list[Job]:
        """Admit the groups of a snapshot and say what to read for each."""
        for g in infos:
            self.admit((g.scope, g.name, g.index))
        cap, jobs = self.cap, []
        for g in infos:
            key = (g.scope, g.name, g.index)
            if key not in self.lines:
                continue
            big = g.count > cap and not self.filtered
            req = RangeRequest(
                g.scope,
                g.name,
                g.index,
                max_points=cap if big else None,
                upto=g.count,
                x_column=self.x_col if self.x_mode != "step" else None,
            )
            jobs.append(Job(key, "overview" if big else "full", req))
        return jobs

    # ---- new data ------------------------------------------------------------------------
    def add_points(self, key: Key, data: Cols) -> None:
        """Points of ``key`` that arrived after what this page has seen."""
        line = self.lines.get(key)
        n = len(data["x"])
        if line is None or n == 0:
            return
        first = line.count
        line.count += n
        if self.filter_slider is not None:
            self.filter_slider.add(line, data)
            return
        line.smooth_stale = True
        if line.mode == "decimated":
            line.tail.append((first, data))
            self._extend(key, data)
            if sum(len(c["x"]) for _, c in line.tail) > self.cap // 2:
                line.stale = True
            return
        if line.count > self.cap:  # crossed the cap: an overview will replace the row
            line.mode, line.stale = "decimated", True
            line.tail.append((first, data))
            self._extend(key, data)
            return
        x = data["x"]
        in_order = not self.is_line or (x[0] >= line.x_max and bool(np.all(x[1:] >= x[:-1])))
        line.x_max = max(line.x_max, float(np.nanmax(x)) if n else line.x_max)
        if in_order or key not in self.layer:
            self._extend(key, data)
            return
        old = self.layer.data(key)
        full = {k: np.concatenate([old[k], data[k]]) for k in ("x", "y")}
        order = np.argsort(full["x"], kind="stable")
        self.layer.replace(key, {k: v[order] for k, v in full.items()})

    def set_full(self, key: Key, data: Cols) -> None:
        """Every point of a group within its cap (the first read)."""
        line = self.lines.get(key)
        if line is None:
            return
        line.count = len(data["x"])
        if self.filter_slider is not None:
            self.filter_slider.add(line, data)
            return
        line.mode = "exact"
        line.x_max = float(np.nanmax(data["x"])) if len(data["x"]) else -np.inf
        self._put(key, data)

    # ---- deletions, resets, flushing ---------------------------------------------------
    def remove(self, scope: str, name: str | None) -> None:
        """Drop the lines of a deleted scope or (scope, name)."""
        gone = [k for k in self.lines if k[0] == scope and (name is None or k[1] == name)]
        for k in gone:
            del self.lines[k]
        self.layer.remove(gone)
        self.smoothing.remove(gone)

    def clear(self) -> None:
        """Forget every line (after a cursor reset; the reload refills them)."""
        self.lines.clear()
        self.hidden = 0
        self.layer.clear()
        self.smoothing.clear()

    def set_hidden(self, scopes: set[str]) -> None:
        """Draw no line of these runs (the runs panel's ticks)."""
        self.layer.hidden = set(scopes)
        self.smoothing.set_hidden(scopes)

    def highlight(self, scopes: set[str]) -> None:
        """Lines of ``scopes`` at full strength, the others dimmed (none: all full)."""
        for key in self.layer.keys():
            self.layer.set_alpha(key, 1.0 if not scopes or key[0] in scopes else DIMMED_ALPHA)

    def flush(self) -> None:
        """Send this plot's changes of the round to the browser."""
        if self.color_by is not None:
            self.color_by.recolor_if_needed()
        self.layer.flush()
        self.smoothing.flush()
        if self.is_line and "lod_interval" not in self.spec.figure_kwargs:  # schema's wins
            lod = lod_interval(len(self.layer), self.figure.lod_threshold)
            if self.figure.lod_interval != lod:
                self.figure.lod_interval = lod
        if self.color_by is not None:
            self.color_by.update_legend()

    # ---- range reads -----------------------------------------------------------------------
    @property
    def view_range(self) -> tuple[float, float] | None:
        """The axis range the user zoomed to (None: never zoomed); ``ranges`` holds it."""
        return self.ranges.view_range

    @view_range.setter
    def view_range(self, window: tuple[float, float] | None) -> None:
        self.ranges.view_range = window

    def range_jobs(self, *, zoomed: bool) -> list[Job]:
        """Reads this plot wants now: stale overviews, the zoomed window, smoothed lines."""
        if self.filter_slider is not None:
            return []
        return self.ranges.jobs(zoomed=zoomed, smoothing=self.smoothing.value)

    def apply_ranges(self, results: Sequence[tuple[Job, pa.Table | None]]) -> None:
        """Show what the jobs read (overview + detail of a line arrive together)."""
        overview: dict[Key, tuple[Job, Cols]] = {}
        detail: dict[Key, tuple[Job, Cols]] = {}
        for job, table in results:
            if job.key not in self.lines:
                continue
            cols = self._table_cols(table, job.key)
            if cols is None:
                if table is not None:  # the group lacks this plot's columns
                    self.note_unfit(job.key, dict.fromkeys(table.column_names))
                    self.unfit_keys.add(job.key)
                    del self.lines[job.key]
                continue
            if job.kind == "full":
                self.set_full(job.key, cols)
            elif job.kind == "overview":
                overview[job.key] = (job, cols)
            elif job.kind == "detail":
                detail[job.key] = (job, cols)
            elif job.kind == "smooth":
                self.smoothing.show(job, cols)
        reads = [(line, overview.get(key), detail.get(key)) for key in {**overview, **detail}
                 if (line := self.lines.get(key)) is not None]
        self.ranges.show_decimated_many(reads)

    def _table_cols(self, table: pa.Table | None, key: Key) -> Cols | None:
        if table is None:
            return None
        cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
        return self.pick(cols, key) if self.wants(cols) else None

    # ---- what the session asks of the parts ------------------------------------------------
    def configs_arrived(self, scopes: set[str]) -> None:
        """These runs' configs came after their lines were coloured: ``color_by`` takes
        their values in and colours the lines again at the next flush."""
        if self.color_by is not None:
            self.color_by.configs_arrived(scopes)

    def show_selection(self, value: float, data: Mapping[Key, Cols]) -> None:
        """Show, per glyph, its points at the largest filter value <= ``value``."""
        if self.filter_slider is not None:
            self.filter_slider.show_selection(value, data)
