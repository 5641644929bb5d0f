"""Hostile input, Chromium half (issue 20): every catalogued string through every surface.

One log holds each string of ``hostile_strings.STRINGS`` as a scope, a name, a column
name, a config key (flat, nested, deep) and a config value, plus config numbers past
float64; one real ``streamvis web-serve`` serves it; Chromium opens the index page,
the main page of each batch of runs (runs panel, legends, titles, hover over lines),
``color_by=`` a hostile key, and every URL parameter of every page with every markup
payload in it (error pages included; the panel's search is used so the page's address
is rewritten). A page fails if a payload ran (``window.__pwned``) or created an element
(``data-sv-pwned``) or a ``javascript:`` link anywhere, shadow roots included; and the
strings must be there as text (the checks are not vacuous).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamvis.errors import StreamvisError
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.web.address.layout import PARAMS
from streamvis.web.plots.color_by import MAX_CATEGORIES
from tests.hardening.hostile_strings import (
    MARK,
    MARKUP,
    NUMBERS,
    PWN,
    STRINGS,
    SURFACES,
    joined_markup,
)
from tests.helpers import append_refused_records, spawn, wait_for
from tests.server.conftest import ROOT, free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.web.helpers import hover_at

pytestmark = pytest.mark.browser

SCHEMA = """
all:
  name_pattern: .
  columns: [x, y]
"""
BATCH = 6  # strings per main page: 4 config-key columns each, under the panel's 24
INIT_JS = f"window.__pwned_calls = []; window.{PWN} = (n) => window.__pwned_calls.push(n);"
CHECK_JS = f"""() => {{
  const found = [];
  const walk = (root) => {{
    for (const el of root.querySelectorAll('*')) {{
      if (el.hasAttribute('{MARK}')) found.push(el.outerHTML.slice(0, 160));
      for (const a of ['href', 'src', 'action', 'formaction'])
        if (/^\\s*javascript:/i.test(el.getAttribute(a) || '')) found.push(a + ': ' + el.getAttribute(a).slice(0, 80));
      if (el.shadowRoot) walk(el.shadowRoot);
    }}
  }};
  walk(document);
  return {{calls: window.__pwned_calls || ['no init script'], found}};
}}"""
# every text on the page (shadow roots included) and the column titles of its tables
TEXT_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      if (el.childElementCount === 0 && el.textContent) out.push(el.textContent);
    }
  };
  walk(document);
  return out;
}"""
OPEN_LINKS_JS = """() => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.tagName === 'A' && el.textContent === 'open') out.push(el.href); } };
  walk(document); return out; }"""
TITLES_JS = """(name) => { const t = Bokeh.documents[0].get_model_by_name(name);
  return t ? t.columns.map(c => c.title) : null; }"""
READY_JS = "() => window.Bokeh !== undefined && Bokeh.documents.length > 0 && Object.keys(Bokeh.index).length > 0"


def _run(i: int, code: str) -> str:
    return f"h{i:02d}{code}"


def _height(i: int, surface: str) -> float:
    """Where the line of string ``i`` through ``surface`` is drawn (each its own)."""
    return i + list(SURFACES).index(surface) / 10


