"""Page layouts from URL parameters, exactly as the README states them.

``rows=A,B;C``: rows separated by ``;``, plots within a row by ``,``. ``width`` has
one number per plot (normalised within its row), ``height`` one per row
(normalised over the page). ``cols=A,B;C``: columns separated by ``;``; ``width``
one per column, ``height`` one per plot (normalised within its column). Exactly
one of ``rows``/``cols``; omitted ``width``/``height`` are all ones.
``axes=lin,xlog,ylog,xylog`` one per plot; ``scopes=REGEX`` once; ``names=REGEX``
once per plot in layout order (an empty value keeps the schema's pattern);
``webgl=auto|on|off`` (auto: WebGL unless the browser renders it in software);
``where=`` runs selected by config (see ``streamvis.web.where``); ``color_by=KEY``
runs coloured by a config value; ``x=step|wall|relative`` or ``x=NAME`` (a logged
name's value at the same step; ``x=name:wall`` for a name spelled like a mode);
``group=KEY[,KEY]`` or ``group=-KEY`` (one line and band per group of runs, with
``agg=mean|median|min|max`` and ``band=minmax|std|stderr|none``); the runs panel's state
``find=``, ``filter=``, ``hide=``/``show=`` (``streamvis.web.page_url``); the header's
``smoothing=W`` (EMA weight in [0, 1), every plot) and ``zoom=LO,HI`` (line plots' x).

Without ``rows``/``cols`` the page shows every logged name (mode ``names``): then
``names=REGEX`` is given at most once and filters the cards. Without a schema
(``Schema.plots`` empty), ``rows``/``cols`` name logged names instead of plots.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamvis.errors import InvalidArgumentError
from streamvis.storage.read.aggregates import check_agg_band
from streamvis.storage.read.run_groups import parse_group

from ..schema import Schema, check_regex
from ..x_modes import X_MODES, parse_x
from .page_url import PANEL_PARAMS
from .summary_keys import parse_summary_param
from .where import Condition, parse_where

__all__ = [
    "LayoutError",
    "Cell",
    "Layout",
    "parse_layout",
    "AXIS_MODES",
    "PARAMS",
    "MAX_PLOTS",
    "WEBGL_MODES",
    "X_MODES",
]

AXIS_MODES = ("lin", "xlog", "ylog", "xylog")
MAX_PLOTS = 32  # plots per page: each is built on the server's event loop (~40 ms apiece)
PARAMS = (
    "rows", "cols", "width", "height", "axes", "scopes", "names", "webgl", "where", "color_by", "x",
    "smoothing", "zoom", "group", "agg", "band", *PANEL_PARAMS,
)
WEBGL_MODES = ("auto", "on", "off")


class LayoutError(InvalidArgumentError):
    """A URL layout parameter is wrong; the message says what and what is allowed."""


@dataclass(frozen=True)
class Cell:
    """One plot on the page: its place in layout order and its box as page fractions."""

    plot: str
    position: int  # order in the layout (0-based), used for axes= and names=
    group: int  # which row (rows mode) or column (cols mode)
    left: float
    top: float
    width: float
    height: float
    axis: str = "lin"
    names: str | None = None  # overrides the schema's name_pattern

    @property
    def x_log(self) -> bool:
        return self.axis in ("xlog", "xylog")

    @property
    def y_log(self) -> bool:
        return self.axis in ("ylog", "xylog")


@dataclass(frozen=True)
class Layout:
    """A parsed page: ``groups`` are the rows (or columns) of plot names."""

    mode: str  # "rows", "cols" or "names" (every logged name, no groups)
    groups: tuple[tuple[str, ...], ...]
    outer: tuple[float, ...]  # fraction per row (rows mode) or column (cols mode)
    inner: tuple[tuple[float, ...], ...]  # fractions within each group
    cells: tuple[Cell, ...]
    scopes: str | None = None
    webgl: str | None = None  # auto | on | off; None: the server's default
    where: tuple[Condition, ...] = ()  # runs selected by config (all must hold)
    where_text: str | None = None
    color_by: str | None = None  # a config key: runs coloured by its value
    x_mode: str | None = None  # step | wall | relative | name:NAME; None: each plot's own (step)
    panel: tuple[tuple[str, str], ...] = ()  # the runs panel's state: (find|filter|hide|show, value)
    smoothing: float = 0.0  # the page's EMA weight (0: raw lines)
    zoom: tuple[float, float] | None = None  # line plots' x range on open
    name_filter: str | None = None  # names mode: the cards' names=REGEX
    group_by: str | None = None  # group=: config keys (or -keys) grouping the runs of line plots
    agg: str = "mean"  # the groups' line
    band: str = "minmax"  # the groups' band

    @property
    def plots(self) -> list[str]:
        """Plot names in layout order (a plot may appear more than once)."""
        return [c.plot for c in self.cells]


def _one(args: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = args.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise LayoutError(f"'{key}' is given {len(values)} times; give it once")
    return values[0]


def _numbers(key: str, text: str | None, count: int, what: str) -> tuple[float, ...]:
    if text is None:
        return (1.0,) * count
    parts = text.split(",")
    if len(parts) != count:
        raise LayoutError(
            f"'{key}={text}' has {len(parts)} number(s); {count} are needed (one per {what})"
        )
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise LayoutError(
                f"'{key}={text}': {p!r} is not a number; use positive numbers like 1,2.5"
            ) from None
        if not math.isfinite(v) or v <= 0:
            raise LayoutError(f"'{key}={text}': {p!r} must be a positive number")
        out.append(v)
    return tuple(out)


def _norm(values: Sequence[float]) -> tuple[float, ...]:
    total = sum(values)
    return tuple(v / total for v in values)


def _groups(key: str, text: str, schema: Schema) -> tuple[tuple[str, ...], ...]:
    groups = []
    for part in text.split(";"):
        names = tuple(p.strip() for p in part.split(","))
        if any(not n for n in names):
            raise LayoutError(
                f"'{key}={text}' has an empty plot name; separate plots with ',' and "
                f"{'rows' if key == 'rows' else 'columns'} with ';'. "
                + (f"Plots: {', '.join(schema.plots)}" if schema.plots else "Give logged names.")
            )
        for n in names:
            if schema.plots and n not in schema.plots:
                raise LayoutError(
                    f"unknown plot {n!r} in '{key}'; the schema's plots are: "
                    f"{', '.join(schema.plots)}"
                )
        groups.append(names)
    return tuple(groups)


def _did_you_mean(key: str) -> str:
    """`` (did you mean 'color_by'?)`` for a near miss of a parameter, else ""."""
    if len(key) > 64:
        return ""
    close = difflib.get_close_matches(key.lower(), PARAMS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _smoothing(args: Mapping[str, Sequence[str]]) -> float:
    text = _one(args, "smoothing")
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0.0 <= value < 1.0):  # NaN fails too
        raise LayoutError(
            f"'smoothing={text}' is not an EMA weight; give a number in [0, 1), e.g. smoothing=0.6"
        )
    return value


def _zoom(args: Mapping[str, Sequence[str]]) -> tuple[float, float] | None:
    text = _one(args, "zoom")
    if text is None:
        return None
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise LayoutError(f"'zoom={text}' is not an x range; give LO,HI with LO < HI, e.g. zoom=0,500")
    return lo, hi


def _common(args: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """The parameters every page takes (runs, colours, x, smoothing, zoom, the panel's)."""
    scopes = _one(args, "scopes")
    if scopes is not None:
        try:
            check_regex(scopes, "scopes")
        except InvalidArgumentError as exc:
            raise LayoutError(str(exc)) from None
    webgl = _one(args, "webgl")
    if webgl is not None and webgl not in WEBGL_MODES:
        raise LayoutError(f"'webgl={webgl}' is not a mode; allowed: {', '.join(WEBGL_MODES)}")
    where_text = _one(args, "where")
    try:
        where = tuple(parse_where(where_text)) if where_text is not None else ()
    except InvalidArgumentError as exc:
        raise LayoutError(str(exc)) from None
    color_by = _one(args, "color_by")
    if color_by is not None and not color_by.strip():
        raise LayoutError("'color_by=' needs a config key, e.g. color_by=opt or color_by=optim.lr")
    x_text = _one(args, "x")
    try:
        x_mode = parse_x(x_text, "x") if x_text is not None else None
    except InvalidArgumentError as exc:
        raise LayoutError(str(exc)) from None
    group_by, agg, band = _one(args, "group"), _one(args, "agg") or "mean", _one(args, "band") or "minmax"
    try:
        if group_by is not None:
            parse_group(group_by)
        check_agg_band(agg, band)
    except InvalidArgumentError as exc:
        raise LayoutError(str(exc)) from None
    panel = tuple((k, v) for k in PANEL_PARAMS if (v := _one(args, k)) is not None)
    try:
        parse_summary_param(dict(panel).get("summary", ""))
    except InvalidArgumentError as exc:
        raise LayoutError(str(exc)) from None
    if "hide" in dict(panel) and "show" in dict(panel):
        raise LayoutError("give one of 'hide=' and 'show=' (the runs panel writes one of them)")
    return {
        "scopes": scopes or None, "webgl": webgl, "where": where, "where_text": where_text,
        "color_by": color_by.strip() if color_by else None, "x_mode": x_mode, "panel": panel,
        "smoothing": _smoothing(args), "zoom": _zoom(args), "group_by": group_by, "agg": agg,
        "band": band,
    }


def _names_page(args: Mapping[str, Sequence[str]]) -> Layout:
    """No rows/cols: every logged name, ``names=`` (once) filtering the cards."""
    for key in ("width", "height", "axes"):
        if key in args:
            raise LayoutError(f"'{key}=' sizes the plots of rows= or cols=; give one of them too")
    pattern = _one(args, "names")
    if pattern:
        try:
            check_regex(pattern, "names (the name filter)")
        except InvalidArgumentError as exc:
            raise LayoutError(str(exc)) from None
    common: dict[str, Any] = _common(args)
    return Layout("names", (), (), (), (), name_filter=pattern or None, **common)


def parse_layout(args: Mapping[str, Sequence[str]], schema: Schema) -> Layout:
    """Parse URL query arguments (each key to its list of values) into a Layout."""
    unknown = [k for k in args if k not in PARAMS and not k.startswith("bokeh-")]
    if unknown:
        raise LayoutError(f"unknown parameter {unknown[0]!r}{_did_you_mean(unknown[0])}; "
                          f"allowed: {', '.join(PARAMS)}")
    rows, cols = _one(args, "rows"), _one(args, "cols")
    if rows is None and cols is None:
        return _names_page(args)
    if rows is not None and cols is not None:
        raise LayoutError(
            "give exactly one of 'rows' and 'cols' (or neither: every logged name), e.g. ?rows=A,B;C or ?cols=A,B;C"
            + (f"; the schema's plots are: {', '.join(schema.plots)}" if schema.plots else "")
        )
    mode = "rows" if rows is not None else "cols"
    text = rows if rows is not None else cols
    assert text is not None
    groups = _groups(mode, text, schema)
    n_plots = sum(len(g) for g in groups)
    if n_plots > MAX_PLOTS:
        raise LayoutError(
            f"'{mode}' lists {n_plots} plots; at most {MAX_PLOTS} fit on one page "
            "(open several pages, or match more names per plot with names=REGEX)"
        )
    width, height = _one(args, "width"), _one(args, "height")
    if mode == "rows":
        per_plot = _numbers("width", width, n_plots, "plot")
        outer = _norm(_numbers("height", height, len(groups), "row"))
    else:
        per_plot = _numbers("height", height, n_plots, "plot")
        outer = _norm(_numbers("width", width, len(groups), "column"))
    inner_list, k = [], 0
    for g in groups:
        inner_list.append(_norm(per_plot[k : k + len(g)]))
        k += len(g)
    inner = tuple(inner_list)

    axes_text = _one(args, "axes")
    axes = ["lin"] * n_plots if axes_text is None else axes_text.split(",")
    if len(axes) != n_plots:
        raise LayoutError(
            f"'axes={axes_text}' has {len(axes)} mode(s); {n_plots} are needed (one per plot)"
        )
    for a in axes:
        if a not in AXIS_MODES:
            raise LayoutError(
                f"'axes={axes_text}': {a!r} is not an axis mode; allowed: {', '.join(AXIS_MODES)}"
            )
    names = list(args.get("names") or [])
    if names and len(names) != n_plots:
        raise LayoutError(
            f"'names' is given {len(names)} time(s); give it once per plot in layout order "
            f"({n_plots}: {', '.join(p for g in groups for p in g)})"
        )
    for i, pat in enumerate(names):
        if pat:
            try:
                check_regex(pat, f"names (plot {i + 1}, {[p for g in groups for p in g][i]!r})")
            except InvalidArgumentError as exc:
                raise LayoutError(str(exc)) from None
    common: dict[str, Any] = _common(args)

    cells = []
    pos, offset = 0, 0.0
    for gi, g in enumerate(groups):
        along = 0.0
        for j, plot in enumerate(g):
            f = inner[gi][j]
            if mode == "rows":
                box = (along, offset, f, outer[gi])
            else:
                box = (offset, along, outer[gi], f)
            cells.append(
                Cell(
                    plot=plot,
                    position=pos,
                    group=gi,
                    left=box[0],
                    top=box[1],
                    width=box[2],
                    height=box[3],
                    axis=axes[pos],
                    names=names[pos] if names and names[pos] else None,
                )
            )
            along += f
            pos += 1
        offset += outer[gi]
    return Layout(mode, groups, outer, inner, tuple(cells), **common)
