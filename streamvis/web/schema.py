"""Plot schemas: YAML that says which logged names go into which plot, and how.

Top-level keys are plot names; an optional ``DEFAULTS`` entry is merged into every
plot (nested mappings merged key by key, the plot's own keys winning). Per plot::

    name_pattern: RE2 regex, matched anywhere in a name
    glyph_kind:   line | scatter | image | text
                  (image, text: a card per logged image or text name matching
                  name_pattern, the runs side by side at one step, a step slider;
                  such a plot takes no other key of its own)
    columns:      [x, y] or [x, y, filter]
    color:        {palette, num_colors, formula | key_fun, num_groups, num_indices}
                  key_fun: letters of s, n, i (scope, name, index) in any order and
                  subset ("sni", "ni", "is"): the colour key is the tuple of those
                  ordinals in that order (the original streamvis's form).
                  Without a color section (or with ``formula: run``) a run has one
                  colour on every plot of the page (colors.run_color); its several
                  names or indices in one plot differ by dash or shade
    figure_kwargs: Bokeh figure properties (title, x_axis_label, ...); the mappings
                   ``title``, ``xaxis``, ``yaxis``, ``xgrid``, ``ygrid`` are applied to
                   those sub-models and ``legend`` to the legend (see figure_kwargs.py)
    glyph_kwargs:  Bokeh glyph properties (line_width, size, alpha, ...); a scatter
                   with ``radius`` (data units) is drawn with circle()
    filter_opts:   {column, title}: a slider over that column's values
    smoothing:     EMA weight in [0, 1) for this plot (overrides the page's smoothing=)
    x:             step | wall | relative | NAME (``name:NAME`` for a name spelled like
                   a mode): a line plot's x, as the page's x= (overrides it)
    group, agg, band: as the page's group=, agg=, band= (one line and band per group)

Keys of older schemas (scope_pattern, group_pattern, glyph) are refused with a
message naming what replaced them.

Everything is checked when the schema is loaded; a mistake raises ``SchemaError``
naming the plot, the key and what is allowed.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from streamvis.errors import InvalidArgumentError
from streamvis.patterns import compile_pattern
from streamvis.storage.format.scan import parse_header
from streamvis.storage.read.aggregates import check_agg_band
from streamvis.storage.read.run_groups import parse_group

from .colors import FORMULAS, RUN_PALETTE, ColorSpec, resolve_palette
from .x_modes import X_MODES, parse_x, x_name_of

__all__ = [
    "SchemaError", "PlotSpec", "Schema", "PLOT_KEYS", "X_MODES", "GLYPH_KINDS",
    "MEDIA_GLYPHS", "media_plot", "load_schema", "parse_schema", "demo_schema_path",
    "packaged_schema_path", "PACKAGED_SCHEMAS", "check_regex", "parse_key_fun", "color_key",
    "parse_x", "x_name_of",
]

PLOT_KEYS = (
    "name_pattern", "glyph_kind", "columns", "color", "figure_kwargs", "glyph_kwargs",
    "filter_opts", "x_mode", "smoothing", "x", "group", "agg", "band",
)
COLOR_KEYS = ("palette", "num_colors", "formula", "key_fun", "num_groups", "num_indices")
KEY_FUN_LETTERS = {"s": "scope", "n": "name", "i": "index"}
# keys of older schemas -> what replaced them
LEGACY_KEYS = {
    "scope_pattern": "the page's scopes= URL parameter (runs are chosen per page)",
    "group_pattern": "'name_pattern' (a regex over logged names)",
    "glyph": "'glyph_kind' (line | scatter)",
}
FILTER_KEYS = ("column", "title")
GLYPH_KINDS = ("line", "scatter", "image", "text")
MEDIA_GLYPHS = ("image", "text")  # drawn as cards of logged images or texts, not figures
MEDIA_KEYS = ("name_pattern", "glyph_kind")  # all a media plot takes
DEFAULTS_KEY = "DEFAULTS"


class SchemaError(InvalidArgumentError):
    """The plot schema is not valid; the message names the plot, key and allowed values."""

    code = "invalid_argument"


@dataclass(frozen=True)
class PlotSpec:
    """One plot of a schema, validated."""

    name: str
    name_pattern: str
    glyph_kind: str
    x: str
    y: str
    filter_column: str | None
    color: ColorSpec
    figure_kwargs: dict[str, Any] = field(default_factory=dict)
    legend_kwargs: dict[str, Any] = field(default_factory=dict)
    glyph_kwargs: dict[str, Any] = field(default_factory=dict)
    filter_title: str | None = None
    # figure_kwargs' sub-model mappings ({"title": {...}, "xaxis": {...}, ...}): apply
    # with streamvis.web.figure_kwargs.apply_submodels(fig, spec.figure_submodels)
    figure_submodels: dict[str, dict[str, Any]] = field(default_factory=dict)
    # color.key_fun, validated ("sni", "ni", ...): the colour key of a glyph is
    # color_key(key_fun, scope_ord, name_ord, index); None: use color.formula
    key_fun: str | None = None
    x_mode: str | None = None  # step | wall | relative; None: the page's x= (line plots)
    smoothing: float | None = None  # this plot's EMA weight; None: the page's smoothing=
    group: str | None = None  # group: config keys grouping runs; None: the page's group=
    agg: str | None = None  # None: the page's agg=
    band: str | None = None  # None: the page's band=
    title: str | None = None  # a title from the data (a logged name): drawn as text, never TeX
    even_bins: int = 0  # a histogram's left/right/count drawn on this many even bins a step (0: as stored)

    @property
    def glyph_method(self) -> str:
        """The ``figure`` method that draws this plot's glyphs: ``line``, ``scatter``,
        or ``circle`` for a scatter sized by ``radius`` (data units; Bokeh deprecated
        ``scatter(radius=...)`` in 3.4)."""
        if self.glyph_kind == "scatter" and "radius" in self.glyph_kwargs:
            return "circle"
        return self.glyph_kind

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns this plot reads (x, y and the filter column if any)."""
        cols = (self.x, self.y)
        return cols + ((self.filter_column,) if self.filter_column else ())


