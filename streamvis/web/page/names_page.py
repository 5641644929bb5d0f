"""The page of every logged name: a card per name (``catalog``), in collapsible sections,
in a grid that fits the window, with a name filter (RE2) at the top.

Cards are drawn lazily: each starts as a title, and the browser reports the cards that
come into view (an ``IntersectionObserver``, ``LAZY_JS``); only then are its plots made
and joined to the session's reads (``LiveSession.add_views``), so a page of 200 names
reads and sends what is seen. New names are listed every ``DISCOVER_S`` seconds (in a
worker) and get cards as they appear.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2
from bokeh.core.validation import silence
from bokeh.core.validation.warnings import EMPTY_LAYOUT
from bokeh.models import Column, ColumnDataSource, CustomJS, Row
from bokeh.models.ui import Pane
from bokeh.models.widgets import Div, TextInput, Toggle

from streamvis.errors import InvalidArgumentError
from streamvis.source import DataSource
from streamvis.storage.format.model import MediaInfo

from .. import safe_html
from ..address.layout import Cell
from ..plots.media_card import MediaCard
from ..schema import check_regex
from .catalog import (
    HIST_STATS,
    HIST_SUFFIX,
    MEDIA_KINDS,
    REST,
    Card,
    build_cards,
    media_cards,
    specs_of,
)
from .session import LiveSession

__all__ = ["NamesPage", "name_columns", "media_names", "LAZY_JS", "CARD_HEIGHT", "DISCOVER_S"]

# A log with no name yet (a page opened before the first write, as quickstart's is) has
# no section: their box is empty until names arrive, which is no mistake; Bokeh's check
# printed a warning to the server's console for every such page.
silence(EMPTY_LAYOUT, True)

log = logging.getLogger("streamvis.web")
CARD_HEIGHT = 320  # px
HIST_CARD_HEIGHT = 520  # px: a histogram's card holds two plots (the distribution, its lines)
# A card is about a sixth of a plot that fills the page (~450 x 320 px against ~1000 x
# 850): it gets that share of the page's point budget, so that the cards in a window
# cost what one full plot costs. Lines keep 2 points per pixel while the share allows
# (up to ~180 lines of the default 1M budget); past that, each line holds its share.
CARD_BUDGET_SHARE = 1 / 6
DISCOVER_S = 2.0  # seconds between listings of new names (and image steps), at first
DISCOVER_MAX_S = 16.0  # ... doubling while listings find nothing new, up to this
GRID_CSS = (":host { display: grid !important; grid-template-columns: repeat(auto-fill, "
            "minmax(360px, 1fr)); gap: 10px; width: 100%; flex-shrink: 0 !important; "
            "height: auto !important; max-height: none !important; }")
# in the scrolling column, sections and grids are as tall as their cards (Bokeh would
# fit them to the column's height)
TALL_CSS = ":host { flex-shrink: 0 !important; height: auto !important; max-height: none !important; }"
TITLE_CSS = ":host { font-family: system-ui, sans-serif; font-size: 13px; color: #555; }"
# The browser tells the server which cards are in view (or 200 px from it), as that changes.
LAZY_JS = """
const walk = (v, out) => { out.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) walk(c, out); return out; };
const inView = new Set();
const obs = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting) inView.add(e.target._sv_card); else inView.delete(e.target._sv_card);
  }
  const now = [...inView].sort((a, b) => parseInt(a.slice(5)) - parseInt(b.slice(5)));
  if (now.join() !== seen.data.card.join()) seen.data = {card: now};
}, {rootMargin: '200px'});
const install = () => {
  for (const r of Object.values(Bokeh.index)) for (const v of walk(r, [])) {
    const name = v.model.name;
    if (name && name.startsWith('card:') && v.el && v.el._sv_card === undefined) {
      v.el._sv_card = name;
      obs.observe(v.el);
    }
  }
};
install();
setInterval(install, 250);  // cards of names that appear later
"""


def name_columns(source: DataSource, scope_pattern: str | None = None,
                 only: Iterable[str] | None = None, known: Iterable[str] = ()) -> dict[str, list[str]]:
    """(Blocking.) Every logged name (or those of ``only``) but ``known``, in order of
    first appearance, with its columns (from one run that logged it)."""
    wanted = set(only) if only is not None else None
    skip = set(known)
    first: dict[str, str] = {}  # name -> a scope that has it
    for g in source.groups(scope_pattern=scope_pattern):
        if g.name not in first and g.name not in skip and (wanted is None or g.name in wanted):
            first[g.name] = g.scope
    store = getattr(source, "store", None)
    schemas = getattr(source, "schemas", None) or getattr(store, "schemas", None)
    by_scope: dict[str, dict[str, Any]] = {}
    out: dict[str, list[str]] = {}
    for name, scope in first.items():
        if schemas is not None and scope not in by_scope:
            by_scope[scope] = schemas(scope)
        out[name] = list(by_scope.get(scope, {}).get(name, {"x": 0, "y": 0}))
    return out


class Discovery:
    """When a page lists the log's names again: a listing walks every group (20,000 at
    1,000 runs x 20 names: ~0.05-0.1 s of the server's CPU), so it is skipped while the
    log has not moved (its cursor is the one listed), and the wait between listings
    doubles from ``DISCOVER_S`` to ``DISCOVER_MAX_S`` while they find nothing new; a
    listing that finds a name, or an image or text step, starts over at ``DISCOVER_S``."""

    def __init__(self, now: float) -> None:
        self.wait = DISCOVER_S
        self.due = now + DISCOVER_S
        self.cursor: str | None = None  # the log's position at the last listing

    def listed(self, now: float, cursor: str, *, new: bool) -> None:
        """A listing at ``cursor`` ended; ``new``: it found something."""
        self.cursor = cursor
        self.wait = DISCOVER_S if new else min(DISCOVER_MAX_S, 2 * self.wait)
        self.due = now + self.wait


def media_names(source: DataSource, scope_pattern: str | None = None) -> list[MediaInfo]:
    """(Blocking.) The image and text names of the (matching) runs; none when the source
    cannot say (an older data server)."""
    try:
        return source.media(scope_pattern=scope_pattern)
    except Exception as exc:  # noqa: BLE001 - the plots of numbers still work
        log.warning("streamvis web: listing images and texts failed: %s", exc)
        return []


class _CardView:
    """One card on the page: a title until it is seen, then its plots.

    The card's content (``body``) sits in a ``Pane``, which BokehJS does not lay out:
    so ``body`` is a layout root of its own, and drawing the card (its children
    replaced) lays out that card only. In a plain ``Column`` each card drawn laid out
    the whole page again (BokehJS invalidates layouts from the root), every figure
    drawn before it repainted: 24 cards took 18 s to draw in turn.
    """

    def __init__(self, card: Card, key: int) -> None:
        self.card, self.active = card, False
        self.placeholder = Div(text=safe_html.text(card.title), name=f"card-title:{key}",
                               stylesheets=[TITLE_CSS])
        self.body = Column(children=[self.placeholder], sizing_mode="stretch_both",
                           name=f"card-body:{key}")
        # an image or text card is as tall as its runs' rows (up to three cards' height,
        # then it scrolls): in a card's fixed height the second row was cut off
        height = ({"height": "auto", "min-height": f"{CARD_HEIGHT}px", "max-height": f"{3 * CARD_HEIGHT}px",
                   "overflow-y": "auto"} if card.kind in MEDIA_KINDS
                  else {"height": f"{HIST_CARD_HEIGHT if card.kind == 'hist' else CARD_HEIGHT}px"})
        self.root = Pane(elements=[self.body], name=f"card:{key}", tags=[card.kind],
                         styles={"width": "100%", **height})


class _Section:
    """A collapsible section: its toggle (the title) and its grid of cards."""

    def __init__(self, section: str) -> None:
        self.label = f"{section}/" if section != REST else "other"
        self.toggle = Toggle(label=f"▾ {self.label}", active=True, name=f"section:{self.label}",
                             button_type="light", width=240)
        self.grid = Column(children=[], stylesheets=[GRID_CSS], sizing_mode="stretch_width",
                           name=f"grid:{self.label}")
        self.root = Column(children=[self.toggle, self.grid], sizing_mode="stretch_width",
                           stylesheets=[TALL_CSS])
        self.toggle.on_change("active", self._toggled)

    def _toggled(self, attr: str, old: object, new: object) -> None:
        self.grid.visible = bool(new)
        self.toggle.label = f"{'▾' if new else '▸'} {self.label}"


class NamesPage:
    """The cards of one session's page (see the module doc)."""

    def __init__(self, session: LiveSession, name_filter: str | None,
                 columns_of: Mapping[str, Sequence[str]], media: Sequence[MediaInfo] = ()) -> None:
        self.session = session
        page = session.cfg.limits
        self._limits = dataclasses.replace(page, budget=max(1_000, int(page.budget * CARD_BUDGET_SHARE)))
        self._media = list(media)  # the image and text names' runs and steps, as listed
        self._media_cards: dict[str, MediaCard] = {}
        self._cards: dict[str, _CardView] = {}  # by card name
        self._by_key: dict[str, _CardView] = {}  # by model name card:K
        self._sections: dict[str, _Section] = {}
        self._position = 0
        self._known: set[str] = set(columns_of)
        self._listing, self._discovery = False, Discovery(time.monotonic())
        self._rx = re2.compile(name_filter) if name_filter else None
        self.seen = ColumnDataSource(data={"card": []}, name="names:seen")
        self.seen.on_change("data", self._on_seen)
        self.filter = TextInput(value=name_filter or "", placeholder="filter names (RE2), Enter",
                                title="names", name="names:filter", width=360)
        self.filter.on_change("value", self._on_filter)
        self.message = Div(text="", name="names:message", stylesheets=[TITLE_CSS])
        self.sections_box = Column(children=[], sizing_mode="stretch_width", name="names:sections",
                                   stylesheets=[TALL_CSS])
        # the cards scroll beside the runs panel, which stays
        self.root = Column(children=[Row(children=[self.filter, self.message]), self.sections_box],
                           sizing_mode="stretch_both", name="names:page", tags=[self.seen],
                           styles={"overflow-y": "auto"})
        self.lazy_js = CustomJS(args={"seen": self.seen}, code=LAZY_JS)
        self._add_cards(build_cards(columns_of) + media_cards(self._media_kinds()))
        session.doc.add_periodic_callback(self._discover, int(DISCOVER_S * 1000))

    # ---- cards ------------------------------------------------------------------------
    def _media_kinds(self) -> dict[str, str]:
        return {i.name: i.kind for i in self._media if i.name not in self._known}

    def _add_cards(self, cards: Sequence[Card]) -> None:
        new_sections = []
        for card in cards:
            if card.name in self._cards:
                continue
            key = len(self._cards)
            cv = _CardView(card, key)
            self._cards[card.name] = cv
            self._by_key[f"card:{key}"] = cv
            sec = self._sections.get(card.section)
            if sec is None:
                sec = self._sections[card.section] = _Section(card.section)
                new_sections.append(sec)
            sec.grid.children = [*sec.grid.children, cv.root]
            cv.root.visible = self._shows(card)
        if new_sections:
            order = sorted(self._sections, key=lambda s: s == REST)  # the rest last
            self.sections_box.children = [self._sections[s].root for s in order]
        self._show_sections()

    def _shows(self, card: Card) -> bool:
        return self._rx is None or any(self._rx.search(n) for n in (card.title, *card.names))

    def _show_sections(self) -> None:
        for sec in self._sections.values():
            sec.root.visible = any(c.visible for c in sec.grid.children)

    def _on_seen(self, attr: str, old: object, new: Any) -> None:
        """Cards came into view: make their plots and let them join the reads (the
        document's model graph is walked once at the end, not once per change; the
        changes are sent after that, so that every new model goes out whole)."""
        doc = self.session.doc
        doc.hold("combine")
        try:
            with doc.models.freeze():
                self._activate(new)
        finally:
            doc.unhold()

    def _activate(self, new: Any) -> None:
        views = []
        for key in list(new.get("card", [])) if isinstance(new, dict) else []:
            cv = self._by_key.get(str(key))
            if cv is None or cv.active or not cv.root.visible:
                continue  # (a card the filter hides is drawn when shown and in view)
            cv.active = True
            if cv.card.kind in MEDIA_KINDS:
                mc = MediaCard(cv.card.name, cv.card.kind, self.session.cfg.source,
                               self.session._submit, color_of=self.session.colors.run,
                               key=len(self._media_cards))
                self._media_cards[cv.card.name] = mc
                cv.body.children = [mc.root]
                mc.update(self._media)
                continue
            made = []
            for spec in specs_of(cv.card):
                cell = Cell(plot=spec.name, position=self._position, group=0, left=0.0, top=0.0,
                            width=1.0, height=1.0)
                self._position += 1
                made.append(self.session.make_view(spec, cell, slider=False, limits=self._limits))
            cv.body.children = [v.root for v in made]  # type: ignore[misc]
            views += made
        if views:
            self.session.add_views(views)

    # ---- the name filter -----------------------------------------------------------------
    def _on_filter(self, attr: str, old: object, new: object) -> None:
        text = str(new or "").strip()
        try:
            if text:
                check_regex(text, "names")
        except InvalidArgumentError as exc:
            self.message.text = f"<span class='sv-error' style='color:#b00020'>{safe_html.text(str(exc))}</span>"
            return
        self.message.text = ""
        self._rx = re2.compile(text) if text else None
        for cv in self._cards.values():
            cv.root.visible = self._shows(cv.card)
        self._show_sections()
        self.session.page_url.set("names", text or None)

    # ---- names that appear later -----------------------------------------------------------
    def _discover(self) -> None:
        if self.session.closed or self._listing or time.monotonic() < self._discovery.due:
            return
        self._listing = True
        known, last = set(self._known), self._discovery.cursor
        source, scopes = self.session.cfg.source, self.session.scope_pattern

        def listing() -> tuple[str, tuple[dict[str, list[str]], list[MediaInfo]] | None]:
            cursor = source.cursor()
            if cursor == last:  # nothing was written since the last listing
                return cursor, None
            return cursor, (name_columns(source, scopes, known=known), media_names(source, scopes))

        self.session._submit(listing, self._discovered)

    def _discovered(self, fut: Any) -> None:
        self._listing = False
        try:
            found: dict[str, list[str]]
            cursor, listed = fut.result()
        except Exception as exc:  # the source is down: the banner says so; list again later
            log.warning("streamvis web: listing names failed: %s", exc)
            return
        if listed is None:
            self._discovery.listed(time.monotonic(), cursor, new=False)
            return
        found, media = listed
        self._discovery.listed(time.monotonic(), cursor, new=bool(found) or list(media) != self._media)
        self._media = list(media)
        for mc in self._media_cards.values():
            mc.update(self._media)  # new steps and runs of the cards in view
        self._add_cards(media_cards(self._media_kinds()))
        if not found:
            return
        self._known |= set(found)
        # a histogram's stat lines listed after its card stay out of the cards
        hists = {n for n in self._known if n.endswith(HIST_SUFFIX)}
        found = {n: c for n, c in found.items()
                 if not (n.rpartition(":")[2] in HIST_STATS and n.rpartition(":")[0] + HIST_SUFFIX in hists)}
        self._add_cards(build_cards(found))  # (in _applying: the model graph is frozen)
