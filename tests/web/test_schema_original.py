"""The original streamvis's schema forms: nested figure_kwargs, color.key_fun,
filter_opts, glyph_kwargs.radius, names= per plot, and older keys named."""

from __future__ import annotations

import copy
import itertools
import warnings
from pathlib import Path

import pytest
from bokeh.plotting import figure
from bokeh.util.warnings import BokehDeprecationWarning

from streamvis.web.address.layout import parse_layout
from streamvis.web.figure_kwargs import apply_submodels, split_figure_kwargs
from streamvis.web.schema import SchemaError, color_key, load_schema, parse_key_fun, parse_schema

ORIGINAL = Path(__file__).resolve().parent / "data" / "original_demo.yaml"
BASE = {"DEFAULTS": {"columns": ["x", "y"]}, "loss": {"name_pattern": "loss"}}


def parse(doc):
    return parse_schema(copy.deepcopy(doc), source="test.yaml")


def test_original_demo_schema_loads_with_its_nested_figure_kwargs():
    schema = load_schema(ORIGINAL)
    assert list(schema.plots) == ["loss", "filtered-lines", "filtered-scatter"]
    loss = schema.plot("loss")
    # DEFAULTS' styles merged key by key under the plot's own text and labels
    assert loss.figure_submodels == {
        "title": {"text_font_size": "24px", "text": "Loss"},
        "xaxis": {
            "axis_label_text_font_size": "24px",
            "major_label_text_font_size": "24px",
            "axis_label": "SGD Step",
        },
        "yaxis": {
            "axis_label_text_font_size": "24px",
            "major_label_text_font_size": "24px",
            "axis_label": "Nats",
        },
    }
    assert loss.figure_kwargs == {}  # nothing of it goes to figure(...) itself
    assert loss.key_fun == "sni" and loss.color.palette_name == "Turbo256"
    assert schema.plot("filtered-lines").color.palette_name == "Set1_9"  # from DEFAULTS
    lines, scatter = schema.plot("filtered-lines"), schema.plot("filtered-scatter")
    assert lines.filter_column == "t" and lines.glyph_method == "line"
    assert scatter.filter_column == "t" and scatter.columns == ("x", "y", "t")
    assert scatter.glyph_method == "circle" and scatter.glyph_kwargs == {"radius": 0.001}


@pytest.mark.parametrize("axes", [{}, {"x_axis_type": "log", "y_axis_type": "log"}])
def test_apply_submodels_styles_a_real_figure(axes):
    spec = load_schema(ORIGINAL).plot("loss")
    fig = figure(title=spec.name, **axes, **spec.figure_kwargs)
    apply_submodels(fig, spec.figure_submodels)
    assert fig.title.text == "Loss" and fig.title.text_font_size == "24px"
    assert [a.axis_label for a in fig.xaxis] == ["SGD Step"]
    assert [a.axis_label for a in fig.yaxis] == ["Nats"]
    for axis in [*fig.xaxis, *fig.yaxis]:
        assert axis.major_label_text_font_size == "24px"
        assert axis.axis_label_text_font_size == "24px"


def test_apply_submodels_every_axis_grids_and_a_missing_title():
    fig = figure(title=None)
    from bokeh.models import LinearAxis

    fig.add_layout(LinearAxis(), "above")  # a second x axis
    apply_submodels(
        fig,
        {
            "title": {"text": "T", "align": "center"},
            "xaxis": {"axis_label": "step"},
            "ygrid": {"grid_line_alpha": 0.25},
        },
    )
    assert fig.title.text == "T" and fig.title.align == "center"
    assert [a.axis_label for a in fig.xaxis] == ["step", "step"]
    assert [g.grid_line_alpha for g in fig.ygrid] == [0.25]


def test_split_keeps_plain_title_and_figure_properties():
    split = split_figure_kwargs(
        {"title": "Loss", "x_axis_label": "step", "legend": {"location": "top_left"}}
    )
    assert split.figure == {"title": "Loss", "x_axis_label": "step"}
    assert split.legend == {"location": "top_left"} and split.submodels == {}


def test_title_string_keeps_the_defaults_title_style():
    doc = {
        "DEFAULTS": {"columns": ["x", "y"], "figure_kwargs": {"title": {"text_font_size": "20px"}}},
        "loss": {"figure_kwargs": {"title": "Loss"}},
    }
    spec = parse(doc).plot("loss")
    assert spec.figure_submodels["title"] == {"text_font_size": "20px", "text": "Loss"}


@pytest.mark.parametrize(
    "fig_kw, words",
    [
        ({"xaxis": "SGD Step"}, ["'loss'", "figure_kwargs.xaxis", "mapping", "every x axis"]),
        ({"yaxis": {"axis_lable": "Nats"}}, ["'loss'", "figure_kwargs.yaxis", "axis_lable"]),
        ({"title": {"txt": "Loss"}}, ["'loss'", "figure_kwargs.title", "txt"]),
        ({"title": {"text_font_size": 24}}, ["'loss'", "figure_kwargs.title", "text_font_size"]),
        ({"legend": "top"}, ["'loss'", "figure_kwargs.legend", "mapping"]),
        ({"x_axis": {"axis_label": "s"}}, ["'loss'", "figure_kwargs", "x_axis"]),
    ],
)
def test_bad_nested_figure_kwargs_name_the_sub_model(fig_kw, words):
    doc = copy.deepcopy(BASE)
    doc["loss"]["figure_kwargs"] = fig_kw
    with pytest.raises(SchemaError) as info:
        parse(doc)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


KEY_FUNS = ["".join(p) for n in (1, 2, 3) for p in itertools.permutations("sni", n)]


