"""The page's address follows what the runs panel changes, so a comparison is a link.

The header's controls write ``smoothing=``, ``names=`` (the name filter) and ``zoom=``
into the same address (``PageUrl.set``), so the address is always the whole view and
"copy link" copies it. The panel's state goes into five parameters beside the layout's own: ``find=`` (the
search text), ``filter=`` (the filter box, ``where=`` grammar: it lists rows, while
``where=`` decides which runs the page reads at all), and one of ``hide=`` (these runs
unticked; runs that start later are shown) or, after "only these", ``show=`` (only
these ticked; runs that start later stay hidden) (``streamvis.web.run_selection``), and
``summary=`` (the panel's summary columns, ``summary=loss.min,acc.last``).
``color_by=`` is chosen in the panel too; that reloads the page (its colours are
decided as lines are first drawn). The server writes the new query string into a
data source (text, never markup: a hidden ``Div`` would render it as HTML, and a link
with markup in ``find=`` ran script); a ``CustomJS`` on it calls
``history.replaceState`` (no reload, no history entry per tick). The source reaches the
document through the page's root (``tags``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode

from bokeh.models import ColumnDataSource, CustomJS

__all__ = ["PANEL_PARAMS", "PageUrl", "REPLACE_STATE_JS", "COLOR_BY_JS", "reload_with_js"]

PANEL_PARAMS = ("find", "filter", "hide", "show", "summary")

REPLACE_STATE_JS = """
const q = cb_obj.data.query[0];
if (q !== null && q !== undefined && q !== '' && window.location.search !== q) {
  window.history.replaceState(window.history.state, '', window.location.pathname + q);
}
"""

def reload_with_js(param: str, default: str = "") -> str:
    """JS for a widget's change: reload the page with ``param=`` its value (none when
    empty or ``default``): what is decided as the page is built (colours, x axes)."""
    return f"""
const u = new URL(window.location.href);
if (cb_obj.value && cb_obj.value !== {default!r}) {{ u.searchParams.set({param!r}, cb_obj.value); }}
else {{ u.searchParams.delete({param!r}); }}
// URLSearchParams writes ',' and ';' (the layout's separators) as %2C and %3B
const to = u.toString().replace(/%2C/gi, ',').replace(/%3B/gi, ';');
if (to !== window.location.href) {{ window.location.assign(to); }}
"""


COLOR_BY_JS = reload_with_js("color_by")


class PageUrl:
    """Builds the page's query string from its request arguments and the panel's state."""

    def __init__(self, args: Mapping[str, Sequence[str]]) -> None:
        self.base = {k: list(v) for k, v in args.items()
                     if k not in PANEL_PARAMS and not k.startswith("bokeh-")}
        self.source = ColumnDataSource(data={"query": [""]}, name="page:url")
        self.source.js_on_change("data", CustomJS(code=REPLACE_STATE_JS))
        self._panel: dict[str, str | None] = {}

    def set(self, key: str, value: str | None) -> None:
        """A page parameter the header changed (``smoothing``, ``names``, ``zoom``):
        into the address (None or "": out of it)."""
        if value:
            self.base[key] = [value]
        else:
            self.base.pop(key, None)
        self.update(self._panel)

    def query(self, panel: Mapping[str, str | None]) -> str:
        """``?...``: the layout's arguments as given, then the panel's (empty ones left out)."""
        pairs = [(k, v) for k, vs in self.base.items() for v in vs]
        pairs += [(k, v) for k in PANEL_PARAMS if (v := panel.get(k))]
        return "?" + urlencode(pairs, quote_via=quote, safe=",;<>=!~/:*")

    def update(self, panel: Mapping[str, str | None]) -> None:
        """Point the browser's address at this state (when it changed)."""
        self._panel = dict(panel)
        q = self.query(panel)
        if self.text != q:
            self.source.data = {"query": [q]}

    @property
    def text(self) -> str:
        """The query string last sent ("" before the first)."""
        return str(self.source.data["query"][0])
