"""web-serve --web-token and HTTPS: refused and accepted on every page, websocket and
data route (real HTTP requests and headless Chromium against a real Bokeh server)."""

from __future__ import annotations

import base64
import http.client
import os
import ssl
from typing import Any

import pytest

from streamvis.web.page.auth import (
    COOKIE_NAME,
    cookie_valid,
    cookie_value,
    resolve_web_token,
    strip_token,
)
from tests.helpers import self_signed_cert

from .conftest import WebServer
from .helpers import count_js, demo_items, open_page

TOKEN = "t0ken-for-tests-5d1e"
# every Bokeh route that serves a page, a websocket or data, for both applications
PAGES = ["/", "/?rows=loss", "/index"]
DATA = [
    "/metadata",
    "/index/metadata",
    "/autoload.js?bokeh-autoload-element=x",
    "/index/autoload.js?bokeh-autoload-element=x",
]
WEBSOCKETS = ["/ws", "/index/ws"]


def _conn(server: WebServer, tls_ca: str | None = None) -> http.client.HTTPConnection:
    if tls_ca is None:
        return http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    ctx = ssl.create_default_context(cafile=tls_ca)
    return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=20, context=ctx)


def request(
    server: WebServer, path: str, headers: dict[str, str] | None = None, tls_ca: str | None = None
) -> tuple[int, dict[str, str], str, list[str]]:
    """(status, headers, body, Set-Cookie values) of one GET, redirects not followed."""
    conn = _conn(server, tls_ca)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        cookies = resp.msg.get_all("Set-Cookie") or []
        body = "" if resp.status == 101 else resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, cookies
    finally:
        conn.close()


def ws_headers(server: WebServer, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        "Origin": f"http://127.0.0.1:{server.port}",
        **(extra or {}),
    }


LOSS_0_ARRIVED = count_js(0, "secret-run · loss · 0", 20)  # the websocket delivered data
COOKIE = {"Cookie": f"{COOKIE_NAME}={cookie_value(TOKEN)}"}


@pytest.fixture
def server(store, log_path, demo_schema):
    store.append(demo_items(["secret-run"], steps=20))
    ws = WebServer(log_path, demo_schema, refresh=0.3, web_token=TOKEN)
    yield ws
    ws.stop()


def _our_cookie(set_cookie: str) -> bool:
    """A Set-Cookie line carrying a valid cookie of TOKEN (issued just now)."""
    name, _, rest = set_cookie.partition("=")
    return name == COOKIE_NAME and cookie_valid(TOKEN, rest.split(";")[0], 60)


def _refused(status: int, body: str) -> None:
    assert status == 403, (status, body[:300])
    assert "secret-run" not in body and "Bokeh" not in body and "docs_json" not in body


@pytest.mark.parametrize("path", PAGES + DATA)
def test_pages_and_data_routes_refuse_without_the_token(server, path):
    status, _, body, cookies = request(server, path)
    _refused(status, body)
    assert "web_token" in body and not cookies  # the page says how to get in
    for bad in ({"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE_NAME}=forged"},
                {"Authorization": f"Basic {TOKEN}"}):
        status, _, body, _ = request(server, path, bad)
        _refused(status, body)
    sep = "&" if "?" in path else "?"
    status, _, body, cookies = request(server, f"{path}{sep}web_token=wrong")
    _refused(status, body)
    assert not cookies