def _write_log(path: Path) -> dict[str, list[str]]:
    """Every string through every surface; what the store refused, by surface."""
    refused: dict[str, list[str]] = {}
    store = Store.open(str(path), mode="a")
    try:
        for surface, (code, records) in SURFACES.items():
            for i, h in enumerate(STRINGS):
                try:
                    store.append(records(h.text, _run(i, code), _height(i, surface)))
                except StreamvisError:  # e.g. NUL in a scope: refused is fine
                    refused.setdefault(surface, []).append(h.label)
        x = [0.0, 1.0]
        store.append([Points("numbers", "metric", 0, {"x": x, "y": x})])
        raw = []
        numbers = ConfigUpdate("numbers", {**NUMBERS, "nested": dict(NUMBERS)})
        try:
            store.append([numbers])
        except StreamvisError:  # writers refuse them now; old logs may hold them
            raw.append(numbers)
    finally:
        store.close()
    if raw:
        append_refused_records(path, raw)
    return refused


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    tmp = tmp_path_factory.mktemp("hostile-browser")
    log = tmp / "hostile.svl"
    refused = _write_log(log)
    schema = tmp / "hostile.yaml"
    schema.write_text(SCHEMA)
    port = free_port()
    out = open(tmp / "web.log", "wb")  # noqa: SIM115 - closed below
    proc = spawn([sys.executable, "-m", "streamvis.cli", "web-serve", f"127.0.0.1:{port}", str(log),
                  str(schema), "--refresh", "0.3"], stdout=out, stderr=subprocess.STDOUT,
                 env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    output = lambda: (tmp / "web.log").read_text(errors="replace")  # noqa: E731
    try:
        wait_for(lambda: proc.poll() is not None or "open http://" in output(), timeout=60, interval=0.1)
        assert proc.poll() is None, output()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
            ctx.add_init_script(INIT_JS)
            page = ctx.new_page()
            yield {"url": f"http://127.0.0.1:{port}", "page": page, "refused": refused, "log": log}
            browser.close()
        assert "Traceback" not in output() and "OverflowError" not in output(), output()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.close()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function(READY_JS, timeout=20000)


def _clean(page: Any, where: str) -> None:
    got = page.evaluate(CHECK_JS)
    assert not got["calls"] and not got["found"], (where, got)


def _panel_rows(page: Any) -> int:
    return int(page.evaluate("""() => { const s = Bokeh.documents[0].get_model_by_name('runs:source');
      return s ? s.data.scope.length : -1; }"""))


def test_every_string_through_every_surface_stays_text(served: dict[str, Any]) -> None:
    page, url = served["page"], served["url"]
    # the index page: runs table (24 config columns), names, plots
    _open(page, f"{url}/index")
    _clean(page, "index")
    titles = page.evaluate(TITLES_JS, "index:table")
    hostile_titles = [t for t in titles if "<" in t or "&lt;" in t]
    assert len(hostile_titles) >= 8, titles  # markup keys are among its columns
    texts = "\n".join(page.evaluate(TEXT_JS))
    assert MARKUP[0].text in texts  # a key with markup, shown as text
    opens = page.evaluate(OPEN_LINKS_JS)  # the rows' links (escaped by their template)
    assert opens and all(u.startswith(f"{url}/?scopes=%5E") for u in opens), opens[:3]  # (issue 21: every name)
    # the main page of each batch of runs: panel (columns, cells, colour-by options),
    # legend, titles, and hover over each batch's lines
    hovered: set[str] = set()
    tables: list[str] = []
    for b in range(0, len(STRINGS), BATCH):
        runs = "|".join(f"{i:02d}" for i in range(b, min(b + BATCH, len(STRINGS))))
        query = urllib.parse.urlencode({"rows": "all", "scopes": f"^h(?:{runs})"}, safe=",;")
        _open(page, f"{url}/?{query}")
        wait_for(lambda: _panel_rows(page) > 0, timeout=20, interval=0.1)
        _clean(page, f"batch {b}")
        titles = page.evaluate(TITLES_JS, "runs:table")
        texts = "\n".join(page.evaluate(TEXT_JS))
        for i in range(b, min(b + BATCH, len(STRINGS))):
            h = STRINGS[i]
            if h.markup and "config key" not in served["refused"]:
                shown = [t for t in titles if t.endswith(_escaped(h.text))]
                assert shown, (h.label, titles)
                assert h.text in texts, (h.label, "not shown as text")  # the header's text
        lines = [_height(i, surface) for i in range(b, min(b + BATCH, len(STRINGS)))
                 if STRINGS[i].markup for surface in ("scope", "name")]
        # the swatches (HTML templates) hold the runs' colours, whatever the runs' names
        swatches = page.evaluate("() => Bokeh.documents[0].get_model_by_name('runs:source').data.swatch")
        assert swatches and all(re.fullmatch(r"#[0-9a-fA-F]{6}", c) for c in swatches), swatches[:5]
        tips = _hover_lines(page, lines)
        assert any(t.startswith("h") for t in tips), tips[:10]  # tooltips named runs
        hovered.update(tips)
        # the hover table (every shown run at the cursor's x) names runs and names as text
        tables.append(page.evaluate(HOVER_TABLE_TEXT_JS))
        _clean(page, f"batch {b}")
    assert any(h.text in t for h in MARKUP for t in hovered), sorted(hovered)[:20]
    assert any(h.text in t for h in MARKUP for t in tables), [t[:200] for t in tables]
    # colour by a hostile key: the legend of its values, the colour bar, the picker
    query = urllib.parse.urlencode({"rows": "all", "scopes": "^h0[0-5]", "color_by": MARKUP[0].text})
    _open(page, f"{url}/?{query}")
    wait_for(lambda: _panel_rows(page) > 0, timeout=20, interval=0.1)
    _clean(page, "color_by")
    # config numbers Bokeh cannot send are shown as their digits
    _open(page, f"{url}/?rows=all&scopes=^numbers$")
    cell = """() => { const s = Bokeh.documents[0].get_model_by_name('runs:source');
      return s && s.data['cfg:past-float64'] ? s.data['cfg:past-float64'][0] : null; }"""
    wait_for(lambda: page.evaluate(cell) is not None, timeout=20, interval=0.1)
    assert page.evaluate(cell) == str(10**309)
    _clean(page, "numbers")


def _escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


TOOLTIP_JS = """() => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.classList.contains('bk-tooltip-row-value') || el.classList.contains('bk-tooltip-value'))
      out.push(el.textContent); } };
  walk(document); return out; }"""


HOVER_TABLE_TEXT_JS = """() => { const b = document.getElementById('sv-hover-table');
  return b === null ? '' : [...b.querySelectorAll('td')].map(td => td.textContent).join('\\n'); }"""


def _hover_lines(page: Any, heights: list[float]) -> list[str]:
    """Hover the lines at ``heights``; the texts their tooltips showed (the runs'
    scopes and names)."""
    drawn = """(n) => { const s = Bokeh.documents[0].get_model_by_name('lines:0:source');
      return s !== null && s.data.label !== undefined && s.data.label.length >= n; }"""
    page.wait_for_function(drawn, arg=len(heights), timeout=20000)
    page.mouse.move(0, 0)
    shown: list[str] = []
    for y in heights:
        hover_at(page, "plot:0", 2.0, y)
        try:
            page.wait_for_function(f"() => ({TOOLTIP_JS})().length > 0", timeout=3000)
        except Exception:  # noqa: BLE001 - a line hidden under another: the next one
            continue
        shown += page.evaluate(TOOLTIP_JS)
    return shown


# every card's title as the page holds it: a placeholder's HTML, or a drawn plot's title text
CARD_TITLES_JS = """() => { try { const doc = Bokeh.documents[0]; const out = {html: [], text: [], sections: []};
  const box = doc.get_model_by_name('names:sections');
  if (!box) return null;
  for (const sec of box.children) {
    out.sections.push(sec.children[0].label);
    for (const card of sec.children[1].children) {
      const kids = card.elements[0].children, first = kids[0];  // (the card's body)
      if (first.text !== undefined) { out.html.push(first.text); continue; }
      const walk = (m) => { if (m.title !== undefined && m.renderers !== undefined) out.text.push(m.title.text.text ?? m.title.text);
                            for (const c of (m.children ?? [])) walk(c); };
      for (const c of kids) walk(c);
    }
  }
  return out; } catch (e) { return null; } }"""


def test_the_page_of_every_name_keeps_names_as_text(served: dict[str, Any]) -> None:
    """Issue 21's surfaces: section titles and card titles from hostile names, a slider
    titled by a hostile column, the name filter box (a hostile filter, a bad one, and one
    in the address)."""
    page, url = served["page"], served["url"]
    _open(page, f"{url}/?{urllib.parse.urlencode({'scopes': '^h[0-9][0-9][mc]$'})}")
    wait_for(lambda: page.evaluate(CARD_TITLES_JS) is not None, timeout=20, interval=0.1)
    page.mouse.move(900, 500)
    for _ in range(40):  # scroll through: cards are drawn (canvas titles, sliders) as seen
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(50)
    _clean(page, "every name")
    got = page.evaluate(CARD_TITLES_JS)
    texts = "\n".join(page.evaluate(TEXT_JS))
    for h in MARKUP:
        name = f"m {h.text}"
        if "name" in served["refused"] and h.label in served["refused"]["name"]:
            continue
        # a card per hostile name: its title as text (escaped in a placeholder, or the
        # canvas title of a drawn plot)
        assert _escaped(name) in got["html"] or name in got["text"], (h.label, got)
        head, sep, _ = name.partition("/")
        if sep and head:  # a section named by the part before '/': a button's text
            assert any(lbl.endswith(f" {head}/") for lbl in got["sections"]), (h.label, got["sections"])
            assert f"{head}/" in texts
    # the filter box: a hostile (valid) pattern, then a hostile bad one: one line, as text
    box = page.get_by_placeholder("filter names (RE2), Enter")
    for text in (MARKUP[0].text, "(" + MARKUP[1].text):
        box.fill(text)
        box.press("Enter")
        page.wait_for_timeout(300)
        _clean(page, f"filter {text[:20]}")
    msg = "() => Bokeh.documents[0].get_model_by_name('names:message').text"
    wait_for(lambda: "bad regex" in page.evaluate(msg), timeout=60, interval=0.2)  # (after the drawing)
    assert "<script" not in page.evaluate(msg)  # escaped
    # a hostile names= in the address: the page or its error page, clean
    for value in (MARKUP[2].text, "(" + MARKUP[3].text):
        _open(page, f"{url}/?{urllib.parse.urlencode({'names': value, 'scopes': '^h0[0-2]m$'})}")
        _clean(page, f"names= {value[:20]}")


def test_every_url_parameter_with_every_payload(served: dict[str, Any]) -> None:
    page, url = served["page"], served["url"]
    evil = joined_markup()
    for param in PARAMS:
        args = {"rows": "all", "scopes": "^h0[0-2]", param: evil}
        _open(page, f"{url}/?{urllib.parse.urlencode(args, safe=',;')}")
        if _panel_rows(page) >= 0:  # a page of plots: use the panel, so the address is rewritten
            box = page.get_by_placeholder("search runs")  # (find= keeps its payload: typed after it)
            box.press("End")
            box.press_sequentially("h")
            page.wait_for_function("() => window.location.search.includes('find=')", timeout=10000)
        _clean(page, f"param {param}")
    # hostile parameter names: the error page names the first, as text
    names = {h.text: "1" for h in MARKUP[:6]}
    _open(page, f"{url}/?{urllib.parse.urlencode({'rows': 'all', **names})}")
    message = page.evaluate("""() => { for (const m of Bokeh.documents[0].all_models)
      if (m.name === 'error') return m.text; return null; }""")
    assert message is not None and "unknown parameter" in message
    assert "<img" not in message  # escaped
    _clean(page, "param names")
    # the index page ignores parameters; hostile ones change nothing
    _open(page, f"{url}/index?{urllib.parse.urlencode({p: evil for p in PARAMS})}")
    _clean(page, "index with parameters")


GROUP_LABELS_JS = """() => { const s = Bokeh.documents[0].get_model_by_name('group_lines:0');
  return s === null ? null : Array.from(s.data.group); }"""


def test_hostile_config_values_as_group_labels_stay_text(served: dict[str, Any]) -> None:
    """``group=v``: each hostile config value names a group (its line, legend entry and
    hover field ``@group``, which Bokeh escapes); nothing runs, and the labels are the
    strings themselves."""
    page, url = served["page"], served["url"]
    code = SURFACES["config value"][0]
    _open(page, f"{url}/?rows=all&group=v&scopes={code}$")
    want = {f"v={h.text}" for h in STRINGS if h.text}
    page.wait_for_function(f"() => {{ const g = ({GROUP_LABELS_JS})(); return g !== null && g.length >= 3; }}",
                           timeout=20000)
    labels = set(page.evaluate(GROUP_LABELS_JS))
    assert labels & want and labels <= want | {"(no v)"}, labels
    _clean(page, "group labels")
    legend = page.evaluate("""() => { for (const m of Bokeh.documents[0].all_models)
      if (m.items !== undefined && m.items.length > 0 && m.items[0].label !== undefined)
        return m.items.map(i => i.label.value); return null; }""")
    assert legend is not None and set(legend) <= labels  # canvas text: the strings themselves
    # the runs panel's groups table: each label a group row's title, its runs under it
    page.wait_for_function("() => { const s = Bokeh.documents[0].get_model_by_name('groups:source');"
                           " return s !== null && s.data.group.length >= 3; }", timeout=20000)
    for toggle in page.locator(".slick-group .slick-group-toggle").all()[:4]:
        toggle.click()  # expanded: the runs' rows drawn too
    titles = page.locator(".slick-group-title").all_text_contents()
    assert set(titles) & want and set(titles) <= want | {"(no v)"}, titles  # the very strings
    _clean(page, "groups table")


SUMMARY_DATA_JS = """() => { const s = Bokeh.documents[0].get_model_by_name('runs:source');
  return s ? Object.keys(s.data).filter(k => k.startsWith('sum:')).map(k => [k, s.data[k]]) : null; }"""


def test_hostile_names_in_summary_columns_stay_text(served: dict[str, Any]) -> None:
    """Summary columns (``summary=``) of hostile names: the column titles, the menu's
    options and chosen items (choices.js writes labels as HTML), the cells: all text."""
    page, url = served["page"], served["url"]
    refused = set(served["refused"].get("name", []))
    picked = [(i, h) for i, h in enumerate(STRINGS) if h.markup and h.label not in refused][:4]
    assert picked
    keys = [f"m {h.text}.last" for _, h in picked]
    runs = "|".join(f"{i:02d}" for i, _ in picked)
    query = urllib.parse.urlencode({"rows": "all", "scopes": f"^h(?:{runs})m$", "summary": ",".join(keys)},
                                   safe=",;")
    _open(page, f"{url}/?{query}")
    wait_for(lambda: _panel_rows(page) == len(picked), timeout=20, interval=0.1)
    # every run's own hostile name has a value (its line's last y), the others none
    want = {f"sum:{k}" for k in keys}
    wait_for(lambda: {k for k, vs in (page.evaluate(SUMMARY_DATA_JS) or []) if any(v is not None for v in vs)}
             == want, timeout=20, interval=0.1)
    _clean(page, "summary columns")
    titles = page.evaluate(TITLES_JS, "runs:table")
    for k in keys:
        assert any(t == _escaped(k) for t in titles), (k, titles)
    texts = "\n".join(page.evaluate(TEXT_JS))
    assert any(k in texts for k in keys), "the chosen summaries are not shown as text"
    # open the menu: its options (every stat of each hostile name) drawn as text too
    page.locator(".choices").first.click()
    page.wait_for_timeout(300)
    _clean(page, "summary menu")


RUNS_PAST_CATEGORIES = MAX_CATEGORIES + 2
TEX = r"$$\color{red}{\mathrm{typeset}}$$ \(a^2\) \[b\]"  # every delimiter BokehJS reads as TeX
# every view's model in the page: TeX views (BokehJS typesets a str holding a delimiter)
# and the texts of plain-text views
TEX_VIEWS_JS = """() => { const seen = new Set(), tex = [], plain = [];
  const walk = (v) => { if (!v || seen.has(v)) return; seen.add(v);
    const type = v.model ? v.model.type : '';
    if (type === 'TeX') tex.push(v.model.text);
    if (type === 'PlainText') plain.push(v.model.text);
    for (const c of (v.children ? v.children() : [])) walk(c); };
  for (const v of Object.values(Bokeh.index)) walk(v);
  return {tex, plain}; }"""


def test_names_and_keys_with_tex_delimiters_are_drawn_as_text(served: dict[str, Any]) -> None:
    """Bokeh typesets (MathJax) a title, axis label or colour bar title holding $$...$$,
    \\(...\\) or \\[...\\]: a name or config key from the log must be drawn as it is, in
    the titles of the page of every name and of a schema's plot, the colour bar of
    ``color_by=`` and the axis of ``x=NAME``."""
    page, url = served["page"], served["url"]
    name = f"t/{TEX}"
    with Store.open(str(served["log"]), mode="a") as store:
        for r in range(RUNS_PAST_CATEGORIES):  # distinct numbers past the categories: a colour bar
            x = np.arange(4.0)
            store.append([ConfigUpdate(f"tex{r:02d}", {TEX: 0.1 + 0.4 * r, "seed": r}),
                          Points(f"tex{r:02d}", name, 0, {"x": x, "y": x * r}),
                          Points(f"tex{r:02d}", "t/other", 0, {"x": x, "y": x})])
    scopes = "^tex[0-9][0-9]$"
    pages = {
        "every name": {"scopes": scopes},
        "color_by": {"rows": "all", "scopes": scopes, "color_by": TEX},
        "x=NAME": {"rows": "all", "scopes": scopes, "names": "^t/other$", "group": "-seed", "x": name},
    }
    for label, query in pages.items():
        _open(page, f"{url}/?{urllib.parse.urlencode(query)}")
        try:
            wait_for(lambda: TEX in " ".join(page.evaluate(TEX_VIEWS_JS)["plain"]), timeout=30, interval=0.2)
        except AssertionError:
            raise AssertionError((label, page.evaluate(TEX_VIEWS_JS), page.evaluate(TEXT_JS)[:40])) from None
        _clean(page, label)
        got = page.evaluate(TEX_VIEWS_JS)
        assert got["tex"] == [], (label, got["tex"])
        assert any(TEX in t for t in got["plain"]), (label, got["plain"])


def test_hostile_runs_and_names_of_one_point_hover_as_text(served: dict[str, Any]) -> None:
    """A line of one point is a dot (``web/plots/single_points``), a surface of its own
    with the line's labels: hovered, its run and name are the strings themselves and
    nothing runs."""
    page, url = served["page"], served["url"]
    strings = [h for h in MARKUP if "\x00" not in h.text][:4]
    with Store.open(str(served["log"]), mode="a") as store:
        store.append([Points(f"dot{i}{h.text}", f"dot/{h.text}", 0, {"x": [5.0], "y": [100.0 + i]})
                      for i, h in enumerate(strings)])
    _open(page, f"{url}/?rows=all&scopes=^dot")
    page.wait_for_function(f"() => {{ const d = Bokeh.documents[0].get_model_by_name('lines:0:dots');"
                           f" return d !== null && d.data.scope.length === {len(strings)}; }}", timeout=20000)
    page.mouse.move(0, 0)
    shown: list[str] = []
    for i in range(len(strings)):
        hover_at(page, "plot:0", 5.0, 100.0 + i)
        page.wait_for_function(f"() => ({TOOLTIP_JS})().some(t => t.startsWith('dot{i}'))", timeout=5000)
        shown += [t.strip() for t in page.evaluate(TOOLTIP_JS)]
    for i, h in enumerate(strings):
        assert f"dot{i}{h.text}" in shown and f"dot/{h.text}" in shown, (h.label, shown)
    _clean(page, "one-point dots")
