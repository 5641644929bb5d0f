"""The page's header: the log's name, links to the other pages, and the page-wide
controls (smoothing of every plot, the x mode, "copy link", "snapshot": the view as one
HTML file, ``snapshot_route``).

Every control writes the page's address (``address.page_url``), so the address is the
whole view (layout, runs selection, name filter, ``color_by``, smoothing, x mode, zoom)
and "copy link" copies it (into the clipboard where the browser allows, and into the
box beside the button in any case). The x mode reloads the page (its axes are built
for it); smoothing applies at once (``LiveSession.set_smoothing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bokeh.models import Column, CustomJS, Row
from bokeh.models.widgets import Button, Div, Select, Slider, TextInput

from .. import safe_html
from ..address.page_url import PageUrl, reload_with_js
from ..runs.runs_panel import PANEL_WIDTH
from ..schema import X_MODES

__all__ = ["Header", "COPY_LINK_JS", "HEADER_CSS", "SNAPSHOT_JS", "SNAPSHOT_FILENAME", "SNAPSHOT_SIZE_ARGS"]

WIDTH = PANEL_WIDTH  # the header sits above the runs panel
HEADER_CSS = ":host { font-family: system-ui, sans-serif; font-size: 14px; }"
# the address is kept current (page_url): copy it, and show it (the clipboard API needs a
# secure context and the user's permission; the box works everywhere)
COPY_LINK_JS = """
const href = window.location.href;
link.value = href;
link.visible = true;
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(href).then(() => { button.label = 'copied'; },
                                           () => { button.label = 'copy link'; });
}
"""
SNAPSHOT_FILENAME = "streamvis-snapshot.html"
SNAPSHOT_SIZE_ARGS = ("snapshot_width", "snapshot_height")  # the route's own, not the page's
# "snapshot": the file of this address (the whole view) at this window's size, from the
# route beside the page (relative: also behind a reverse proxy's prefix; snapshot_route)
SNAPSHOT_JS = f"""
const q = new URLSearchParams(window.location.search);
q.set('{SNAPSHOT_SIZE_ARGS[0]}', String(Math.round(window.innerWidth)));
q.set('{SNAPSHOT_SIZE_ARGS[1]}', String(Math.round(window.innerHeight)));
const a = document.createElement('a');
a.href = 'snapshot?' + q.toString();
a.download = '{SNAPSHOT_FILENAME}';
document.body.appendChild(a);
a.click();
a.remove();
"""


def _fmt(value: float) -> str:
    return f"{value:.10g}"


class Header:
    """The header of one page. ``on_smoothing(value)`` applies the page's smoothing;
    ``page_url`` takes what the controls change."""

    def __init__(self, *, title: str, smoothing: float, x_mode: str | None, page_url: PageUrl,
                 on_smoothing: Callable[[float], None]) -> None:
        self._page_url, self._on_smoothing = page_url, on_smoothing
        # links: the index and the hyperparameter page
        self.title = Div(
            text=(f"<b class='sv-log'>{safe_html.text(title)}</b> &nbsp; "
                  "<a class='sv-index' href='/index'>index</a> &nbsp; "
                  "<a class='sv-hparams' href='/hparams'>hyperparameters</a>"),
            name="page:title", stylesheets=[HEADER_CSS], width=WIDTH - 10,
            styles={"overflow": "hidden", "text-overflow": "ellipsis", "white-space": "nowrap"},
        )
        self.smoothing = Slider(start=0, end=0.99, step=0.01, value=smoothing,
                                title="smoothing", name="page:smoothing", width=125)  # (the row: WIDTH)
        self.smoothing.on_change("value", self._smoothing_changed)  # (session debounces)
        modes: list[Any] = list(X_MODES)
        if x_mode is not None and x_mode not in X_MODES:  # x=NAME: kept as an option (text)
            modes.append((x_mode, x_mode[len("name:"):]))
        self.x_mode = Select(title="x", value=x_mode or "step", options=modes,
                             name="page:x", width=90)
        self.x_mode.js_on_change("value", CustomJS(code=reload_with_js("x", "step")))
        self.link = TextInput(value="", name="page:link", visible=False, width=WIDTH - 10)
        self.copy = Button(label="copy link", name="page:copy", width=85, align="end")
        self.copy.js_on_event("button_click", CustomJS(args={"link": self.link, "button": self.copy},
                                                       code=COPY_LINK_JS))
        self.snapshot = Button(label="snapshot", name="page:snapshot", width=80, align="end")
        self.snapshot.js_on_event("button_click", CustomJS(code=SNAPSHOT_JS))
        # above the runs panel, in its width: the plots keep the window's height
        self.root = Column(children=[self.title, Row(children=[self.smoothing, self.x_mode, self.copy, self.snapshot]),
                                     self.link], name="page:header", width=WIDTH)
        self._applied = smoothing

    def _smoothing_changed(self, attr: str, old: object, new: object) -> None:
        if not isinstance(new, int | float) or not 0 <= new < 1 or new == self._applied:
            return
        self._applied = float(new)
        self._page_url.set("smoothing", _fmt(new) if new else None)
        self._on_smoothing(float(new))

    def zoomed(self, window: tuple[float, float]) -> None:
        """A line plot was zoomed: the address keeps its x range."""
        self._page_url.set("zoom", f"{_fmt(window[0])},{_fmt(window[1])}")