@dataclass(frozen=True)
class Schema:
    """All plots of a schema file, in file order."""

    plots: dict[str, PlotSpec]
    source: str = "<schema>"

    def plot(self, name: str) -> PlotSpec:
        """The plot called ``name``; SchemaError listing the plots when unknown."""
        try:
            return self.plots[name]
        except KeyError:
            raise SchemaError(
                f"unknown plot {name!r}; the schema's plots are: {', '.join(self.plots)}"
            ) from None


def check_regex(pattern: str, what: str) -> str:
    """Compile ``pattern`` with RE2; InvalidArgumentError naming ``what`` when it fails."""
    if not isinstance(pattern, str):
        raise InvalidArgumentError(f"{what}: a regex string is required, got {pattern!r}")
    try:  # the same checks (RE2 syntax, length) as the data source applies later
        compile_pattern(pattern, "the pattern")
    except InvalidArgumentError as exc:
        shown = pattern if len(pattern) <= 200 else pattern[:200] + "…"
        raise InvalidArgumentError(f"{what}: bad regex {shown!r} ({exc})") from None
    return pattern


def parse_key_fun(value: Any, what: str = "color.key_fun") -> str:
    """Validate a key_fun: a non-empty string of distinct letters from s, n, i."""
    if (
        not isinstance(value, str)
        or not value
        or any(c not in KEY_FUN_LETTERS for c in value)
        or len(set(value)) != len(value)
    ):
        raise SchemaError(
            f"{what}: {value!r} is not a key function; use distinct letters of s (scope), "
            "n (name), i (index) in any order, e.g. sni, ni, is"
        )
    return value


