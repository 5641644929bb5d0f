"""The page of every logged name, no schema needed (issue 21): cards titled by their names
in sections, of the right kinds, a name filter, lazy drawing below the fold, the header's
smoothing for every plot, and "copy link" carrying the whole view."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamvis.storage import Points, RangeRequest
from streamvis.web.page.names_page import CARD_BUDGET_SHARE
from tests.helpers import wait_for

from .conftest import WebServer
from .helpers import open_page

pytestmark = pytest.mark.browser

FILLER = 14  # train/ names before the others: lr (the rest, last) is far below the fold

# {card: {title, kind, section, drawn, plots: [figure names], titles: [figure titles]}}
CARDS_JS = """() => { try { const doc = Bokeh.documents[0]; const out = {};
  const box = doc.get_model_by_name('names:sections');
  if (!box) return null;
  for (const sec of box.children) {
    const label = sec.children[0].label.slice(2), grid = sec.children[1];
    for (const card of grid.children) {
      const kids = card.elements[0].children, first = kids[0];  // (the card's body)
      const figs = [];
      const walk = (m) => { if (m.title !== undefined && m.renderers !== undefined) figs.push(m);
                            for (const c of (m.children ?? [])) walk(c); };
      for (const c of kids) walk(c);
      const drawn = figs.length > 0;
      out[card.name] = {title: drawn ? null : first.text, kind: card.tags[0], section: label,
                        drawn, visible: card.visible, sec_visible: sec.visible,
                        plots: figs.map(f => f.name), titles: figs.map(f => f.title.text.text ?? f.title.text)};
    }
  }
  return out; } catch (e) { return null; } }"""  # null: the document is being updated
# points drawn per figure name: rows of its multi_line (or scatter points)
POINTS_JS = """(plot) => { try { const doc = Bokeh.documents[0];
  const src = doc.get_model_by_name('lines:' + plot.split(':')[1] + ':source');
  if (!src) return null;
  if (src.data.xs !== undefined) return src.data.n.reduce((a, b) => a + b, 0);
  return src.data.x.length; } catch (e) { return null; } }"""
SMOOTH_JS = """(plot) => { try { const doc = Bokeh.documents[0];
  const src = doc.get_model_by_name('smooth:' + plot.split(':')[1] + ':source');
  return src ? src.data.n.reduce((a, b) => a + b, 0) : 0; } catch (e) { return 0; } }"""


def _write(store: Any) -> None:
    x = np.arange(50, dtype=np.float64)
    items = []
    for s in ("run1", "run2"):
        items.append(Points(s, "train/loss", 0, {"x": x, "y": np.exp(-x / 20)}))
        for i in range(FILLER):
            items.append(Points(s, f"train/m{i:02d}", 0, {"x": x, "y": np.sin(x / 7 + i)}))
        items.append(Points(s, "val/loss", 0, {"x": x, "y": np.exp(-x / 25) + 0.1}))
        for t in (0.0, 10.0):
            items.append(Points(s, "cloud", 0, {"x": np.arange(5.0), "y": np.arange(5.0) * 2,
                                                "t": np.full(5, t)}))
        for step in (0.0, 1.0):
            edges = np.linspace(-1, 1, 6)
            items.append(Points(s, "w:hist", 0, {
                "bucket": (edges[:-1] + edges[1:]) / 2, "count": np.arange(5.0) + step,
                "left": edges[:-1], "right": edges[1:], "step": np.full(5, step)}))
            for stat, v in (("min", -1.0), ("max", 1.0), ("mean", 0.1)):
                items.append(Points(s, f"w:{stat}", 0, {"x": np.array([step]), "y": np.array([v])}))
        items.append(Points(s, "lr", 0, {"x": x, "y": 1e-3 * (1 + np.cos(x / 9))}))
    store.append(items)


@pytest.fixture
def names_server(log_path: str, store: Any) -> Iterator[WebServer]:
    _write(store)
    srv = WebServer(log_path, None, refresh=0.3)  # no schema
    # every range read the page asks for, by name (the real source underneath)
    srv.read_names = []  # type: ignore[attr-defined]
    real = srv.source.read_ranges

    def recording(requests: list[RangeRequest]) -> Any:
        srv.read_names += [r.name for r in requests]  # type: ignore[attr-defined]
        return real(requests)

    srv.source.read_ranges = recording  # type: ignore[method-assign]
    yield srv
    srv.stop()


def _href(page: Any) -> str:
    """The address as the page has it (``page.url`` misses ``history.replaceState``)."""
    return str(page.evaluate("() => window.location.href"))


def _cards(page: Any) -> dict[str, dict[str, Any]]:
    out = None
    for _ in range(50):
        out = page.evaluate(CARDS_JS)
        if out:
            break
        page.wait_for_timeout(50)
    assert out, "no cards"
    return out


def _by_title(cards: dict[str, dict[str, Any]], title: str) -> dict[str, Any]:
    """The card whose placeholder or first figure is titled ``title``."""
    hits = [c for c in cards.values() if title in ([c["title"]] if not c["drawn"] else c["titles"])]
    assert len(hits) == 1, (title, cards)
    return hits[0]


def _wait_drawn(page: Any, title: str, timeout: float = 20) -> dict[str, Any]:
    def drawn() -> bool:
        c = [c for c in _cards(page).values() if c["drawn"] and title in c["titles"]]
        return bool(c) and all((page.evaluate(POINTS_JS, p) or 0) > 0 for p in c[0]["plots"])

    wait_for(drawn, timeout=timeout, interval=0.1)
    return _by_title(_cards(page), title)


def test_every_name_is_a_titled_card_in_its_section_and_kind(names_server, page):
    open_page(page, names_server.url + "/")
    _wait_drawn(page, "train/loss")
    # scroll through the page: every card gets drawn
    page.mouse.move(900, 400)
    for _ in range(60):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(60)
    _wait_drawn(page, "lr")
    cards = _cards(page)
    assert len(cards) == FILLER + 5  # the histogram's min/max/mean have no cards
    want = {"train/loss": ("train/", "line"), "val/loss": ("val/", "line"),
            "lr": ("other", "line"), "cloud": ("other", "scatter"), "w": ("other", "hist")}
    for title, (section, kind) in want.items():
        card = _wait_drawn(page, title)
        assert (card["section"], card["kind"]) == (section, kind), (title, card)
    hist = _by_title(_cards(page), "w")
    assert hist["titles"] == ["w", "w: min, max, mean"]  # the distribution and its lines
    stats_plot = hist["plots"][1]
    wait_for(lambda: page.evaluate(POINTS_JS, stats_plot) == 2 * 3 * 2, timeout=20, interval=0.1)
    # the distribution at the newest step, its 5 buckets on 30 even bins (as TensorBoard)
    wait_for(lambda: page.evaluate(POINTS_JS, hist["plots"][0]) == 2 * 30, timeout=20, interval=0.1)
    cloud = _by_title(_cards(page), "cloud")
    # a cloud shows one step (t = 10, the newest) of each run: 5 points each
    wait_for(lambda: page.evaluate(POINTS_JS, cloud["plots"][0]) == 10, timeout=20, interval=0.1)
    assert page.evaluate("() => Bokeh.documents[0].get_model_by_name('filter:'"
                         f" + {cloud['plots'][0].split(':')[1]!r}).end") == 10
    # the header: the log's name and the index page's link
    header = page.evaluate("() => Bokeh.documents[0].get_model_by_name('page:title').text")
    assert names_server.source.store.backend.url.split("/")[-1] in header and "/index" in header


def test_the_name_filter_hides_cards_and_says_a_bad_pattern_in_one_line(names_server, page):
    open_page(page, names_server.url + "/")
    _wait_drawn(page, "train/loss")
    box = page.get_by_placeholder("filter names (RE2), Enter")
    box.fill("loss$")
    box.press("Enter")

    def shown() -> set[str]:
        return {(c["title"] or c["titles"][0]) for c in _cards(page).values() if c["visible"]}

    wait_for(lambda: shown() == {"train/loss", "val/loss"}, timeout=10, interval=0.1)
    secs = {c["section"]: c["sec_visible"] for c in _cards(page).values()}
    assert secs == {"train/": True, "val/": True, "other": False}
    wait_for(lambda: "names=loss%24" in _href(page) or "names=loss$" in _href(page), timeout=10, interval=0.1)
    box.fill("(bad")
    box.press("Enter")
    msg = "() => Bokeh.documents[0].get_model_by_name('names:message').text"
    wait_for(lambda: "(bad" in page.evaluate(msg), timeout=10, interval=0.1)
    text = page.evaluate(msg)
    assert "bad regex" in text and "\n" not in text
    assert shown() == {"train/loss", "val/loss"}  # the last good filter stays
    # a bad filter in the address: the error page says it in one line
    open_page(page, names_server.url + "/?names=%28bad")
    err = page.evaluate("() => Bokeh.documents[0].get_model_by_name('error').text")
    assert "bad regex" in err and "(bad" in err


def test_plots_below_the_fold_are_neither_read_nor_drawn_until_scrolled_to(names_server, page):
    open_page(page, names_server.url + "/")
    _wait_drawn(page, "train/loss")
    page.wait_for_timeout(1000)  # polls go on: still nothing of lr
    lr = _by_title(_cards(page), "lr")
    assert not lr["drawn"] and "lr" not in names_server.read_names
    assert "train/loss" in names_server.read_names
    (sess,) = list(names_server.cfg.sessions)
    assert all("lr" not in v.name_pattern for v in sess.views)  # its points are not polled
    # a card's share of the page's point budget (the cards in a window cost one big plot)
    assert {v.limits.budget for v in sess.views} == {int(names_server.cfg.limits.budget * CARD_BUDGET_SHARE)}
    drawn = sum(c["drawn"] for c in _cards(page).values())
    assert 0 < drawn < FILLER  # what is in view (and a little more), not every card
    page.mouse.move(900, 400)
    for _ in range(60):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(60)
    _wait_drawn(page, "lr")
    assert "lr" in names_server.read_names


def test_smoothing_in_the_address_sets_every_plot(names_server, page):
    open_page(page, names_server.url + "/?smoothing=0.6&names=loss")
    for title in ("train/loss", "val/loss"):
        card = _wait_drawn(page, title)
        plot = card["plots"][0]
        wait_for(lambda plot=plot: page.evaluate(SMOOTH_JS, plot) == 100, timeout=20, interval=0.1)
    slider = page.evaluate("() => Bokeh.documents[0].get_model_by_name('page:smoothing').value")
    assert slider == 0.6
    (sess,) = list(names_server.cfg.sessions)
    assert sess.views and all(v.smoothing.value == 0.6 for v in sess.views)
    # the header's control: every plot again, and the address follows
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('page:smoothing').value = 0.9; }")
    wait_for(lambda: all(v.smoothing.value == 0.9 for v in sess.views), timeout=10, interval=0.1)
    wait_for(lambda: "smoothing=0.9" in _href(page), timeout=10, interval=0.1)


def test_bad_smoothing_is_one_clear_line(names_server, page):
    open_page(page, names_server.url + "/?smoothing=2")
    err = page.evaluate("() => Bokeh.documents[0].get_model_by_name('error').text")
    assert "&#x27;smoothing=2&#x27;" in err or "'smoothing=2'" in err
    assert "[0, 1)" in err


def test_copy_link_round_trips_the_whole_view(names_server, page):
    open_page(page, names_server.url + "/?x=relative&color_by=lr&rows=train/loss,val/loss")
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('plot:1') !== null")
    doc = "Bokeh.documents[0]"
    # change what the page's controls hold: smoothing, the panel's search, a zoom
    page.evaluate(f"() => {{ {doc}.get_model_by_name('page:smoothing').value = 0.5; }}")
    page.locator("input[placeholder^='search']").first.fill("run1")
    wait_for(lambda: "smoothing=0.5" in _href(page) and "find=run1" in _href(page), timeout=10, interval=0.1)
    (sess,) = list(names_server.cfg.sessions)
    # a zoom (as RangesUpdate reports it) on the document's own loop, with its lock
    names_server.loop.add_callback(
        lambda: sess.doc.add_next_tick_callback(lambda: sess.on_zoom((5.0, 20.0))))
    wait_for(lambda: "zoom=5,20" in _href(page), timeout=10, interval=0.1)
    page.click("text=copy link")
    wait_for(lambda: page.evaluate(f"() => {doc}.get_model_by_name('page:link').value") != "",
             timeout=10, interval=0.1)
    link = page.evaluate(f"() => {doc}.get_model_by_name('page:link').value")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert q == {"x": ["relative"], "color_by": ["lr"], "rows": ["train/loss,val/loss"],
                 "smoothing": ["0.5"], "zoom": ["5,20"], "find": ["run1"]}, q
    # the link opens the same view
    open_page(page, link)
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('plot:1') !== null")
    assert page.evaluate(f"() => {doc}.get_model_by_name('page:smoothing').value") == 0.5
    assert page.evaluate(f"() => {doc}.get_model_by_name('page:x').value") == "relative"
    xr = page.evaluate(f"() => {{ const r = {doc}.get_model_by_name('plot:0').x_range; return [r.start, r.end]; }}")
    assert xr == [5, 20]
    wait_for(lambda: len(names_server.cfg.sessions) >= 1, timeout=5)
    new = [s for s in names_server.cfg.sessions if s is not sess]
    assert new and new[0].layout.color_by == "lr" and new[0].smoothing == 0.5


def test_names_logged_later_get_cards_and_an_idle_log_is_not_listed_again(names_server, store, page,
                                                                          monkeypatch):
    """The page lists the log's names again to find new ones: not while nothing was
    written (a listing walks every group), and less often while listings find nothing;
    a name logged later still gets its card."""
    from streamvis.web.page import names_page

    monkeypatch.setattr(names_page, "DISCOVER_S", 0.2)  # (the server runs in this process)
    monkeypatch.setattr(names_page, "DISCOVER_MAX_S", 0.8)
    calls = {"groups": 0, "cursor": 0}
    source = names_server.source

    def counting(method: str) -> Any:
        real = getattr(source, method)

        def counted(*a: Any, **kw: Any) -> Any:
            calls[method] += 1
            return real(*a, **kw)
        return counted

    for method in calls:
        monkeypatch.setattr(source, method, counting(method))
    open_page(page, names_server.url + "/")
    _wait_drawn(page, "train/loss")
    wait_for(lambda: calls["cursor"] >= 4, timeout=20, interval=0.05)
    before = calls["groups"]
    wait_for(lambda: calls["cursor"] >= 6, timeout=20, interval=0.05)
    assert calls["groups"] == before  # the log did not move: its groups were not walked
    store.append([Points("run1", "val/acc", 0, {"x": np.arange(5.0), "y": np.ones(5)})])
    wait_for(lambda: any(c["title"] == "val/acc" or "val/acc" in c["titles"] for c in _cards(page).values()),
             timeout=20, interval=0.1)  # (below the fold: a titled card, drawn when scrolled to)
    assert _by_title(_cards(page), "val/acc")["section"] == "val/"


def test_a_histograms_values_are_not_taken_for_steps(log_path: str, store: Any, page: Any) -> None:
    """The runs panel's "last step" comes from plots whose x is a step: a histogram's
    distribution is drawn against its values (up to 7 here), at one step at a time, so
    its values are not a step; its stat lines' x is (3 here)."""
    edges = np.linspace(0, 8, 9)
    items: list[Any] = []
    for step in (0.0, 3.0):
        items.append(Points("run1", "w:hist", 0, {"bucket": (edges[:-1] + edges[1:]) / 2 - 0.5,
                                                  "count": np.arange(8.0), "left": edges[:-1],
                                                  "right": edges[1:], "step": np.full(8, step)}))
        items.append(Points("run1", "w:max", 0, {"x": np.array([step]), "y": np.array([7.0])}))
    store.append(items)
    panel = "Bokeh.documents[0].get_model_by_name('runs:source')"
    last_step = f"() => {{ const s = {panel}; return s && s.data.scope.length ? s.data.last_step[0] : undefined; }}"
    srv = WebServer(log_path, None, refresh=0.3)
    try:
        open_page(page, srv.url + "/?rows=w:hist")  # the distribution alone: no step known
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('lines:0:source')?.data.n?.length === 1",
                               timeout=20000)
        page.wait_for_function(f"() => ({last_step})() !== undefined", timeout=20000)
        assert page.evaluate(f"() => {{ const v = ({last_step})(); return v === null || Number.isNaN(v); }}")
        open_page(page, srv.url + "/")  # the card: the distribution and its stat lines
        page.wait_for_function(f"() => ({last_step})() === 3", timeout=20000)
    finally:
        srv.stop()


def test_the_page_of_an_empty_log_says_nothing_to_the_console(log_path: str, store: Any, caplog: Any) -> None:
    """A page opened before the first write (quickstart's is) has no section yet: no
    Bokeh validation warning (EMPTY_LAYOUT) for it in the server's log."""
    import logging
    import urllib.request

    srv = WebServer(log_path, None, refresh=0.3)
    try:
        with caplog.at_level(logging.WARNING):
            with urllib.request.urlopen(srv.url + "/", timeout=30) as r:
                assert r.status == 200
        assert not [rec for rec in caplog.records if "EMPTY_LAYOUT" in rec.getMessage()], caplog.text
    finally:
        srv.stop()
