"""Issue 20, web part: markup from the data or the address stays text; no credential
reaches the page; the auth cookie expires; mistakes get one clear line.

Real Bokeh servers (in a thread, or ``streamvis web-serve``), real HTTP requests and
Bokeh's own client; the browser half is ``tests/hardening/test_hostile_browser.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points
from streamvis.web.page.auth import COOKIE_NAME, cookie_valid, cookie_value
from tests.helpers import append_refused_records, wait_for

from .conftest import ROOT, WebServer
from .helpers import demo_items, open_page
from .test_web_auth import request

TOKEN = "t0ken-for-security-9c2"
XSS_KEY = "k<img src=x onerror=alert(1)>"
HUGE = 10**309  # past float64: Bokeh's serializer raised OverflowError
CLI = [sys.executable, "-m", "streamvis.cli"]


# -- 2 and 3: markup stays text ------------------------------------------------------------
def test_a_config_key_with_markup_is_an_escaped_column_title(store, log_path, demo_schema):
    """SlickGrid inserts column titles as HTML: the runs panel's and the index page's
    titles of config keys (flat and nested) are escaped."""
    from streamvis.source import LocalSource
    from streamvis.web.page.index_page import index_root
    from streamvis.web.runs.runs_panel import RunRow, RunsPanel, config_column
    from streamvis.web.schema import load_schema

    assert "<" not in config_column(XSS_KEY, 80).title
    store.append([ConfigUpdate("r", {XSS_KEY: 1, "outer": {XSS_KEY: 2}}),
                  *demo_items(["r"], steps=3)[1:2]])
    source = LocalSource.open(log_path)
    try:
        page = index_root(source, load_schema(demo_schema))
        titles = [c.title for m in page.root.select({"name": "index:table"}) for c in m.columns]
    finally:
        source.close()
    assert "k&lt;img src=x onerror=alert(1)&gt;" in titles
    assert "outer.k&lt;img src=x onerror=alert(1)&gt;" in titles
    assert not any("<" in t for t in titles), titles
    panel = RunsPanel(on_shown=lambda _: None, on_highlight=lambda _: None)
    panel.update({"r": RunRow("#000")}, {"r": {XSS_KEY: 1, f"outer.{XSS_KEY}": 2}})
    assert not any("<" in c.title for c in panel.table.columns)


def test_the_page_address_is_kept_as_data_not_markup():
    """A hidden Div held the address as HTML: markup in find= ran after the panel's
    first use. The address now rides in a data source."""
    from bokeh.models import ColumnDataSource

    from streamvis.web.address.page_url import PageUrl

    url = PageUrl({"rows": ["loss"], "color_by": ["<img src=x onerror=alert(1)>"]})
    url.update({"find": "<svg onload=alert(2)>"})
    assert isinstance(url.source, ColumnDataSource) and not hasattr(url, "div")
    assert "find=<svg%20onload=alert%282%29>" in url.text  # text, for history.replaceState


# -- 4 and 10: credentials ---------------------------------------------------------------------
@pytest.fixture
def guarded(store, log_path, demo_schema):
    store.append(demo_items(["secret-run"], steps=5))
    ws = WebServer(log_path, demo_schema, refresh=0.3, web_token=TOKEN)
    yield ws
    ws.stop()


def _session_payload(html: str) -> dict[str, Any]:
    from bokeh.util.token import get_token_payload

    found = re.findall(r'"token":\s*"([A-Za-z0-9_\-.=]+)"', html)
    assert found, html[:2000]
    return dict(get_token_payload(found[0]))


@pytest.mark.parametrize("path", ["/?rows=loss", "/index"])
def test_no_credential_is_in_the_session_token_of_the_page(guarded, path):
    """Bokeh's session token (readable by any script in the page) carried the request's
    headers and cookies: the bearer token and the auth cookie. Decoded, it holds neither."""
    cookie = cookie_value(TOKEN)
    for headers in (
        {"Authorization": f"Bearer {TOKEN}"},
        {"Cookie": f"{COOKIE_NAME}={cookie}; other=kept"},
        {"Cookie": f"{COOKIE_NAME}={cookie}"},
    ):
        status, _, html, _ = request(guarded, path, headers)
        assert status == 200, (status, html[:300])
        payload = json.dumps(_session_payload(html), default=repr)
        assert TOKEN not in payload and cookie not in payload, payload
        assert COOKIE_NAME not in payload and "Authorization" not in payload, payload
    status, _, html, _ = request(guarded, path, {"Cookie": f"{COOKIE_NAME}={cookie}; other=kept"})
    assert _session_payload(html)["cookies"] == {"other": "kept"}  # other cookies still pass


def test_the_cookie_expires_and_forgeries_are_refused(guarded):
    week = 7 * 86400
    fresh = cookie_value(TOKEN)
    assert cookie_valid(TOKEN, fresh, week)
    old = cookie_value(TOKEN, issued=time.time() - week - 60)
    assert not cookie_valid(TOKEN, old, week)
    at = fresh.split(".")[0]
    forged = [
        old,
        f"{int(time.time())}.{'0' * 64}",  # a made-up signature
        f"{int(at) + 86400}.{fresh.split('.')[1]}",  # a moved issue time
        cookie_value("another-token"),
        cookie_value(TOKEN, issued=time.time() + 86400),  # issued in the future
        fresh.split(".")[1],  # the bare HMAC (the old format)
    ]
    for value in forged:
        status, _, body, _ = request(guarded, "/index", {"Cookie": f"{COOKIE_NAME}={value}"})
        assert status == 403 and "secret-run" not in body, value
    status, _, _, _ = request(guarded, "/index", {"Cookie": f"{COOKIE_NAME}={fresh}"})
    assert status == 200
    _, _, _, cookies = request(guarded, "/index", {"Authorization": f"Bearer {TOKEN}"})
    assert "max-age=604800" in cookies[0].lower() or "expires=" in cookies[0].lower(), cookies


def test_the_cookie_lifetime_is_an_option(store, log_path, demo_schema):
    store.append(demo_items(["secret-run"], steps=5))
    ws = WebServer(log_path, demo_schema, refresh=0.3, web_token=TOKEN, cookie_days=10)
    try:
        eight_days = cookie_value(TOKEN, issued=time.time() - 8 * 86400)
        status, _, _, _ = request(ws, "/index", {"Cookie": f"{COOKIE_NAME}={eight_days}"})
        assert status == 200
        eleven = cookie_value(TOKEN, issued=time.time() - 11 * 86400)
        status, _, _, _ = request(ws, "/index", {"Cookie": f"{COOKIE_NAME}={eleven}"})
        assert status == 403
    finally:
        ws.stop()


def test_a_proxys_basic_auth_header_is_ignored_beside_a_valid_cookie(guarded):
    """A reverse proxy's ``Authorization: Basic`` made a request with a valid cookie fail."""
    cookie = {"Cookie": f"{COOKIE_NAME}={cookie_value(TOKEN)}"}
    for scheme in ("Basic dXNlcjpwYXNz", "Digest username=x", "Negotiate abc"):
        status, _, body, _ = request(guarded, "/index", {"Authorization": scheme, **cookie})
        assert status == 200, (scheme, status, body[:200])
        status, _, body, _ = request(guarded, "/index", {"Authorization": scheme})
        assert status == 403 and "secret-run" not in body  # not a way in either
    status, _, _, _ = request(guarded, "/index", {"Authorization": "Bearer wrong", **cookie})
    assert status == 403  # a wrong bearer token is still refused