@pytest.mark.parametrize("path", PAGES + DATA)
def test_pages_and_data_routes_accept_the_header_or_the_cookie(server, path):
    status, _, body, cookies = request(server, path, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, (status, body[:300])
    assert any(_our_cookie(c) for c in cookies), cookies
    assert TOKEN not in "".join(cookies)  # the cookie holds an HMAC, never the token
    assert "httponly" in cookies[0].lower() and "samesite=lax" in cookies[0].lower()
    status, _, body2, _ = request(server, path, COOKIE)
    assert status == 200, (status, body2[:300])


@pytest.mark.parametrize("path", WEBSOCKETS)
def test_websocket_refused_without_and_accepted_with_the_cookie(server, path):
    status, _, body, _ = request(server, path, ws_headers(server))
    _refused(status, body)
    status, _, body, _ = request(
        server, path, ws_headers(server, {"Cookie": f"{COOKIE_NAME}=forged"})
    )
    _refused(status, body)
    status, headers, _, _ = request(server, path, ws_headers(server, COOKIE))
    assert status == 101 and headers.get("upgrade", "").lower() == "websocket"


def test_static_js_stays_open(server):
    status, _, body, _ = request(server, "/")  # find the script the page would load
    assert status == 403
    status, _, body, _ = request(server, "/static/js/bokeh.min.js")
    assert status == 200 and len(body) > 10_000


@pytest.mark.parametrize(
    "path, target",
    [
        (f"/?web_token={TOKEN}", "/"),
        (f"/?rows=loss,lr;weights&web_token={TOKEN}&width=1,2,1", "/?rows=loss,lr;weights&width=1,2,1"),
        (f"/index?web_token={TOKEN}", "/index"),
        (f"/?names=a%26b&web_token={TOKEN}&rows=loss", "/?names=a%26b&rows=loss"),
    ],
)
def test_token_in_the_url_sets_the_cookie_and_redirects_without_it(server, path, target):
    status, headers, _, cookies = request(server, path)
    assert status == 302 and headers["location"] == target
    assert any(_our_cookie(c) for c in cookies), cookies
    status, _, body, _ = request(server, headers["location"], COOKIE)
    assert status == 200 and "docs_json" in body


def test_strip_token_keeps_everything_else_byte_for_byte():
    assert strip_token("/?a=1;2&web_token=x&b=%2C") == ("/?a=1;2&b=%2C", ["x"])
    assert strip_token("/p?web_token=a&web_token=b") == ("/p", ["a", "b"])
    assert strip_token("/p?web%5Ftoken=a+b") == ("/p", ["a b"])
    assert strip_token("/p") == ("/p", [])


def test_web_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("STREAMVIS_WEB_TOKEN", "from-env")
    assert resolve_web_token(None) == "from-env"
    assert resolve_web_token("given") == "given"
    monkeypatch.delenv("STREAMVIS_WEB_TOKEN")
    assert resolve_web_token(None) is None
    with pytest.raises(Exception, match="printable ASCII"):
        resolve_web_token("has space")


@pytest.mark.browser
def test_browser_gets_in_once_and_the_url_drops_the_token(server, browser):
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = ctx.new_page()
        open_page(page, f"{server.url}/?rows=loss&web_token={TOKEN}")
        assert page.url == f"{server.url}/?rows=loss"  # shared links never carry it
        # the websocket is up: the page receives the plot's data
        page.wait_for_function(LOSS_0_ARRIVED, timeout=15000)
        again = ctx.new_page()  # the cookie alone lets the same browser in
        open_page(again, f"{server.url}/?rows=lr")
    finally:
        ctx.close()
    stranger = browser.new_context()
    try:
        page = stranger.new_page()
        resp = page.goto(f"{server.url}/?rows=loss")
        assert resp is not None and resp.status == 403
        assert "web_token" in page.content() and "secret-run" not in page.content()
        assert page.evaluate("() => window.Bokeh === undefined")
    finally:
        stranger.close()


@pytest.fixture
def tls_server(store, log_path, demo_schema, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    store.append(demo_items(["secret-run"], steps=20))
    ws = WebServer(log_path, demo_schema, refresh=0.3, web_token=TOKEN, tls_cert=cert, tls_key=key)
    ws.url = f"https://127.0.0.1:{ws.port}"
    ws.ca = cert  # type: ignore[attr-defined]
    yield ws
    ws.stop()


def test_https_serves_pages_with_a_secure_cookie(tls_server):
    ca: Any = tls_server.ca
    status, headers, _, cookies = request(tls_server, f"/?rows=loss&web_token={TOKEN}", tls_ca=ca)
    assert status == 302 and headers["location"] == "/?rows=loss"
    assert "secure" in cookies[0].lower()
    status, _, body, _ = request(tls_server, "/?rows=loss", COOKIE, tls_ca=ca)
    assert status == 200 and "docs_json" in body
    status, _, body, _ = request(tls_server, "/?rows=loss", tls_ca=ca)
    _refused(status, body)
    with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate
        _untrusted(tls_server)


def _untrusted(server: WebServer) -> None:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, timeout=20, context=ssl.create_default_context()
    )
    try:
        conn.request("GET", "/")
        conn.getresponse()
    finally:
        conn.close()


@pytest.mark.browser
def test_https_page_streams_in_chromium(tls_server, browser):
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1000, "height": 700})
    try:
        page = ctx.new_page()
        open_page(page, f"{tls_server.url}/?rows=loss&web_token={TOKEN}")
        assert page.url == f"{tls_server.url}/?rows=loss"
        page.wait_for_function(LOSS_0_ARRIVED, timeout=15000)
        assert page.evaluate("() => location.protocol") == "https:"
    finally:
        ctx.close()


def _own_ip() -> str | None:
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.254", 9))  # the default route's address; nothing is sent
            ip = str(s.getsockname()[0])
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


@pytest.mark.browser
def test_a_colleague_opens_the_shared_link_of_a_non_local_bind(store, log_path, browser, procs):
    """web-serve 0.0.0.0:PORT --web-token: the link http://THIS-IP:PORT/...&web_token=T
    gives a live page (websocket origin accepted), the address bar loses the token,
    and without it the same address is refused."""
    import subprocess
    import sys

    from .conftest import ROOT, free_port

    ip = _own_ip()
    if ip is None:
        pytest.skip("no non-loopback address to share a page on")
    store.append(demo_items(["secret-run"], steps=20))
    port = free_port()
    web = procs.popen(
        [sys.executable, "-m", "streamvis.cli", "web-serve", f"0.0.0.0:{port}", log_path,
         str(ROOT / "streamvis" / "schemas" / "demo.yaml"), "--web-token", TOKEN, "--refresh", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert web.stdout is not None
    for line in web.stdout:
        if "open http://" in line:
            break
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = ctx.new_page()
        open_page(page, f"http://{ip}:{port}/?rows=loss&web_token={TOKEN}")
        assert page.url == f"http://{ip}:{port}/?rows=loss"
        page.wait_for_function(LOSS_0_ARRIVED, timeout=15000)
    finally:
        ctx.close()
    conn = http.client.HTTPConnection(ip, port, timeout=20)
    conn.request("GET", "/?rows=loss")
    assert conn.getresponse().status == 403
    conn.close()