@pytest.mark.parametrize("key_fun", KEY_FUNS)
def test_every_key_fun_parses_and_orders_the_ordinals(key_fun):
    doc = copy.deepcopy(BASE)
    doc["loss"]["color"] = {"key_fun": key_fun, "palette": "Set1_9"}
    assert parse(doc).plot("loss").key_fun == key_fun
    ords = {"s": 7, "n": 3, "i": 1}
    assert color_key(key_fun, scope_ord=7, name_ord=3, index=1) == tuple(ords[c] for c in key_fun)


def test_color_key_examples():
    assert color_key("sni", 0, 1, 2) == (0, 1, 2)
    assert color_key("is", 2, 5, 1) == (1, 2)
    assert color_key("n", 2, 5, 1) == (5,)


@pytest.mark.parametrize("bad", ["", "snn", "snix", "x", "SNI", 3, None, ["s", "n"]])
def test_bad_key_fun_says_what_is_allowed(bad):
    doc = copy.deepcopy(BASE)
    doc["loss"]["color"] = {"key_fun": bad}
    with pytest.raises(SchemaError) as info:
        parse(doc) if bad is not None else parse_key_fun(bad)
    msg = str(info.value)
    assert "key_fun" in msg and "s (scope)" in msg and "i (index)" in msg, msg


def test_key_fun_and_formula_one_or_the_other():
    doc = copy.deepcopy(BASE)
    doc["loss"]["color"] = {"key_fun": "ni", "formula": "name"}
    with pytest.raises(SchemaError, match="formula.*key_fun|key_fun.*formula"):
        parse(doc)
    # a plot's own choice replaces the DEFAULTS' other one
    doc = copy.deepcopy(BASE)
    doc["DEFAULTS"]["color"] = {"key_fun": "sni", "palette": "Set1_9"}
    doc["loss"]["color"] = {"formula": "index"}
    spec = parse(doc).plot("loss")
    assert spec.key_fun is None and spec.color.formula == "index"
    assert spec.color.palette_name == "Set1_9"
    doc = copy.deepcopy(BASE)
    doc["DEFAULTS"]["color"] = {"formula": "index"}
    doc["loss"]["color"] = {"key_fun": "is"}
    assert parse(doc).plot("loss").key_fun == "is"


def test_radius_scatter_draws_without_a_deprecation_warning():
    spec = load_schema(ORIGINAL).plot("filtered-scatter")
    fig = figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error", BokehDeprecationWarning)
        r = getattr(fig, spec.glyph_method)(x=[0.0], y=[0.0], color="red", **spec.glyph_kwargs)
    assert type(r.glyph).__name__ == "Circle" and r.glyph.radius == 0.001
    with warnings.catch_warnings(record=True) as seen:  # what plots.py did before
        warnings.simplefilter("always")
        figure().scatter(x=[0.0], y=[0.0], **spec.glyph_kwargs)
    assert any(issubclass(w.category, BokehDeprecationWarning) for w in seen)


def test_sized_scatter_stays_scatter():
    doc = {"c": {"columns": ["x", "y"], "glyph_kind": "scatter", "glyph_kwargs": {"size": 4}}}
    assert parse(doc).plot("c").glyph_method == "scatter"


@pytest.mark.parametrize(
    "key, replaced_by",
    [
        ("scope_pattern", "scopes="),
        ("group_pattern", "'name_pattern'"),
        ("glyph", "'glyph_kind'"),
    ],
)
@pytest.mark.parametrize("where", ["loss", "DEFAULTS"])
def test_older_keys_name_their_replacement(key, replaced_by, where):
    doc = copy.deepcopy(BASE)
    doc[where][key] = "line" if key == "glyph" else ".*"
    with pytest.raises(SchemaError) as info:
        parse(doc)
    msg = str(info.value)
    assert repr(key) in msg and "older" in msg and replaced_by in msg, msg


def test_original_schema_takes_names_from_the_url_once_per_plot():
    schema = load_schema(ORIGINAL)
    args = {
        "rows": ["loss;filtered-lines,filtered-scatter"],
        "names": ["^loss$", "^lines$", "^belief$"],
    }
    layout = parse_layout(args, schema)
    assert [c.names for c in layout.cells] == ["^loss$", "^lines$", "^belief$"]
    assert [c.plot for c in layout.cells] == ["loss", "filtered-lines", "filtered-scatter"]


def test_key_fun_colours_are_distinct_per_key_and_shared_within_one():
    """key_fun selects the "key" formula: the k-th distinct key gets the k-th spread
    colour. With "sni" the original's three lines differ; with "ni" two runs' same
    (name, index) share one."""
    from streamvis.web.colors import Ordinals

    loss = load_schema(ORIGINAL).plot("loss")
    assert loss.color.formula == "key"

    def colours(spec, groups):
        ords, s_ords, n_ords = Ordinals(), Ordinals(), Ordinals()
        out = []
        for scope, name, index in groups:
            s, n = s_ords(scope), n_ords(name)
            key = color_key(spec.key_fun, s, n, index)
            out.append(spec.color.color(s, n, index, ords(key)))
        return out

    three = colours(loss, [("run1", "top", 0), ("run1", "top", 1), ("run1", "top", 2)])
    assert len(set(three)) == 3, three
    doc = copy.deepcopy(BASE)
    doc["loss"]["color"] = {"key_fun": "ni", "palette": "Turbo256"}
    ni = parse(doc).plot("loss")
    got = colours(ni, [("a", "loss", 0), ("a", "loss", 1), ("b", "loss", 0), ("b", "loss", 1)])
    assert got[0] == got[2] and got[1] == got[3] and got[0] != got[1]