# -- 6: any stored config is shown ---------------------------------------------------------
def test_a_config_number_past_float64_is_shown_as_text(store, log_path, demo_schema, page):
    """``{"seed": 10**309}`` made every page showing the run fail (OverflowError in
    Bokeh's serializer): the index page and the runs panel show its digits."""
    x = np.arange(5, dtype=np.float64)
    store.append([Points("big", "loss", 0, {"x": x, "y": x})])
    store.close()  # writers refuse such a config now; logs of older ones may hold it
    append_refused_records(
        log_path, [ConfigUpdate("big", {"seed": HUGE, "nested": {"n": -HUGE}, "ok": 2**60})])
    ws = WebServer(log_path, demo_schema, refresh=0.2)
    try:
        for path, source in (("/index", "index:runs"), ("/?rows=loss", "runs:source")):
            open_page(page, ws.url + path)
            cells = f"""() => {{ const s = Bokeh.documents[0].get_model_by_name('{source}');
              return s && s.data['cfg:seed'] ? [s.data['cfg:seed'][0], s.data['cfg:nested.n'][0],
                                                s.data['cfg:ok'][0]] : null; }}"""
            wait_for(lambda js=cells: page.evaluate(js) is not None, timeout=15, interval=0.1)
            assert page.evaluate(cells) == [str(HUGE), str(-HUGE), str(2**60)], path  # exact digits
    finally:
        ws.stop()


