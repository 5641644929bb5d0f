"""What a page says about its state: the banner when the data cannot be reached, and
each plot's "waiting for data" (or why no run matches its ``where=``)."""

from __future__ import annotations

from collections.abc import Sequence

from bokeh.models.widgets import Div

from .. import safe_html
from ..address.layout import Layout
from ..address.summary_keys import split_key
from ..plots.plot_view import PlotView
from ..runs.run_filter import RunFilter

__all__ = ["Banner", "waiting_notes", "MAX_KEYS_NAMED"]

MAX_KEYS_NAMED = 30  # config keys a where= note lists


class Banner:
    """The red line at the top of a page while its data source cannot be reached."""

    def __init__(self) -> None:
        self.div = Div(
            text="", visible=False, name="banner", sizing_mode="stretch_width",
            styles={"background": "#fdecea", "color": "#b00020", "padding": "6px 10px",
                    "font-weight": "600", "font-family": "system-ui, sans-serif"},
        )

    def source_down(self, exc: BaseException | None) -> None:
        """Show (or, with None, clear) the banner saying the data cannot be reached."""
        if exc is None:
            if self.div.visible:
                self.div.update(visible=False, text="")
            return
        text = f"The data source cannot be reached: {exc}. Retrying; the page keeps what it has."
        if self.div.text != safe_html.text(text):
            self.div.update(text=safe_html.text(text), visible=True)  # text first: never an empty banner


def waiting_notes(views: Sequence[PlotView], layout: Layout, run_filter: RunFilter) -> None:
    """Plots with nothing drawn say they wait (and for what), or why nothing matches."""
    narrowed = [p for p in ("scopes", "where") if getattr(layout, p)]
    waiting = "waiting for data" + (f" matching {' and '.join(f'{p}=' for p in narrowed)}" if narrowed else "")
    idle = any(not (v.lines or v.has_unfit) for v in views)
    missing, have = run_filter.unknown_keys() if idle and layout.where else ([], [])
    if missing:  # runs exist and none has the key: say so, not "waiting"
        keys = ", ".join(have[:MAX_KEYS_NAMED]) + (f", … ({len(have)} keys)" if len(have) > MAX_KEYS_NAMED else "")
        sk = split_key(missing[0])
        logged = f"no run logged {sk[0]!r} and " if sk is not None else ""  # (a summary NAME.STAT)
        waiting = (f"where=: {logged}no run has config key {missing[0]!r}; "
                   + (f"the runs' keys: {keys}" if have else "the runs have no config"))
    for v in views:
        if v.lines or v.has_unfit:  # (groups that cannot be drawn are named instead)
            v._unnote("waiting")
        else:
            v._note("waiting", waiting)