def color_key(key_fun: str, scope_ord: int, name_ord: int, index: int) -> tuple[int, ...]:
    """The colour key of a glyph under ``key_fun``: its ordinals in the letters' order
    (``color_key("is", 2, 5, 1) == (1, 2)``)."""
    ords = {"s": scope_ord, "n": name_ord, "i": index}
    return tuple(ords[c] for c in key_fun)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _mapping(plot: str, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SchemaError(f"plot {plot!r}, key {key!r}: a mapping is required, got {value!r}")
    return dict(value)


def _check_keys(plot: str, where: str, got: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in got:
        if not where and key in LEGACY_KEYS:
            raise SchemaError(
                f"plot {plot!r}: key {key!r} is from an older streamvis schema; it was "
                f"replaced by {LEGACY_KEYS[key]}"
            )
        if key not in allowed:
            raise SchemaError(
                f"plot {plot!r}: unknown key {where}{key!r}; allowed: {', '.join(allowed)}"
            )


def _positive_int(plot: str, key: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SchemaError(
            f"plot {plot!r}, key {key!r}: a positive integer is required, got {value!r}"
        )
    return value


def _parse_color(plot: str, raw: Mapping[str, Any]) -> ColorSpec:
    _check_keys(plot, "color.", raw, COLOR_KEYS)
    if not raw or set(raw) == {"formula"} and raw["formula"] == "run":
        # no color section: each run its page-wide colour (RunColors)
        return ColorSpec.build(
            palette_name="run", palette=RUN_PALETTE, num_colors=len(RUN_PALETTE), formula="run"
        )
    palette_name = raw.get("palette", "Category10_10")
    try:
        palette = resolve_palette(palette_name)
    except InvalidArgumentError as exc:
        raise SchemaError(f"plot {plot!r}, key 'color.palette': {exc}") from None
    key_fun = raw.get("key_fun")
    if key_fun is not None and "formula" in raw:
        raise SchemaError(
            f"plot {plot!r}: give one of 'color.formula' and 'color.key_fun', not both"
        )
    # key_fun: the "key" formula (a colour per distinct key, spread over the palette);
    # the key is color_key(PlotSpec.key_fun, ...) rather than the whole (scope, name, index)
    formula = raw.get("formula", "key" if key_fun is not None else "name_index")
    if formula not in FORMULAS:
        raise SchemaError(
            f"plot {plot!r}, key 'color.formula': {formula!r} is not one of {', '.join(FORMULAS)}"
        )
    return ColorSpec.build(
        palette_name=str(palette_name),
        palette=palette,
        num_colors=_positive_int(plot, "color.num_colors", raw.get("num_colors"), len(palette)),
        formula=formula,
        num_groups=_positive_int(plot, "color.num_groups", raw.get("num_groups"), 1),
        num_indices=_positive_int(plot, "color.num_indices", raw.get("num_indices"), 1),
    )


def _check_bokeh_kwargs(plot: str, spec: PlotSpec) -> None:
    """Build a throw-away figure and glyph from the plot's kwargs, as the page will."""
    from bokeh.plotting import figure

    from .figure_kwargs import apply_submodels

    try:
        fig = figure(**spec.figure_kwargs)
    except Exception as exc:
        raise SchemaError(f"plot {plot!r}, key 'figure_kwargs': {exc}") from None
    for key, props in spec.figure_submodels.items():
        try:
            apply_submodels(fig, {key: props})
        except Exception as exc:
            raise SchemaError(f"plot {plot!r}, key 'figure_kwargs.{key}': {exc}") from None
    try:
        getattr(fig, spec.glyph_method)(x=[0.0], y=[0.0], **spec.glyph_kwargs)
    except Exception as exc:
        raise SchemaError(f"plot {plot!r}, key 'glyph_kwargs': {exc}") from None
    if spec.legend_kwargs:
        from bokeh.models.annotations import Legend

        try:
            Legend(**spec.legend_kwargs)
        except Exception as exc:
            raise SchemaError(f"plot {plot!r}, key 'figure_kwargs.legend': {exc}") from None


def _parse_plot(name: str, raw: Mapping[str, Any]) -> PlotSpec:
    _check_keys(name, "", raw, PLOT_KEYS)
    pattern = raw.get("name_pattern", name)
    try:
        check_regex(pattern, f"plot {name!r}, key 'name_pattern'")
    except InvalidArgumentError as exc:
        raise SchemaError(str(exc)) from None
    kind = raw.get("glyph_kind", "line")
    if kind not in GLYPH_KINDS:
        raise SchemaError(
            f"plot {name!r}, key 'glyph_kind': {kind!r} is not one of {', '.join(GLYPH_KINDS)}"
        )
    if kind in MEDIA_GLYPHS:
        return media_plot(name, kind, pattern)
    columns = raw.get("columns")
    if (
        not isinstance(columns, list | tuple)
        or len(columns) not in (2, 3)
        or not all(isinstance(c, str) and c for c in columns)
    ):
        raise SchemaError(
            f"plot {name!r}, key 'columns': a list [x, y] or [x, y, filter] of column names "
            f"is required, got {columns!r}"
        )
    filter_opts = _mapping(name, "filter_opts", raw.get("filter_opts"))
    _check_keys(name, "filter_opts.", filter_opts, FILTER_KEYS)
    filter_column = columns[2] if len(columns) == 3 else None
    if "column" in filter_opts:
        fc = filter_opts["column"]
        if filter_column is not None and fc != filter_column:
            raise SchemaError(
                f"plot {name!r}, key 'filter_opts.column': {fc!r} differs from the filter "
                f"column in 'columns' ({filter_column!r})"
            )
        if not isinstance(fc, str) or not fc or fc in columns[:2]:
            raise SchemaError(
                f"plot {name!r}, key 'filter_opts.column': a column name other than x and y "
                f"is required, got {fc!r}"
            )
        filter_column = fc
    from .figure_kwargs import split_figure_kwargs

    try:
        fig_kw = split_figure_kwargs(_mapping(name, "figure_kwargs", raw.get("figure_kwargs")))
    except ValueError as exc:
        raise SchemaError(f"plot {name!r}, key {exc}") from None
    glyph_kw = _mapping(name, "glyph_kwargs", raw.get("glyph_kwargs"))
    color_raw = _mapping(name, "color", raw.get("color"))
    color = _parse_color(name, color_raw)
    key_fun = color_raw.get("key_fun")
    x_mode = raw.get("x_mode")
    if x_mode is not None and x_mode not in X_MODES:
        raise SchemaError(f"plot {name!r}, key 'x_mode': {x_mode!r} is not one of {', '.join(X_MODES)}")
    if raw.get("x") is not None:
        try:
            x_mode = parse_x(raw["x"], f"plot {name!r}, key 'x'")
        except InvalidArgumentError as exc:
            raise SchemaError(str(exc)) from None
    group, agg, band = raw.get("group"), raw.get("agg"), raw.get("band")
    try:
        if group is not None:
            parse_group(group if isinstance(group, str) else [str(k) for k in group])
            group = group if isinstance(group, str) else ",".join(str(k) for k in group)
        check_agg_band(agg or "mean", band or "minmax")
    except InvalidArgumentError as exc:
        raise SchemaError(f"plot {name!r}: {exc}") from None
    smoothing = raw.get("smoothing")
    if smoothing is not None and (
        isinstance(smoothing, bool) or not isinstance(smoothing, int | float) or not 0 <= smoothing < 1
    ):
        raise SchemaError(f"plot {name!r}, key 'smoothing': an EMA weight in [0, 1) is required, "
                          f"got {smoothing!r}")
    spec = PlotSpec(
        name=name,
        name_pattern=pattern,
        glyph_kind=kind,
        x=columns[0],
        y=columns[1],
        filter_column=filter_column,
        color=color,
        figure_kwargs=fig_kw.figure,
        legend_kwargs=fig_kw.legend,
        glyph_kwargs=glyph_kw,
        filter_title=filter_opts.get("title"),
        figure_submodels=fig_kw.submodels,
        key_fun=None if key_fun is None else parse_key_fun(key_fun, f"plot {name!r}, key 'color.key_fun'"),
        x_mode=x_mode,
        smoothing=None if smoothing is None else float(smoothing),
        group=group,
        agg=agg,
        band=band,
    )
    _check_bokeh_kwargs(name, spec)
    return spec


def media_plot(name: str, kind: str, name_pattern: str) -> PlotSpec:
    """The plot of the logged ``kind`` ("image" or "text") names matching ``name_pattern``."""
    return PlotSpec(name=name, name_pattern=name_pattern, glyph_kind=kind, x="", y="",
                    filter_column=None, color=_parse_color(name, {}))


def _check_media_keys(name: str, own: Mapping[str, Any], merged: Mapping[str, Any]) -> None:
    """A media plot's own keys: ``name_pattern`` and ``glyph_kind`` only (DEFAULTS'
    other keys are for the figures and do not apply to it)."""
    if merged.get("glyph_kind") not in MEDIA_GLYPHS:
        return
    for key in own:
        if key not in MEDIA_KEYS:
            raise SchemaError(
                f"plot {name!r}, key {key!r}: a plot of glyph_kind {merged['glyph_kind']} "
                f"takes only {', '.join(MEDIA_KEYS)}"
            )


def _title_as_mapping(defaults: Mapping[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A plot's title string as {text: ...} when DEFAULTS style the title with a
    mapping, so the merge keeps that style (font size, ...) and replaces the text."""
    base_fig, own_fig = defaults.get("figure_kwargs"), own.get("figure_kwargs")
    if not isinstance(base_fig, Mapping) or not isinstance(own_fig, Mapping):
        return own
    if not isinstance(base_fig.get("title"), Mapping) or not isinstance(own_fig.get("title"), str):
        return own
    return {**own, "figure_kwargs": {**own_fig, "title": {"text": own_fig["title"]}}}


def _defaults_for(defaults: dict[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """DEFAULTS as merged into one plot: a plot's own color.formula or color.key_fun
    replaces both of the DEFAULTS' (they are two ways of saying the same thing)."""
    own_color = own.get("color")
    base_color = defaults.get("color")
    if not isinstance(own_color, Mapping) or not isinstance(base_color, Mapping):
        return defaults
    if "formula" not in own_color and "key_fun" not in own_color:
        return defaults
    trimmed = {k: v for k, v in base_color.items() if k not in ("formula", "key_fun")}
    return {**defaults, "color": trimmed}


def parse_schema(doc: Any, source: str = "<schema>") -> Schema:
    """Validate a loaded YAML document (a mapping of plot name to plot) into a Schema."""
    if not isinstance(doc, Mapping) or not doc:
        raise SchemaError(f"{source}: the schema must be a mapping of plot names to plots")
    defaults = _mapping(DEFAULTS_KEY, DEFAULTS_KEY, doc.get(DEFAULTS_KEY))
    _check_keys(DEFAULTS_KEY, "", defaults, PLOT_KEYS)
    plots: dict[str, PlotSpec] = {}
    for name, raw in doc.items():
        if name == DEFAULTS_KEY:
            continue
        if not isinstance(name, str) or not name or any(c in name for c in ",;&="):
            raise SchemaError(
                f"{source}: plot name {name!r} must be a non-empty string without , ; & ="
            )
        own = _title_as_mapping(defaults, _mapping(name, "(plot)", raw))
        merged = _merge(_defaults_for(defaults, own), own)
        _check_media_keys(name, own, merged)
        plots[name] = _parse_plot(name, merged)
    if not plots:
        raise SchemaError(f"{source}: the schema defines no plots")
    return Schema(plots=plots, source=source)


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Read and validate the YAML schema at ``path``."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise SchemaError(f"schema file not found: {os.fspath(path)}") from None
    if _looks_like_log(raw):
        raise SchemaError(
            f"schema {os.fspath(path)!r} is not YAML: it looks like a streamvis log; "
            "web-serve takes WEB_URI DATA SCHEMA_FILE (were DATA and SCHEMA_FILE swapped?)"
        )
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SchemaError(
            f"schema {os.fspath(path)!r} is not YAML text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} is not UTF-8; give the YAML schema file"
        ) from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{os.fspath(path)}: not valid YAML ({exc})") from None
    return parse_schema(doc, source=os.fspath(path))


def _looks_like_log(raw: bytes) -> bool:
    """Whether ``raw`` starts with a streamvis log's header record."""
    try:
        parse_header(raw[:65536])
    except Exception:  # noqa: BLE001 - anything but a header: not a log
        return False
    return True


PACKAGED_SCHEMAS = ("demo", "tensorboard")


def packaged_schema_path(name: str) -> str:
    """Path of a schema shipped inside the package (``streamvis/schemas/<name>.yaml``)."""
    if name not in PACKAGED_SCHEMAS:
        raise SchemaError(f"no packaged schema {name!r}: expected one of {', '.join(PACKAGED_SCHEMAS)}")
    return str(importlib.resources.files("streamvis") / "schemas" / f"{name}.yaml")


def demo_schema_path() -> str:
    """Path of the demo schema shipped inside the package."""
    return packaged_schema_path("demo")
