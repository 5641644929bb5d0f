"""Schema loading and validation: DEFAULTS merge, unknown keys, palettes, regexes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from streamvis.errors import InvalidArgumentError
from streamvis.web.schema import SchemaError, demo_schema_path, load_schema, parse_schema

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "DEFAULTS": {"columns": ["x", "y"], "color": {"palette": "Viridis10"}},
    "loss": {"name_pattern": "loss", "figure_kwargs": {"title": "Loss"}},
}


def parse(doc):
    return parse_schema(copy.deepcopy(doc), source="test.yaml")


def test_demo_schema_loads_and_has_the_demo_plots():
    schema = load_schema(ROOT / "streamvis" / "schemas" / "demo.yaml")
    assert list(schema.plots) == ["loss", "lr", "weights", "cloud"]
    cloud = schema.plot("cloud")
    assert cloud.glyph_kind == "scatter" and cloud.filter_column == "t"
    assert cloud.columns == ("x", "y", "t")
    assert schema.plot("loss").legend_kwargs["click_policy"] == "hide"


def test_packaged_demo_schema_is_the_repo_copy():
    assert Path(demo_schema_path()).resolve() == (ROOT / "streamvis" / "schemas" / "demo.yaml").resolve()


def test_defaults_merge_nested_and_plot_wins():
    doc = copy.deepcopy(BASE)
    doc["loss"]["color"] = {"num_colors": 3}
    s = parse(doc).plot("loss")
    assert s.color.palette_name == "Viridis10" and s.color.num_colors == 3
    assert s.x == "x" and s.y == "y" and s.filter_column is None
    assert s.figure_kwargs == {"title": "Loss"}
    assert s.glyph_kind == "line"


def test_name_pattern_defaults_to_plot_name():
    assert parse({"acc": {"columns": ["x", "y"]}}).plot("acc").name_pattern == "acc"


@pytest.mark.parametrize(
    "mutate, words",
    [
        (
            lambda d: d["loss"].update(colour={}),
            ["'loss'", "'colour'", "name_pattern", "filter_opts"],
        ),
        (
            lambda d: d["loss"].update(color={"palette": "Nope7"}),
            ["'loss'", "color.palette", "Viridis"],
        ),
        (
            lambda d: d["loss"].update(color={"pallete": "Viridis3"}),
            ["'loss'", "pallete", "palette"],
        ),
        (
            lambda d: d["loss"].update(color={"formula": "nameindex"}),
            ["'loss'", "color.formula", "name_index", "scope_name"],
        ),
        (lambda d: d["loss"].update(color={"num_colors": 0}), ["'loss'", "num_colors", "positive"]),
        (
            lambda d: d["loss"].update(name_pattern="(unclosed"),
            ["'loss'", "name_pattern", "(unclosed"],
        ),
        (lambda d: d["loss"].update(glyph_kind="bar"), ["'loss'", "glyph_kind", "line", "scatter"]),
        (lambda d: d["DEFAULTS"].pop("columns"), ["'loss'", "columns", "[x, y]"]),
        (lambda d: d["loss"].update(columns=["x"]), ["'loss'", "columns"]),
        (
            lambda d: d["loss"].update(figure_kwargs={"titel": "x"}),
            ["'loss'", "figure_kwargs", "titel"],
        ),
        (
            lambda d: d["loss"].update(glyph_kwargs={"line_widht": 2}),
            ["'loss'", "glyph_kwargs", "line_widht"],
        ),
        (
            lambda d: d["loss"].update(filter_opts={"col": "t"}),
            ["'loss'", "filter_opts.", "column"],
        ),
        (
            lambda d: d["loss"].update(columns=["x", "y", "t"], filter_opts={"column": "s"}),
            ["'loss'", "filter_opts.column", "'t'"],
        ),
        (
            lambda d: d["loss"].update(figure_kwargs={"legend": {"clik_policy": "hide"}}),
            ["'loss'", "legend", "clik_policy"],
        ),
        (lambda d: d["DEFAULTS"].update(bogus=1), ["DEFAULTS", "bogus"]),
    ],
)
def test_bad_schema_names_plot_key_and_allowed(mutate, words):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    with pytest.raises(SchemaError) as info:
        parse(doc)
    msg = str(info.value)
    for w in words:
        assert w in msg, (w, msg)
    assert isinstance(info.value, InvalidArgumentError)


def test_filter_column_from_filter_opts_alone():
    doc = {"c": {"columns": ["x", "y"], "glyph_kind": "scatter", "filter_opts": {"column": "t"}}}
    assert parse(doc).plot("c").columns == ("x", "y", "t")


def test_unknown_plot_lists_plots():
    with pytest.raises(SchemaError, match="loss"):
        parse(BASE).plot("nope")


def test_load_errors(tmp_path):
    with pytest.raises(SchemaError, match="not found"):
        load_schema(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(SchemaError, match="YAML"):
        load_schema(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(SchemaError, match="mapping"):
        load_schema(empty)
    only_defaults = tmp_path / "d.yaml"
    only_defaults.write_text(yaml.safe_dump({"DEFAULTS": {"columns": ["x", "y"]}}))
    with pytest.raises(SchemaError, match="no plots"):
        load_schema(only_defaults)


def test_plot_name_with_separator_rejected():
    with pytest.raises(SchemaError, match="without"):
        parse({"a,b": {"columns": ["x", "y"]}})


def test_a_plot_may_set_its_own_smoothing():
    """Issue 21: the page's smoothing= sets every plot unless its schema entry says its own."""
    from streamvis.web.schema import SchemaError, parse_schema

    schema = parse_schema({"a": {"columns": ["x", "y"], "smoothing": 0.9}, "b": {"columns": ["x", "y"]}})
    assert schema.plot("a").smoothing == 0.9 and schema.plot("b").smoothing is None
    with pytest.raises(SchemaError, match="'smoothing'.*\\[0, 1\\).*1.5"):
        parse_schema({"a": {"columns": ["x", "y"], "smoothing": 1.5}})


def test_image_and_text_plots_take_a_pattern_and_nothing_else():
    schema = parse_schema({"DEFAULTS": {"columns": ["x", "y"], "glyph_kwargs": {"line_width": 2}},
                           "pics": {"glyph_kind": "image", "name_pattern": "^samples"},
                           "notes": {"glyph_kind": "text"}})
    assert schema.plot("pics").glyph_kind == "image"
    assert schema.plot("pics").name_pattern == "^samples"
    assert schema.plot("notes").name_pattern == "notes"  # the plot's name, as for lines
    with pytest.raises(SchemaError, match=r"plot 'pics', key 'columns': a plot of glyph_kind image takes only name_pattern, glyph_kind"):
        parse_schema({"pics": {"glyph_kind": "image", "columns": ["x", "y"]}})
    with pytest.raises(SchemaError, match=r"'glyph_kind': 'picture' is not one of line, scatter, image, text"):
        parse_schema({"pics": {"glyph_kind": "picture", "columns": ["x", "y"]}})
