"""The Bokeh application: a document per browser tab, built from the URL."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import re2
from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.models import Column, Row

from streamvis.errors import InvalidArgumentError

from ..address.layout import Layout, parse_layout
from ..hparams import make_hparams_document
from ..schema import MEDIA_GLYPHS, PlotSpec, media_plot
from .app_config import AppConfig
from .auth import TOKEN_PARAM
from .catalog import build_cards, specs_of
from .header import Header
from .index_page import index_root
from .index_summaries import fill_summaries
from .index_times import fill_last_updates
from .media_plots import MediaPlots
from .names_page import NamesPage, media_names, name_columns
from .pages import error_page, grid
from .session import LiveSession
from .webgl import probe_js, use_webgl

__all__ = ["make_document", "make_applications", "request_args", "request_cookies"]


def request_args(doc: Document) -> dict[str, list[str]]:
    """The page's query arguments, decoded, without Bokeh's own and without a web
    token (web/auth.py redirects it away when one is required; ignored otherwise)."""
    ctx = doc.session_context
    request = getattr(ctx, "request", None)
    raw: Mapping[str, Sequence[bytes]] = request.arguments if request is not None else {}
    return {
        k: [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vs]
        for k, vs in raw.items()
        if not k.startswith("bokeh-") and k != TOKEN_PARAM
    }


def request_cookies(doc: Document) -> dict[str, str]:
    """The page request's cookies (empty when there is no request, as in tests)."""
    request = getattr(doc.session_context, "request", None)
    cookies = getattr(request, "cookies", None) or {}
    return {str(k): str(v) for k, v in dict(cookies).items()}


def _specs(cfg: AppConfig, layout: Layout) -> list[PlotSpec]:
    """The plot of each of the layout's cells: the schema's, or without a schema the
    plot of each name ``rows=``/``cols=`` names (an image or text name: its cards)."""
    if cfg.schema.plots:
        return [cfg.schema.plot(c.plot) for c in layout.cells]
    try:
        columns = name_columns(cfg.source, layout.scopes, only=set(layout.plots))
    except Exception:  # the source is down: lines, until the data says otherwise
        columns = {}
    media = {} if columns.keys() >= set(layout.plots) else {
        i.name: i.kind for i in media_names(cfg.source, layout.scopes)}
    out = []
    for name in layout.plots:
        if name not in columns and name in media:
            out.append(media_plot(name, media[name], f"^{re2.escape(name)}$"))
            continue
        card = build_cards({name: columns.get(name, ["x", "y"])})[0]
        out.append(specs_of(card, scrolls=False)[0])
    return out


def make_document(doc: Document, cfg: AppConfig, *, index: bool = False,
                  args: Mapping[str, Sequence[str]] | None = None) -> None:
    """Fill ``doc``: the index page, an error page, the page of every name, or the live
    plots of a layout. ``args``: the page's parameters (default: the request's query,
    ``request_args``), as a notebook's view gives them without a request."""
    doc.title = "streamvis"
    args = request_args(doc) if args is None else {k: list(v) for k, v in args.items()}
    if index:
        page = index_root(cfg.source, cfg.schema, args=args)
        doc.add_root(page.root)
        fill_last_updates(doc, cfg, page.table, page.groups)
        fill_summaries(doc, cfg, page.table, page.summary)
        return
    try:
        layout = parse_layout(args, cfg.schema)
    except InvalidArgumentError as exc:
        doc.add_root(error_page(str(exc), cfg.schema))
        return
    webgl, probe = use_webgl(layout.webgl or cfg.webgl, request_cookies(doc))
    names = None
    specs = [] if layout.mode == "names" else _specs(cfg, layout)
    media = {k for k, spec in enumerate(specs) if spec.glyph_kind in MEDIA_GLYPHS}
    with doc.models.freeze():
        # the session draws the figures; the image and text plots are MediaPlots' cards
        plot_layout = dataclasses.replace(layout, cells=tuple(
            c for k, c in enumerate(layout.cells) if k not in media))
        session = LiveSession(doc, cfg, plot_layout, webgl=webgl, args=args,
                              specs=None if layout.mode == "names" else
                              [s for k, s in enumerate(specs) if k not in media])
        header = Header(title=cfg.log_name, smoothing=layout.smoothing, x_mode=layout.x_mode,
                        page_url=session.page_url, on_smoothing=session.set_smoothing)
        session.on_zoom = header.zoomed
        if layout.mode == "names":
            try:
                columns = name_columns(cfg.source, layout.scopes)
            except Exception:  # the source is down: the banner says so; cards come later
                columns = {}
            names = NamesPage(session, layout.name_filter, columns,
                              media_names(cfg.source, layout.scopes))
            side = Column(children=[header.root, session.panel.runs_panel.root],
                          sizing_mode="stretch_height")
            body = Row(children=[side, names.root], sizing_mode="stretch_both")
        else:
            cards = MediaPlots(session, [(layout.cells[k], specs[k]) for k in sorted(media)])
            figures, boards = iter(v.root for v in session.views), iter(cards.roots)
            plots = grid(layout, [next(boards) if k in media else next(figures)  # type: ignore[misc]
                                  for k in range(len(layout.cells))])
            side = Column(children=[header.root, session.panel.runs_panel.root],
                          sizing_mode="stretch_height")
            body = Row(children=[side, plots], sizing_mode="stretch_both")
        # the address's source rides on the root's tags: in the document, never drawn
        doc.add_root(Column(children=[session.banner, body],
                            tags=[session.page_url.source], sizing_mode="stretch_both"))
    doc.js_on_event("document_ready", session.panel.runs_panel.tick_click)
    if names is not None:
        doc.js_on_event("document_ready", names.lazy_js)
    if probe:
        doc.js_on_event("document_ready", probe_js())
    doc.on_session_destroyed(lambda _ctx: session.close())
    session.tick()


def make_applications(cfg: AppConfig) -> dict[str, Application]:
    """``/`` (plots of a layout, or every name without ``rows=``/``cols=``) and ``/index``."""
    return {
        "/": Application(FunctionHandler(lambda doc: make_document(doc, cfg))),
        "/index": Application(FunctionHandler(lambda doc: make_document(doc, cfg, index=True))),
        "/hparams": Application(FunctionHandler(lambda doc: make_hparams_document(doc, cfg, request_args(doc)))),
    }
