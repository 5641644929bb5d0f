"""Colour slots, palettes and ordinals."""

from __future__ import annotations

import bokeh.palettes as bp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.errors import InvalidArgumentError
from streamvis.web.colors import FORMULAS, ColorSpec, Ordinals, resolve_palette, slot_for


def test_resolve_palette_names_and_families():
    assert len(resolve_palette("Viridis10")) == 10
    assert len(resolve_palette("Category10_10")) == 10
    assert len(resolve_palette("Viridis")) == 256
    with pytest.raises(InvalidArgumentError, match="Viridis"):
        resolve_palette("NotAPalette")
    with pytest.raises(InvalidArgumentError):
        resolve_palette(3)


def test_formulas():
    kw = dict(scope_ord=2, name_ord=3, index=5, num_groups=7, num_indices=11)
    assert slot_for("name", **kw) == 3
    assert slot_for("index", **kw) == 5
    assert slot_for("name_index", **kw) == 3 * 7 + 5
    assert slot_for("index_name", **kw) == 5 * 11 + 3
    assert slot_for("scope", **kw) == 2
    assert slot_for("scope_name", **kw) == 2 * 7 + 3
    with pytest.raises(InvalidArgumentError):
        slot_for("nope", **kw)


def test_num_colors_interpolates_and_wraps():
    spec = ColorSpec.build(
        palette_name="Viridis256",
        palette=resolve_palette("Viridis256"),
        num_colors=4,
        formula="index",
    )
    assert spec.num_colors == 4 and spec.colors[0] == "#440154"
    assert spec.color(0, 0, 5) == spec.colors[1]
    small = ColorSpec.build(
        palette_name="Viridis3", palette=resolve_palette("Viridis3"), num_colors=9, formula="index"
    )
    assert small.num_colors == 9
    default = ColorSpec.build(
        palette_name="Dark2_8", palette=resolve_palette("Dark2_8"), num_colors=8, formula="name"
    )
    assert default.colors == resolve_palette("Dark2_8")


@given(st.lists(st.text(max_size=3), max_size=40))
def test_ordinals_are_first_appearance_and_stable(keys):
    ords = Ordinals()
    first: dict[str, int] = {}
    for k in keys:
        n = ords(k)
        first.setdefault(k, n)
        assert n == first[k]
    assert sorted(first.values()) == list(range(len(first)))
    assert len(ords) == len(first)


