"""The image and text plots of a page with a layout (a schema's ``glyph_kind: image``
or ``text``, or ``rows=NAME`` naming a logged image or text name without a schema).

Each such plot is a column of media cards (``MediaCard``): one per logged name of its
kind that matches its name pattern among the page's runs, in name order, added as
names appear. The names are listed when the page is made and then every
``DISCOVER_S`` seconds in a worker, as the page of every name does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import re2
from bokeh.models import Column
from bokeh.models.widgets import Div

from streamvis.storage.format.model import MediaInfo

from .. import safe_html
from ..address.layout import Cell
from ..plots.media_card import CARD_CSS, MediaCard
from ..schema import PlotSpec
from .names_page import DISCOVER_S, media_names
from .session import LiveSession

__all__ = ["MediaPlots"]

log = logging.getLogger("streamvis.web")


class _MediaPlot:
    """One image or text plot: its cards, by logged name."""

    def __init__(self, cell: Cell, spec: PlotSpec) -> None:
        self.kind = spec.glyph_kind
        pattern = cell.names or spec.name_pattern
        self.rx = re2.compile(pattern)
        self.note = Div(text=f"<span class='sv-note'>waiting for {self.kind} names matching "
                             f"{safe_html.text(pattern)}</span>", stylesheets=[CARD_CSS])
        self.root = Column(children=[self.note], sizing_mode="stretch_both",
                           name=f"media-plot:{cell.position}", styles={"overflow-y": "auto"})
        self.cards: dict[str, MediaCard] = {}

    def names(self, infos: Sequence[MediaInfo]) -> list[str]:
        return sorted({i.name for i in infos if i.kind == self.kind and self.rx.search(i.name)})


class MediaPlots:
    """The media plots of one session's page, ``plots`` given as (cell, spec) in layout
    order; ``roots`` are their models, in the same order."""

    def __init__(self, session: LiveSession, plots: Sequence[tuple[Cell, PlotSpec]]) -> None:
        self.session = session
        self._plots = [_MediaPlot(cell, spec) for cell, spec in plots]
        self.roots = [p.root for p in self._plots]
        self._keys = 0
        self._listing = False
        if self._plots:
            self._show(media_names(session.cfg.source, session.scope_pattern))
            session.doc.add_periodic_callback(self._list, int(DISCOVER_S * 1000))

    def _list(self) -> None:
        if self.session.closed or self._listing:
            return
        self._listing = True
        source, scopes = self.session.cfg.source, self.session.scope_pattern
        self.session._submit(lambda: media_names(source, scopes), self._listed)

    def _listed(self, fut: Any) -> None:
        self._listing = False
        try:
            infos = fut.result()
        except Exception as exc:  # noqa: BLE001 - the banner says the source is down
            log.warning("streamvis web: listing images and texts failed: %s", exc)
            return
        self._show(infos)

    def _show(self, infos: Sequence[MediaInfo]) -> None:
        """New cards for new names; every card's runs and steps as listed now."""
        session = self.session
        for plot in self._plots:
            added = False
            for name in plot.names(infos):
                if name not in plot.cards:
                    plot.cards[name] = MediaCard(name, plot.kind, session.cfg.source, session._submit,
                                                 color_of=session.colors.run, key=self._keys)
                    self._keys += 1
                    added = True
            if added:
                plot.root.children = [plot.cards[n].root for n in sorted(plot.cards)]
            for card in plot.cards.values():
                card.update(infos)
