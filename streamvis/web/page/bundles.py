"""Which BokehJS bundles a page loads.

Bokeh's server gives every page every bundle, MathJax's included, because it cannot
know what a document will come to hold. MathJax is 1.8 MB of a page's 3.9 MB of script,
parsed on every page load (~0.1 s). Text from the data is never typeset (``safe_html``:
titles and labels go as ``PlainText``), so only a schema can ask for TeX (an axis label
``$$\\alpha$$`` in its figure options): the pages load MathJax when the served schema
holds a TeX string, else BokehJS with its widgets, tables and WebGL bundles only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from bokeh.embed.util import contains_tex_string
from bokeh.resources import Resources
from bokeh.server.tornado import BokehTornado

from ..schema import Schema

__all__ = ["PAGE_COMPONENTS", "load_page_bundles", "needs_mathjax"]

PAGE_COMPONENTS = ("bokeh", "bokeh-gl", "bokeh-widgets", "bokeh-tables")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def needs_mathjax(schema: Schema) -> bool:
    """Whether a string of ``schema``'s plots (options, labels) holds TeX for Bokeh."""
    return any(contains_tex_string(s) for spec in schema.plots.values()
               for s in _strings(dataclasses.asdict(spec)))


def load_page_bundles(app: BokehTornado, *, mathjax: bool = False) -> None:
    """Make ``app``'s pages load ``PAGE_COMPONENTS`` (and MathJax's with ``mathjax``):
    its ``resources``, which the page handlers ask for each page, trimmed."""
    wanted = (*PAGE_COMPONENTS, "bokeh-mathjax") if mathjax else PAGE_COMPONENTS
    everything = app.resources

    def resources(absolute_url: Any = None) -> Resources:
        res = everything(absolute_url)
        return res.clone(components=[c for c in res.components if c in wanted])

    app.resources = resources  # type: ignore[method-assign]
