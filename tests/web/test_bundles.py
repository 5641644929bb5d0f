"""The pages load MathJax only for a schema that asks for TeX (web/page/bundles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamvis.web.page.bundles import needs_mathjax
from streamvis.web.schema import load_schema, parse_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "streamvis" / "schemas"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.yaml")), ids=lambda p: p.name)
def test_the_shipped_schemas_need_no_mathjax(path: Path) -> None:
    assert not needs_mathjax(load_schema(path))


@pytest.mark.parametrize("options", [
    {"xaxis": {"axis_label": r"$$\alpha$$"}},
    {"title": {"text": r"loss \(t\)"}},
    {"y_axis_label": r"\[\beta\]"},
])
def test_a_schema_with_tex_in_its_options_needs_mathjax(options: dict) -> None:
    doc = {"loss": {"name_pattern": "^loss$", "columns": ["x", "y"], "figure_kwargs": options}}
    assert needs_mathjax(parse_schema(yaml.safe_load(yaml.safe_dump(doc))))
    del doc["loss"]["figure_kwargs"]
    assert not needs_mathjax(parse_schema(doc))
