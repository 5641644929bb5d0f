"""``models_batched``: Bokeh's walk over every model happens at the end of a batch only
when models came or went, and then every new model is in the document (real Bokeh
documents; the walk is counted on the document's model manager)."""

from __future__ import annotations

from typing import Any

from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div
from bokeh.plotting import figure

from streamvis.web.page.model_batch import models_batched


def _counted(doc: Document) -> list[int]:
    walks = [0]
    original = doc.models.recompute

    def recompute() -> None:
        walks[0] += 1
        original()

    doc.models.recompute = recompute  # type: ignore[method-assign]
    return walks


def _doc() -> tuple[Document, Any, ColumnDataSource]:
    doc = Document()
    src = ColumnDataSource({"x": [1, 2], "y": [3, 4]})
    fig = figure()
    fig.line("x", "y", source=src)
    doc.add_root(fig)
    return doc, fig, src


def test_new_points_only_skip_the_walk() -> None:
    doc, _fig, src = _doc()
    walks = _counted(doc)
    with models_batched(doc):
        src.stream({"x": [3], "y": [5]})
        src.data = {"x": [1.0], "y": [2.0]}  # plain values: no model referenced
    assert walks[0] == 0
    with doc.models.freeze():  # (Bokeh's own walks whatever happened)
        src.stream({"x": [4], "y": [6]})
    assert walks[0] == 1


def test_models_and_roots_added_inside_are_in_the_document_after() -> None:
    doc, fig, _src = _doc()
    walks = _counted(doc)
    src2 = ColumnDataSource({"x": [0], "y": [0]})
    with models_batched(doc):
        r = fig.scatter("x", "y", source=src2)  # a new renderer and its source
        assert walks[0] == 0  # deferred to the end
    assert walks[0] == 1
    assert doc.get_model_by_id(r.id) is r and doc.get_model_by_id(src2.id) is src2
    div = Div(text="x")
    with models_batched(doc):
        doc.add_root(div)  # add_root's own freeze nested inside
    assert doc.get_model_by_id(div.id) is div and walks[0] == 2


def test_nested_batches_walk_once_at_the_outer_end() -> None:
    doc, fig, _src = _doc()
    walks = _counted(doc)
    src2 = ColumnDataSource({"x": [0], "y": [0]})
    with models_batched(doc):
        with models_batched(doc):
            r = fig.scatter("x", "y", source=src2)
        assert walks[0] == 0
    assert walks[0] == 1 and doc.get_model_by_id(r.id) is r
    assert doc.models._freeze_count == 0 and "invalidate" not in doc.models.__dict__
