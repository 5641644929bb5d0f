"""The snapshot (issue 25, part 2) as an attack surface: ``/snapshot`` is guarded like
every page (the web token, the Host check), and hostile scope, name, config and address
text in a snapshot file stays text when the file is opened."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvis.errors import StreamvisError
from streamvis.storage import Store
from streamvis.web.page.auth import COOKIE_NAME, cookie_value
from tests.hardening.hostile_strings import MARK, MARKUP, PWN, STRINGS, SURFACES
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, WebServer

pytestmark = pytest.mark.browser

TOKEN = "snapshot-secret-token"
SCHEMA = "all:\n  name_pattern: .\n  columns: [x, y]\n"
INIT_JS = f"window.__pwned_calls = []; window.{PWN} = (n) => window.__pwned_calls.push(n);"
CHECK_JS = f"""() => {{
  const found = [];
  const walk = (root) => {{
    for (const el of root.querySelectorAll('*')) {{
      if (el.hasAttribute('{MARK}')) found.push(el.outerHTML.slice(0, 160));
      for (const a of ['href', 'src', 'action', 'formaction'])
        if (/^\\s*javascript:/i.test(el.getAttribute(a) || '')) found.push(a);
      if (el.shadowRoot) walk(el.shadowRoot);
    }}
  }};
  walk(document);
  return {{calls: window.__pwned_calls || ['no init script'], found}};
}}"""
TEXT_JS = """() => { const out = [];
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.childElementCount === 0 && el.textContent) out.push(el.textContent); } };
  walk(document); return out.join('\\n'); }"""
TABLE_JS = """() => { const s = Bokeh.documents[0].get_model_by_name('runs:source');
  return s ? Array.from(s.data.scope) : null; }"""
HOSTILE = MARKUP[:6]  # the payloads, each through every surface


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    d = tmp_path_factory.mktemp("hostile-snapshot")
    path = str(d / "hostile.svl")
    store = Store.open(path, mode="a")
    try:
        for surface, (code, records) in SURFACES.items():
            for i, h in enumerate(HOSTILE):
                try:
                    store.append(records(h.text, f"h{i:02d}{code}", i + list(SURFACES).index(surface) / 10))
                except StreamvisError:
                    pass
    finally:
        store.close()
    schema = d / "all.yaml"
    schema.write_text(SCHEMA)
    yield path, str(schema)


@pytest.fixture(scope="module")
def guarded(log: tuple[str, str]) -> Iterator[WebServer]:
    ws = WebServer(log[0], log[1], refresh=0.5, web_token=TOKEN)
    yield ws
    ws.stop()


def _get(ws: WebServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", ws.port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_snapshot_route_needs_the_token_and_one_of_the_servers_names(guarded: WebServer) -> None:
    path = "/snapshot?rows=all"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE_NAME}=forged"}):
        status, _, body = _get(guarded, path, headers)
        assert status == 403, (headers, status, body[:200])
        assert "h00" not in body and "docs_json" not in body
    status, _, body = _get(guarded, path + "&web_token=wrong")
    assert status == 403 and "docs_json" not in body
    # DNS rebinding: a page on another name is refused even with the cookie
    cookie = {"Cookie": f"{COOKIE_NAME}={cookie_value(TOKEN)}"}
    status, _, body = _get(guarded, path, {**cookie, "Host": f"attacker.example:{guarded.port}"})
    assert status == 403 and "docs_json" not in body
    status, headers, body = _get(guarded, path, cookie)
    assert status == 200, body[:300]
    assert headers["content-disposition"] == "attachment; filename=streamvis-snapshot.html"
    assert "docs_json" in body and 'content="streamvis snapshot"' in body
    with guarded.cfg.lock:  # the route's session is closed with the request
        assert not guarded.cfg.sessions


def test_snapshot_size_arguments_that_are_not_pixels_are_one_line_400s(guarded: WebServer) -> None:
    cookie = {"Cookie": f"{COOKIE_NAME}={cookie_value(TOKEN)}"}
    for value in ("inf", "-inf", "nan", "1e400", "abc", "%3Cimg%20src%3Dx%3E", "10", "99999999"):
        status, headers, body = _get(guarded, f"/snapshot?rows=all&snapshot_width={value}", cookie)
        assert status == 400, (value, status, body[:200])
        assert headers["content-type"].startswith("text/plain") and body.count("\n") == 1, body
        assert "snapshot_width" in body or "width" in body, body


def test_hostile_text_in_a_snapshot_stays_text(log: tuple[str, str], tmp_path: Path) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    from streamvis.source import LocalSource
    from streamvis.web.page.snapshot import snapshot_html
    from streamvis.web.schema import load_schema

    payload = STRINGS[0].text  # an <img onerror> through the address (a valid regex)
    args = {"rows": ["all"], "scopes": [f"^h|{payload}"]}
    source = LocalSource.open(log[0])
    try:
        html = snapshot_html(source, load_schema(log[1]), args, title=payload, log_name=STRINGS[1].text)
    finally:
        source.close()
    out = tmp_path / "hostile.html"
    out.write_text(html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            ctx.add_init_script(INIT_JS)
            ctx.set_offline(True)
            page = ctx.new_page()
            page.goto(out.as_uri())
            page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0"
                                   " && Object.keys(Bokeh.index).length > 0", timeout=20000)
            page.wait_for_function(f"() => ({TABLE_JS})() !== null", timeout=20000)
            got: dict[str, Any] = page.evaluate(CHECK_JS)
            texts: str = page.evaluate(TEXT_JS)
            scopes = page.evaluate(TABLE_JS)
            title = page.title()
        finally:
            browser.close()
    assert not got["calls"] and not got["found"], got
    assert payload in texts  # the address, shown as text
    assert STRINGS[1].text in texts  # the log's name, as text
    assert title == payload  # the file's title, as text
    assert any(h.text in s for h in HOSTILE for s in scopes)  # hostile scopes in the runs table
