"""``group=``, ``agg=``, ``band=`` and ``x=NAME`` in the address and in a schema: parsed,
defaulted, and refused with one line naming the value and the choices."""

from __future__ import annotations

import pytest

from streamvis.web.address.layout import LayoutError, parse_layout
from streamvis.web.schema import SchemaError, parse_schema
from streamvis.web.x_modes import parse_x, x_name_of

SCHEMA = parse_schema({"loss": {"name_pattern": "^loss$", "columns": ["x", "y"]}})


def _lay(query: str):  # type: ignore[no-untyped-def]
    args: dict[str, list[str]] = {}
    for part in query.split("&"):
        k, v = part.split("=", 1)
        args.setdefault(k, []).append(v)
    return parse_layout(args, SCHEMA)


def test_group_agg_band_and_their_defaults() -> None:
    lay = _lay("rows=loss&group=-seed")
    assert (lay.group_by, lay.agg, lay.band) == ("-seed", "mean", "minmax")
    lay = _lay("rows=loss&group=lr,opt&agg=median&band=stderr")
    assert (lay.group_by, lay.agg, lay.band) == ("lr,opt", "median", "stderr")
    assert _lay("rows=loss").group_by is None


@pytest.mark.parametrize("query,words", [
    ("rows=loss&group=lr&agg=avg", ["agg='avg'", "mean, median, min, max"]),
    ("rows=loss&band=wide", ["band='wide'", "minmax, std, stderr, none"]),
    ("rows=loss&group=lr,-seed", ["mixes keys and -keys"]),
    ("rows=loss&group=", ["group=''"]),
    ("rows=loss&x=name:", ["x=", "step, wall, relative"]),
])
def test_bad_values_are_one_line_naming_them(query: str, words: list[str]) -> None:
    with pytest.raises(LayoutError) as e:
        _lay(query)
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_x_modes_and_names() -> None:
    assert [_lay(f"rows=loss&x={x}").x_mode for x in ("step", "wall", "tokens", "name:wall")] == [
        "step", "wall", "name:tokens", "name:wall"]
    assert [x_name_of(m) for m in ("step", "name:tokens", "name:wall", None)] == [None, "tokens", "wall", None]
    assert parse_x(" samples ", "x") == "name:samples"


def test_schema_keys() -> None:
    spec = parse_schema({"p": {"name_pattern": "^a$", "columns": ["x", "y"], "x": "tokens",
                               "group": ["lr", "opt"], "agg": "max", "band": "none"}}).plot("p")
    assert (spec.x_mode, spec.group, spec.agg, spec.band) == ("name:tokens", "lr,opt", "max", "none")
    with pytest.raises(SchemaError, match=r"plot 'p': band='wide' is not one of minmax"):
        parse_schema({"p": {"columns": ["x", "y"], "band": "wide"}})
