"""Plot schemas: YAML that says which logged names go into which plot, and how.

Top-level keys are plot names; an optional ``DEFAULTS`` entry is merged into every
plot (nested mappings merged key by key, the plot's own keys winning). Per plot::

    name_pattern: RE2 regex, matched anywhere in a name
    glyph_kind:   line | scatter
    columns:      [x, y] or [x, y, filter]
    color:        {palette, num_colors, formula, num_groups, num_indices}
    figure_kwargs: Bokeh figure properties (title, x_axis_label, ...); its
                   ``legend`` mapping is applied to the figure's legend
    glyph_kwargs:  Bokeh glyph properties (line_width, size, alpha, ...)
    filter_opts:   {column, title}: a slider over that column's values

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

from .colors import DEFAULT_PALETTE, FORMULAS, ColorSpec, resolve_palette

__all__ = [
    "SchemaError",
    "PlotSpec",
    "Schema",
    "PLOT_KEYS",
    "GLYPH_KINDS",
    "load_schema",
    "parse_schema",
    "demo_schema_path",
    "check_regex",
]

PLOT_KEYS = (
    "name_pattern",
    "glyph_kind",
    "columns",
    "color",
    "figure_kwargs",
    "glyph_kwargs",
    "filter_opts",
)
COLOR_KEYS = ("palette", "num_colors", "formula", "num_groups", "num_indices")
FILTER_KEYS = ("column", "title")
GLYPH_KINDS = ("line", "scatter")
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
    if not raw:  # no color section: a colour per line, spread over a continuous palette
        return ColorSpec.build(
            palette_name=DEFAULT_PALETTE,
            palette=resolve_palette(DEFAULT_PALETTE),
            num_colors=len(resolve_palette(DEFAULT_PALETTE)),
            formula="key",
        )
    palette_name = raw.get("palette", "Category10_10")
    try:
        palette = resolve_palette(palette_name)
    except InvalidArgumentError as exc:
        raise SchemaError(f"plot {plot!r}, key 'color.palette': {exc}") from None
    formula = raw.get("formula", "name_index")
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


def _check_bokeh_kwargs(
    plot: str, kind: str, fig_kw: dict[str, Any], glyph_kw: dict[str, Any]
) -> None:
    from bokeh.plotting import figure

    try:
        fig = figure(**fig_kw)
    except Exception as exc:
        raise SchemaError(f"plot {plot!r}, key 'figure_kwargs': {exc}") from None
    try:
        getattr(fig, kind)(x=[0.0], y=[0.0], **glyph_kw)
    except Exception as exc:
        raise SchemaError(f"plot {plot!r}, key 'glyph_kwargs': {exc}") from None


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
    fig_kw = _mapping(name, "figure_kwargs", raw.get("figure_kwargs"))
    legend_kw = _mapping(name, "figure_kwargs.legend", fig_kw.pop("legend", None))
    glyph_kw = _mapping(name, "glyph_kwargs", raw.get("glyph_kwargs"))
    _check_bokeh_kwargs(name, kind, fig_kw, glyph_kw)
    if legend_kw:
        from bokeh.models.annotations import Legend

        try:
            Legend(**legend_kw)
        except Exception as exc:
            raise SchemaError(f"plot {name!r}, key 'figure_kwargs.legend': {exc}") from None
    color = _parse_color(name, _mapping(name, "color", raw.get("color")))
    return PlotSpec(
        name=name,
        name_pattern=pattern,
        glyph_kind=kind,
        x=columns[0],
        y=columns[1],
        filter_column=filter_column,
        color=color,
        figure_kwargs=fig_kw,
        legend_kwargs=legend_kw,
        glyph_kwargs=glyph_kw,
        filter_title=filter_opts.get("title"),
    )


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
        plots[name] = _parse_plot(name, _merge(defaults, _mapping(name, "(plot)", raw)))
    if not plots:
        raise SchemaError(f"{source}: the schema defines no plots")
    return Schema(plots=plots, source=source)


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Read and validate the YAML schema at ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError:
        raise SchemaError(f"schema file not found: {os.fspath(path)}") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{os.fspath(path)}: not valid YAML ({exc})") from None
    return parse_schema(doc, source=os.fspath(path))


def demo_schema_path() -> str:
    """Path of the demo schema shipped inside the package."""
    return str(importlib.resources.files("streamvis") / "schemas" / "demo.yaml")
