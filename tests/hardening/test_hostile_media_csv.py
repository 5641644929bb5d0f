"""Hostile input, two surfaces of issues 24 and 25: the plot toolbar's CSV download and the
image and text cards of the page of every name.

One log (hostile scopes, names and texts), one real Bokeh server, one Chromium page
(``window.__pwned`` defined before any page script; dialogs recorded). The CSV must
hold every hostile run and name as text: RFC 4180 quoting, and a leading apostrophe on
a field that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab,
CR). The media cards must show hostile scopes, names and texts as text: nothing runs,
no element a payload would make exists (shadow roots included), the strings are there.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import re2

from streamvis.logger import DataLogger
from streamvis.storage import Points, Store
from tests.hardening.hostile_strings import MARK, MARKUP, PWN
from tests.hardening.test_hostile_browser import CHECK_JS, INIT_JS, TEXT_JS
from tests.helpers import wait_for
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, WebServer
from tests.web.csv_support import download_csv

pytestmark = pytest.mark.browser

# the brief's three, the catalogue's first payload, and each formula trigger
CSV_SCOPES = ['=HYPERLINK("http://x")', 'a,b"c', "<img src=x onerror=alert(1)>", MARKUP[0].text,
              "+1+2", "-3", "@SUM(A1)", "\tTAB", "cr\rlf\nend", "plain"]
CSV_NAME = "=cmd|' /C calc'!A0,\"x\""  # a hostile name of its own card (and file name)
MEDIA_SCOPE = MARKUP[1].text  # a run whose images and texts are shown
IMAGE_NAME = MARKUP[2].text  # an image name: the card's title
TEXT_NAME = MARKUP[3].text  # a text name
TEXT = f"<b {MARK}>bold</b> {MARKUP[0].text} <script>{PWN}(99)</script> =1+2 &amp; end"
GROUPS_JS = """() => { try { const s = Bokeh.documents[0].get_model_by_name('group_points:0');
  return s ? new Set(s.data.group).size : 0; } catch (e) { return 0; } }"""
FORMULA = ("=", "+", "-", "@", "\t", "\r")

# every media card's figures: caption text, the <pre>'s text and child elements, and
# elements a payload would make, as the Div's HTML parses (scripts never run in DOMParser)
MEDIA_JS = f"""() => {{ try {{ const out = [], doc = Bokeh.documents[0];
  for (let k = 0; k < 8; k++) {{
    const div = doc.get_model_by_name('media:' + k); if (!div) continue;
    const html = new DOMParser().parseFromString(div.text, 'text/html');
    for (const fig of html.querySelectorAll('.sv-media figure')) {{
      const pre = fig.querySelector('pre'), img = fig.querySelector('img');
      out.push({{caption: fig.querySelector('figcaption').textContent, text: pre ? pre.textContent : null,
                 children: pre ? pre.childElementCount : 0, img: img ? img.getAttribute('src').slice(0, 22) : null,
                 marked: html.querySelectorAll('[{MARK}]').length}});
    }}
  }}
  return out; }} catch (e) {{ return null; }} }}"""


def _write(path: Path) -> None:
    x = np.arange(8, dtype=np.float64)
    with Store.open(str(path), "a") as st:
        st.append([Points(s, "metric", 0, {"x": x, "y": x + k}) for k, s in enumerate(CSV_SCOPES)])
        st.append([Points(s, "tokens", 0, {"x": x, "y": x * 100}) for s in CSV_SCOPES])  # for x=tokens
        st.append([Points("plain", CSV_NAME, 0, {"x": x, "y": -x})])
    rng = np.random.default_rng(0)
    for scope in (MEDIA_SCOPE, "media"):  # (a logger's start replaces its scope's earlier data)
        lg = DataLogger(scope=scope, path=str(path)).start()
        for step in (0, 5):
            lg.write_image("samples", rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), step=step)
            lg.write_image(IMAGE_NAME, rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), step=step)
            lg.write_text("notes", TEXT, step=step)
            lg.write_text(TEXT_NAME, f"{scope} {TEXT}", step=step)
        lg.close()


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, WebServer, list[str]]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    tmp = tmp_path_factory.mktemp("hostile-media")
    _write(tmp / "h.svl")
    ws = WebServer(str(tmp / "h.svl"), None)  # the page of every name
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
            ctx.add_init_script(INIT_JS)
            page = ctx.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(ws.url + "/")
            page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=20000)
            yield page, ws, dialogs
            browser.close()
    finally:
        ws.stop()


def _clean(page: Any, dialogs: list[str], where: str) -> None:
    got = page.evaluate(CHECK_JS)
    assert not got["calls"] and not got["found"] and not dialogs, (where, got, dialogs)


def _plot_of(page: Any, title: str) -> str | None:
    """The name of the drawn figure titled ``title`` (None until it is drawn)."""
    return page.evaluate("""(t) => { for (const m of Bokeh.documents[0].all_models)
      if (m.name && m.name.startsWith('plot:') && m.title && (m.title.text.text ?? m.title.text) === t
          && m.renderers.some(r => r.data_source && r.data_source.data.n && r.data_source.data.n.length > 0))
        return m.name; return null; }""", title)


def _drawn(page: Any, title: str) -> str:
    page.mouse.move(700, 600)
    for _ in range(10):  # cards are drawn as they come into view
        if _plot_of(page, title) is not None:
            break
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(100)
    wait_for(lambda: _plot_of(page, title) is not None, timeout=30, interval=0.1)
    return str(_plot_of(page, title))


def _expected(text: str) -> str:
    return "'" + text if text.startswith(FORMULA) else text


def test_hostile_runs_and_names_in_a_plots_csv_stay_text(hostile_page: tuple[Any, WebServer, list[str]]) -> None:
    page, ws, dialogs = hostile_page
    plot = _drawn(page, "metric")
    wait_for(lambda: page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('lines:{plot[5:]}:source')"
                                   ".data.n.filter(n => n === 8).length") == len(CSV_SCOPES), timeout=30, interval=0.1)
    got = download_csv(page, plot)
    assert got.filename == "metric.csv"
    runs = {r[0] for r in got.rows}
    assert runs == {_expected(s) for s in CSV_SCOPES}  # every run, as text: the apostrophe where due
    assert "'=HYPERLINK(\"http://x\")" in runs and 'a,b"c' in runs and "'\tTAB" in runs and "cr\rlf\nend" in runs
    assert b'"\'=HYPERLINK(""http://x"")"' in got.raw and b'"a,b""c"' in got.raw  # RFC 4180: quoted, doubled
    assert b'"cr\rlf\nend"' in got.raw
    for k, s in enumerate(CSV_SCOPES):  # each run's points, under its own name
        rows = [r for r in got.rows if r[0] == _expected(s)]
        assert [(float(r[3]), float(r[4])) for r in rows] == [(x, x + k) for x in range(8)], s
        assert {r[1] for r in rows} == {"metric"}
    # a hostile name: its field in the CSV, and a file name without what a file cannot hold
    named = download_csv(page, _drawn(page, CSV_NAME))
    assert {r[1] for r in named.rows} == {_expected(CSV_NAME)} and len(named.rows) == 8
    assert not set(named.filename) & set('/\\:*?"<>|') and named.filename.endswith(".csv")
    _clean(page, dialogs, "csv")
    # against another name (x=tokens) each run is a group of its own, labelled by its scope
    page.goto(ws.url + "/?rows=metric&x=tokens")
    wait_for(lambda: page.evaluate(GROUPS_JS) == len(CSV_SCOPES), timeout=30, interval=0.1)
    grouped = download_csv(page, "plot:0")
    assert grouped.header[0] == "group" and {r[0] for r in grouped.rows} == {_expected(s) for s in CSV_SCOPES}
    _clean(page, dialogs, "csv of groups")


def test_media_cards_show_hostile_scopes_names_and_texts_as_text(
    hostile_page: tuple[Any, WebServer, list[str]],
) -> None:
    page, ws, dialogs = hostile_page
    page.goto(ws.url + "/")  # the page of every name
    page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=20000)
    page.mouse.move(700, 600)

    def figures() -> list[dict[str, Any]]:
        page.mouse.wheel(0, 400)  # every card into view, in turn
        return page.evaluate(MEDIA_JS) or []

    # 4 cards (2 image, 2 text names) x 2 runs, at the latest step
    wait_for(lambda: len(figures()) >= 8, timeout=60, interval=0.2)
    figs = page.evaluate(MEDIA_JS)
    assert all(f["marked"] == 0 for f in figs), figs  # no element of a payload, even parsed
    assert sum(MEDIA_SCOPE in f["caption"] for f in figs) == 4  # the hostile run, as caption text
    texts = [f for f in figs if f["text"] is not None]
    images = [f for f in figs if f["img"] is not None]
    assert len(texts) == 4 and len(images) == 4
    assert all(f["img"] == "data:image/png;base64," for f in images)
    assert all(f["children"] == 0 for f in texts)  # text, not markup
    assert sorted(f["text"] for f in texts) == sorted([TEXT, TEXT, f"{MEDIA_SCOPE} {TEXT}", f"media {TEXT}"])
    shown = "\n".join(page.evaluate(TEXT_JS))
    for s in (IMAGE_NAME, TEXT_NAME, TEXT, MEDIA_SCOPE):  # in the page as its text
        assert s in shown, s
    _clean(page, dialogs, "media cards")


def test_image_and_text_plots_of_a_layout_keep_hostile_patterns_and_names_as_text(
    hostile_page: tuple[Any, WebServer, list[str]],
) -> None:
    """``rows=`` naming image and text names (no schema), their ``names=`` patterns
    hostile: one matches the hostile image name (its card), one matches nothing (the
    plot's note quotes it)."""
    page, ws, dialogs = hostile_page
    nothing = MARKUP[4].text
    args = {"rows": "samples;notes", "names": [re2.escape(IMAGE_NAME), nothing]}
    page.goto(ws.url + "/?" + urllib.parse.urlencode(args, doseq=True, safe=",;"))
    page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=20000)
    wait_for(lambda: len(page.evaluate(MEDIA_JS) or []) >= 2, timeout=60, interval=0.2)
    figs = page.evaluate(MEDIA_JS)
    assert len(figs) == 2 and all(f["img"] == "data:image/png;base64," for f in figs), figs
    assert all(f["marked"] == 0 for f in figs)
    shown = "\n".join(page.evaluate(TEXT_JS))
    assert IMAGE_NAME in shown and nothing in shown  # the card's title, the note's pattern
    _clean(page, dialogs, "media plots")