def test_sendable_config_values():
    from streamvis.web.address.where import flatten
    from streamvis.web.safe_html import sendable

    assert sendable(HUGE) == str(HUGE) and sendable(-HUGE) == str(-HUGE)
    assert sendable(2**60) == 2**60 and sendable(1.5) == 1.5 and sendable(True) is True
    deep: dict[str, Any] = {"v": HUGE}
    for _ in range(3000):  # flatten is iterative: any depth
        deep = {"a": deep}
    flat = flatten(deep)
    assert list(flat.values()) == [str(HUGE)] and next(iter(flat)).count(".") == 3000


# -- 14 and 15: mistakes --------------------------------------------------------------------------
def test_swapped_data_and_schema_is_one_line(store, log_path, demo_schema):
    store.append(demo_items(["r"], steps=3))
    store.flush() if hasattr(store, "flush") else None
    r = subprocess.run([*CLI, "web-serve", "127.0.0.1:1", str(demo_schema), log_path],
                       capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    assert "not YAML" in lines[0] and "looks like a streamvis log" in lines[0], lines[0]
    assert log_path in lines[0] and "swapped" in lines[0]


def test_a_binary_non_log_schema_is_one_clear_error(tmp_path):
    from streamvis.web.schema import SchemaError, load_schema

    bad = tmp_path / "s.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SchemaError, match="not YAML text: byte 0xff at offset 0"):
        load_schema(bad)


def test_a_misspelt_page_parameter_gets_a_suggestion():
    from streamvis.web.address.layout import LayoutError, parse_layout
    from streamvis.web.schema import demo_schema_path, load_schema

    schema = load_schema(demo_schema_path())
    with pytest.raises(LayoutError, match=r"unknown parameter 'colour_by' \(did you mean 'color_by'\?\)"):
        parse_layout({"rows": ["loss"], "colour_by": ["lr"]}, schema)
    with pytest.raises(LayoutError, match=r"unknown parameter 'zzz'; allowed"):
        parse_layout({"rows": ["loss"], "zzz": ["1"]}, schema)


TITLE_JS = ("() => (t => t?.text ?? t ?? '')(Bokeh.documents[0].get_model_by_name('plot:0')?.title?.text)")


def test_where_naming_a_key_no_run_has_says_so(store, log_path, demo_schema, page):
    """``where=learning_rate>0`` over runs with ``lr``: the page names the unknown key
    and lists the runs' keys, instead of waiting silently."""
    store.append(demo_items(["a", "b"], steps=5))  # configs {lr, seed}
    ws = WebServer(log_path, demo_schema, refresh=0.2)
    try:
        open_page(page, f"{ws.url}/?rows=loss&where=learning_rate>0")
        wait_for(lambda: "no run has" in page.evaluate(TITLE_JS), timeout=15, interval=0.1)
        title = page.evaluate(TITLE_JS)
        assert "config key 'learning_rate'" in title and "lr, seed" in title, title
        open_page(page, f"{ws.url}/?rows=loss&where=lr>1")  # a known key: still waiting
        wait_for(lambda: "waiting for data" in page.evaluate(TITLE_JS), timeout=15, interval=0.1)
        assert "no run has" not in page.evaluate(TITLE_JS)
    finally:
        ws.stop()
