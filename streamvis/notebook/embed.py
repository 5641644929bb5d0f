"""The web app's page as a notebook output: built by ``make_document`` from ``show``'s
keywords, then fitted to a cell.

A page in a browser tab owns its window: it writes its address (``history.replaceState``),
reloads itself for ``x=`` and ``color_by=`` and for the WebGL probe, links to the other
pages of its server and copies its link. In a notebook output the window is the
notebook's, so none of that may happen: the address is not written, the controls
that reload are disabled (give ``x=``/``color_by=`` to ``show``), the links and "copy
link" are left out, and no probe runs (``webgl=auto`` draws on a canvas; ``webgl="on"``
for WebGL). The view has a fixed height (and a fixed width when one is given; else
the cell's width).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bokeh.document import Document
from bokeh.models import Model

from streamvis.web import safe_html
from streamvis.web.page.app import make_document
from streamvis.web.page.app_config import AppConfig

__all__ = ["build_view", "DEFAULT_HEIGHT"]

DEFAULT_HEIGHT = 600  # pixels: the page's header, runs panel and plots fit


def _named(doc: Document, name: str) -> Model | None:
    found = doc.select_one({"name": name})
    return found if isinstance(found, Model) else None


def _fit(doc: Document, cfg: AppConfig) -> None:
    """No address writes, reloads, links to other pages or copy link (module doc)."""
    url = _named(doc, "page:url")
    if url is not None:
        url.js_property_callbacks = {}
    for name in ("page:x", "runs:color_by"):
        select = _named(doc, name)
        if select is not None:
            select.js_property_callbacks = {}
            select.update(disabled=True)
    for name in ("page:copy", "page:link", "page:snapshot"):  # (no /snapshot in the kernel)
        widget = _named(doc, name)
        if widget is not None:
            widget.update(visible=False)
    title = _named(doc, "page:title")
    if title is not None:
        title.update(text=f"<b class='sv-log'>{safe_html.text(cfg.log_name)}</b>")


def _size(doc: Document, width: int | None, height: int | None) -> None:
    """The page's root at the view's size (it stretches over a window otherwise)."""
    for root in doc.roots:
        if width is not None:
            root.update(sizing_mode="fixed", width=width, height=height or DEFAULT_HEIGHT)
        else:
            root.update(sizing_mode="stretch_width", height=height or DEFAULT_HEIGHT)


def build_view(doc: Document, cfg: AppConfig, args: Mapping[str, Sequence[str]], *,
               width: int | None = None, height: int | None = None) -> None:
    """Fill ``doc`` with the page of ``args`` as a notebook shows it."""
    make_document(doc, cfg, args=args)
    with doc.models.freeze():
        _fit(doc, cfg)
        _size(doc, width, height)
