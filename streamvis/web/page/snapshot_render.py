"""A page's view as one self-contained HTML file (BokehJS inline), built by the live page's
own code: ``make_document`` and ``LiveSession`` on a document that no browser holds.

``render_snapshot`` runs on a Tornado loop (the web server's, or a private one:
``snapshot.snapshot_html``). It builds the page's document for the address's arguments
and starts its session (a Bokeh ``ServerSession`` without connections, registered
nowhere, so the server's unused-session sweep never discards it), gives each plot the
width in pixels it would have on a ``width`` x ``height`` screen (the layout's weights,
less the runs panel: what the browser reports as ``inner_width`` on the live page), and
waits until the session has settled: the first read applied, plots joined, no re-read or
group computation in flight or pending (with the address's ``zoom=``, the zoomed window
read, as the live page reads it when the browser reports its ranges). Lines are held as
the live page holds them (decimated min/max to twice the plot's width), never the raw
log. Then the session is closed, the controls that need the server are hidden (every
widget with a Python callback, every input and slider, but the runs table: smoothing and
filter sliders, the runs panel's search, filter, colour and buttons; an input whose JS
reloads the page with a new address would reload the file), the header is replaced by a note of what the file
shows (log, address, size, time; text, never markup), and the document is written with
``file_html(..., resources=INLINE)`` in a worker thread. Zoom, pan, hover, the legend
and the runs table's sorting still work offline, within what the file holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bokeh.document import Document
from bokeh.embed import file_html
from bokeh.models import Column, ColumnDataSource, CustomJS
from bokeh.models.renderers import GlyphRenderer
from bokeh.models.ui import Pane
from bokeh.models.widgets import AbstractSlider, Div, InputWidget, TableWidget, Widget
from bokeh.resources import INLINE
from bokeh.server.contexts import BokehSessionContext, _RequestProxy
from bokeh.server.session import ServerSession
from bokeh.util.token import generate_session_id
from tornado.ioloop import IOLoop

from streamvis.errors import InvalidArgumentError, UnavailableError

from .. import safe_html
from ..address.layout import Layout, parse_layout
from ..plots.group_view import GroupedPlotView
from ..runs.runs_panel import PANEL_WIDTH
from .app import make_document
from .app_config import AppConfig
from .session import LiveSession
from .webgl import COOKIE as WEBGL_COOKIE

__all__ = [
    "render_snapshot",
    "GENERATOR",
    "MARK",
    "DEFAULT_WIDTH",
    "DEFAULT_HEIGHT",
    "plot_widths",
    "check_size",
]

log = logging.getLogger("streamvis.web")
GENERATOR = "streamvis snapshot"
MARK = f'<meta name="generator" content="{GENERATOR}">'  # what marks a file ours
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1400, 900
CELL_MARGIN = 70  # px of a plot's box outside its drawing area (axis, padding)
CARD_MIN, CARD_GAP = 360, 10  # the page of every name: its grid's columns (names_page)
SETTLE_POLL_S = 0.02
MAX_SIDE = 20_000


def check_size(width: int, height: int) -> None:
    """A screen size a snapshot can be taken at (200 to 20,000 pixels each way)."""
    for what, value in (("width", width), ("height", height)):
        if not 200 <= value <= MAX_SIDE:
            raise InvalidArgumentError(
                f"snapshot {what} {value}: give a number of pixels from 200 to {MAX_SIDE}")


def plot_widths(layout: Layout, width: int) -> list[int]:
    """Each cell's drawing width on a screen ``width`` pixels wide, as the browser would
    report it (the runs panel beside the plots; the layout's width weights)."""
    area = max(100, width - PANEL_WIDTH)
    return [max(50, int(c.width * area) - CELL_MARGIN) for c in layout.cells]


def _card_width(width: int) -> int:
    area = max(CARD_MIN, width - PANEL_WIDTH - 20)
    cols = max(1, (area + CARD_GAP) // (CARD_MIN + CARD_GAP))
    return max(50, (area - (cols - 1) * CARD_GAP) // cols - CELL_MARGIN)


class _Request:
    """What Bokeh's session context reads of a request: the page's arguments; the
    canvas backend chosen (no WebGL probe: it would reload the file)."""

    def __init__(self, args: Mapping[str, Sequence[str]]) -> None:
        self.arguments = {k: [str(v).encode() for v in vs] for k, vs in args.items()}
        self.cookies = {WEBGL_COOKIE: "sw"}
        self.headers: dict[str, str] = {}


def _settled(live: LiveSession) -> bool:
    """Whether the session has read what it shows and has nothing in flight."""
    if live.cursor is None or live._busy or live._joining or live.rounds.busy or live.rounds.pending:
        return False
    for v in live.views:
        if isinstance(v, GroupedPlotView) and (v.busy or (v.names and (v.dirty or v.computed is None))):
            return False
    return True


class _Failures:
    """The source's failures the session reports (its banner's), kept for the snapshot:
    it fails at once where the live page would retry."""

    def __init__(self, live: LiveSession) -> None:
        self.first: BaseException | None = None
        self._banner = live._source_down
        live._source_down = self  # (the session and its parts call it by this name)

    def __call__(self, exc: BaseException | None) -> None:
        if exc is not None and self.first is None:
            self.first = exc
        self._banner(exc)


async def _settle(live: LiveSession, failures: _Failures, deadline: float, what: str) -> None:
    while not _settled(live):
        if failures.first is not None:
            raise UnavailableError(f"the snapshot could not read the data: "
                                   f"{' '.join(str(failures.first).split())}")
        if live.closed:
            raise InvalidArgumentError("the snapshot's page was closed before it was drawn")
        if time.monotonic() > deadline:
            raise UnavailableError(
                f"the snapshot timed out while {what} (is the data source answering?)")
        live.group_reads.maybe(live.views)  # (throttled on a live page: at once here)
        await asyncio.sleep(SETTLE_POLL_S)


def _activate_cards(doc: Document, width: int, live: LiveSession) -> None:
    """The page of every name: every card (shown by the name filter) drawn, as if seen."""
    seen = doc.select_one({"name": "names:seen"})
    if not isinstance(seen, ColumnDataSource):
        return
    cards = sorted((m.name for m in doc.models if isinstance(m, Pane) and m.name
                    and m.name.startswith("card:") and m.visible),
                   key=lambda n: int(n[5:]))
    seen.data = {"card": cards}  # (NamesPage._on_seen: the plots made, joining the reads)
    w = _card_width(width)
    for v in [*live.views, *live._joining]:  # (joined at once when nothing was read yet)
        v.width_px = w


def _header_text(cfg: AppConfig, args: Mapping[str, Sequence[str]], width: int, height: int) -> str:
    query = urllib.parse.urlencode([(k, v) for k, vs in args.items() for v in vs], safe=",;:")
    taken = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<div class='sv-snapshot' style='font-family: system-ui, sans-serif; font-size: 13px'>"
        f"<b>{safe_html.text(GENERATOR)}</b> of <b class='sv-log'>{safe_html.text(cfg.log_name)}</b><br>"
        f"page: <code class='sv-address'>/?{safe_html.text(query)}</code><br>"
        f"taken {safe_html.text(taken)} for a {width}x{height} screen; zoom and pan within "
        "what it holds (the live page reads more)</div>"
    )


# the plots' lines, shown once the page is laid out and idle (as the live page's data
# arrives): shown from the start, every re-layout of the page (the runs table, the
# axes) would draw every line again. The page's root element then says so (for tests
# and benchmarks: ``data-sv-drawn``).
SHOW_JS = """
setTimeout(() => {
  for (const r of renderers) r.visible = true;
  document.documentElement.dataset.svDrawn = '1';
}, 0);
"""


def _defer_lines(doc: Document) -> None:
    """The plots' visible line renderers hidden until the page is ready (``SHOW_JS``);
    their data is in the file from the start (the ranges fit it)."""
    renderers = []
    for m in list(doc.models):
        source = getattr(m, "data_source", None)
        name = str(getattr(source, "name", "") or "")
        if isinstance(m, GlyphRenderer) and m.visible and name.startswith(("lines:", "group_lines:", "smooth:")):
            m.visible = False
            renderers.append(m)
    doc.js_on_event("document_ready", CustomJS(args={"renderers": renderers}, code=SHOW_JS))


def _make_static(doc: Document, text: str) -> list[str]:
    """Hide what needs the server; put the note of what the file shows in the header's
    place. Returns the hidden widgets' names (for the log)."""
    hidden = []
    for m in list(doc.models):
        if isinstance(m, Widget) and not isinstance(m, TableWidget) and (
                m._callbacks or m._event_callbacks or isinstance(m, InputWidget | AbstractSlider)):
            m.visible = False
            hidden.append(str(m.name or type(m).__name__))
    header = doc.select_one({"name": "page:header"})
    note = Div(text=text, name="snapshot:note", width=PANEL_WIDTH - 10)
    if isinstance(header, Column):
        header.children = [note]
    else:  # (no header: the note above everything)
        root = doc.roots[0]
        if isinstance(root, Column):
            root.children = [note, *root.children]
    _defer_lines(doc)
    return hidden


def _refresh_panel(live: LiveSession) -> None:
    """The runs table as the reads left it (the live page refreshes it at most once a
    second: the last steps of the first read come with the next refresh)."""
    live.panel._panel_at = float("-inf")
    live.panel.refresh()


async def _locked(session: ServerSession, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with the session's document lock held, as Bokeh runs callbacks
    (a change of the document outside it is refused)."""
    pending: Any = session.with_document_locked(fn, *args)  # (a coroutine: Bokeh's decorator)
    return await pending


async def render_snapshot(cfg: AppConfig, args: Mapping[str, Sequence[str]], *,
                          width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                          title: str | None = None, timeout: float = 120.0,
                          server_context: Any = None) -> str:
    """(On a Tornado loop.) The HTML of the page ``args`` shows on a ``width`` x
    ``height`` screen (see the module doc). A bad page parameter raises
    ``InvalidArgumentError`` with the page's own message."""
    check_size(width, height)
    layout = parse_layout(args, cfg.schema)  # the error page's message, raised
    doc = Document()
    sid = generate_session_id()
    ctx = BokehSessionContext(sid, server_context, doc)  # type: ignore[arg-type]
    ctx._request = _RequestProxy(_Request(args))  # type: ignore[arg-type]
    doc._session_context = weakref.ref(ctx)
    make_document(doc, cfg)
    session = ServerSession(sid, doc, io_loop=IOLoop.current())
    ctx._set_session(session)
    with cfg.lock:
        live = next((s for s in cfg.sessions if getattr(s, "doc", None) is doc), None)
    try:
        if not isinstance(live, LiveSession):
            raise InvalidArgumentError("the snapshot's page has no plots")
        for v, w in zip(live.views, plot_widths(live.layout, width), strict=False):  # (figures only)
            v.width_px = w
        if layout.mode == "names":  # (a change of the document: under the session's lock)
            await _locked(session, _activate_cards, doc, width, live)
        deadline, failures = time.monotonic() + timeout, _Failures(live)
        await _settle(live, failures, deadline, "reading the plots")
        if layout.zoom is not None:  # the browser reports its ranges: the window read
            live.rounds.maybe({i for i, v in enumerate(live.views) if v.is_line})
            await _settle(live, failures, deadline, "reading the zoomed window")
        await _locked(session, _refresh_panel, live)
        live.close()  # nothing more is applied to the document
        hidden = await _locked(session, _make_static, doc, _header_text(cfg, args, width, height))
        log.debug("streamvis snapshot: hidden controls %s", hidden)
        session._callbacks.remove_all_callbacks()
        html = await asyncio.get_running_loop().run_in_executor(
            cfg.executor, lambda: file_html(doc, resources=INLINE, title=title or f"streamvis: {cfg.log_name}",
                                            suppress_callback_warning=True))
    finally:
        if live is not None and not live.closed:
            live.close()
        session.destroy()
    charset = '<meta charset="utf-8">'
    if charset in html:
        return html.replace(charset, f"{charset}\n    {MARK}", 1)
    return html.replace("<head>", f"<head>\n    {MARK}", 1)