@given(
    st.sampled_from(FORMULAS),
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=30
    ),
    st.integers(1, 12),
)
def test_colours_never_shift_as_groups_appear(formula, groups, num_colors):
    """A glyph's colour depends only on groups seen before it, never on later ones."""
    spec = ColorSpec.build(
        palette_name="Turbo256",
        palette=resolve_palette("Turbo256"),
        num_colors=num_colors,
        formula=formula,
        num_groups=3,
        num_indices=2,
    )
    scopes, names = Ordinals(), Ordinals()
    seen = {}
    for s, n, i in groups:
        c = spec.color(scopes(f"s{s}"), names(f"n{n}"), i)
        seen.setdefault((s, n, i), c)
        assert seen[(s, n, i)] == c
    # replaying a prefix gives the same colours
    scopes2, names2 = Ordinals(), Ordinals()
    for s, n, i in groups[: len(groups) // 2]:
        assert spec.color(scopes2(f"s{s}"), names2(f"n{n}"), i) == seen[(s, n, i)]


def test_van_der_corput_spreads_and_never_repeats():
    from streamvis.web.colors import vdc

    assert [vdc(k) for k in range(8)] == [0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    assert len({vdc(k) for k in range(4096)}) == 4096


def test_without_a_color_section_every_run_gets_its_own_colour():
    # (issue 21 replaced "a colour per (scope, name, index) over Turbo256" by "a colour
    # per run, the same on every plot": the formula is now ``run``)
    from streamvis.web.plots.run_colors import RunColors
    from streamvis.web.schema import parse_schema

    spec = parse_schema({"loss": {"columns": ["x", "y"]}}).plot("loss")
    assert spec.color.formula == "run"
    colors = RunColors()
    colours = [colors.run(f"run{k}") for k in range(12)]
    assert len(set(colours)) == 12
    # a colour once given never changes: the k-th run's colour does not depend on later runs
    assert colors.run("run3") == colours[3]
    assert parse_schema({"loss": {"columns": ["x", "y"], "color": {"formula": "run"}}}).plot(
        "loss").color.formula == "run"


def _lab(color: str) -> np.ndarray:
    from streamvis.web.colors import _lab as lab

    return lab(np.array([[int(color[i : i + 2], 16) for i in (1, 3, 5)]]))[0]


def test_the_first_twenty_run_colours_are_far_apart_and_later_ones_never_repeat_early():
    from streamvis.web.colors import RUN_PALETTE, run_color

    first = [run_color(k) for k in range(20)]
    assert first == list(RUN_PALETTE) and len(set(first)) == 20
    labs = [_lab(c) for c in first]
    gaps = [float(np.linalg.norm(a - b)) for i, a in enumerate(labs) for b in labs[i + 1 :]]
    assert min(gaps) > 25  # CIELAB units: clearly different colours, not shades of one
    # grey means "no value" under color_by: no run colour is grey
    assert all(np.hypot(*lab[1:]) > 25 for lab in labs)
    more = [run_color(k) for k in range(200)]
    assert more[:20] == first and len(set(more)) == 200  # deterministic, no repeats
    labs = [_lab(c) for c in more[:40]]
    gaps = [float(np.linalg.norm(a - b)) for i, a in enumerate(labs) for b in labs[i + 1 :]]
    assert min(gaps) > 12  # the extension keeps its distance too
    assert [run_color(k) for k in range(200)] == more


def test_a_runs_groups_in_one_plot_keep_the_hue_and_differ_by_dash_or_shade():
    from streamvis.web.colors import variant

    base = "#1f77b4"
    lines = [variant(base, k, dashes=True) for k in range(8)]
    assert lines[0] == (base, "solid")
    assert [d for _, d in lines[:4]] == ["solid", "dashed", "dotted", "dashdot"]
    assert len(set(lines)) == 8
    points = [variant(base, k, dashes=False) for k in range(6)]
    assert len({c for c, _ in points}) == 6 and all(d == "solid" for _, d in points)
    hue = lambda c: float(np.degrees(np.arctan2(*_lab(c)[[2, 1]])))  # noqa: E731
    assert all(abs(hue(c) - hue(base)) < 20 for c, _ in points)  # lighter or darker, same hue


def test_color_by_is_one_rule_for_the_page_and_its_changes_reach_every_plot():
    from streamvis.web.plots.run_colors import RunColors

    values = {f"r{k}": 10 ** (-5 + k * 0.3) for k in range(15)}
    colors = RunColors(color_by="lr", run_value=lambda s, key: values.get(s))
    by = colors.by
    assert by is not None
    before = by.generation
    for s in values:
        by.observe(values[s])
    assert by.generation > before  # went continuous: plots recolour their lines
    assert colors.swatch("r0", "#000000") == by.color(values["r0"])
    plain = RunColors()
    assert plain.swatch("a", "#123456") == "#123456"  # no plot colours by run: the line's
    plain.run("b")
    assert plain.swatch("a", "#123456") == plain.run("a")


def test_color_by_values_keep_their_colours_past_ten_and_numbers_differ_from_strings():
    from streamvis.web.plots.color_by import ColorBy, category_color, value_label

    cb = ColorBy("opt")
    values = [f"v{k}" for k in range(25)]
    first = {}
    for v in values:
        cb.observe(v)
        first[v] = cb.color(v)
    assert all(cb.color(v) == first[v] for v in values)  # nothing moved as values came
    assert len({first[v] for v in values[:20]}) == 20  # 20 values, 20 colours
    assert [category_color(k) for k in range(10)] == list(bp.Category10[10])
    n = ColorBy("batch")
    for v in (32, "32", 32.0):
        n.observe(v)
    assert n.color(32) == n.color(32.0) != n.color("32")
    assert (value_label(32), value_label("32"), value_label("adam")) == ("32", "'32'", "adam")


def test_color_by_a_sweep_over_decades_spreads_along_the_logarithm():
    from streamvis.web.plots.color_by import ColorBy

    lrs = [10 ** (-5 + k * 4 / 11) for k in range(12)]  # 1e-5 .. 1e-1
    cb = ColorBy("lr")
    for v in lrs:
        cb.observe(v)
    assert cb.continuous and cb.log_scale
    palette = list(bp.Viridis256)
    spots = [palette.index(cb.color(v)) for v in lrs]
    steps = np.diff(spots)
    assert spots[0] == 0 and spots[-1] == 255 and steps.min() >= 22 and steps.max() <= 24
    narrow = ColorBy("lr")
    for v in [1e-4 * (k + 1) for k in range(12)]:  # one decade: linear
        narrow.observe(v)
    assert narrow.continuous and not narrow.log_scale
