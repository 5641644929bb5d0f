"""DNS rebinding (issue 20, finding 5): a real ``streamvis web-serve`` answers only
requests whose Host header names it, on every route (pages, websockets, data, static
files); crafted Host headers over plain HTTP and websocket upgrades."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from streamvis.web.page.host_guard import HostPolicy, split_host

from .conftest import ROOT, free_port
from .helpers import demo_items

ROUTES = ["/", "/?rows=loss", "/index", "/metadata", "/index/metadata",
          "/autoload.js?bokeh-autoload-element=x", "/static/js/bokeh.min.js", "/favicon.ico"]
WEBSOCKETS = ["/ws", "/index/ws"]
EVIL = ["attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example", ""]


class WebServe:
    """``streamvis web-serve`` in a child process, ready once it prints its URL."""

    def __init__(self, procs, log_path: str, bind: str, *args: str) -> None:
        self.port = free_port()
        self.proc = procs.popen(
            [sys.executable, "-m", "streamvis.cli", "web-serve", f"{bind}:{self.port}", log_path,
             str(ROOT / "streamvis" / "schemas" / "demo.yaml"), "--refresh", "0.3", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the reaper ends it if the line never comes
            self.lines.append(line)
            if "open http://" in line:
                return
        raise AssertionError("".join(self.lines))

    def get(self, path: str, host: str, *, ws: bool = False) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Host": host}
        if ws:
            headers.update({
                "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                "Origin": f"http://{host}",  # the rebound page's own origin
            })
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = "" if resp.status == 101 else resp.read().decode("utf-8", "replace")
            return resp.status, body
        finally:
            conn.close()


@pytest.fixture
def local(procs, store, log_path) -> Iterator[WebServe]:
    store.append(demo_items(["secret-run"], steps=5))
    yield WebServe(procs, log_path, "127.0.0.1", "--allow-host", "proxy.example",
                   "--allow-origin", "other.example:8443")


def test_a_rebound_name_is_refused_on_every_route(local):
    port = local.port
    for name in EVIL:
        for host in ({name, f"{name}:{port}"} if name else {""}):
            for path in ROUTES:
                status, body = local.get(path, host)
                assert status == 403, (host, path, status)
                assert "secret-run" not in body and "docs_json" not in body and "Bokeh" not in body
                assert "not one of this server's names" in body, body[:200]
            for path in WEBSOCKETS:
                status, body = local.get(path, host, ws=True)
                assert status == 403, (host, path, status)
    for host in (f"localhost:{port + 1}", f"127.0.0.1:{port + 1}"):  # another port
        assert local.get("/index", host)[0] == 403


def test_the_servers_own_names_are_accepted(local):
    port = local.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}",
                 "proxy.example", "proxy.example:443", "other.example:8443"):
        status, body = local.get("/index", host)
        assert status == 200 and "docs_json" in body, (host, status, body[:200])
        status, _ = local.get("/static/js/bokeh.min.js", host)
        assert status == 200, host
    status, _ = local.get("/ws", f"127.0.0.1:{port}", ws=True)
    assert status == 101
    assert local.get("/index", "other.example:8444")[0] == 403  # the allowed port only


def test_a_non_local_bind_accepts_this_machines_names(procs, store, log_path):
    store.append(demo_items(["secret-run"], steps=5))
    web = WebServe(procs, log_path, "0.0.0.0")
    name = socket.gethostname()
    for host in (f"{name}:{web.port}", f"127.0.0.1:{web.port}", f"localhost:{web.port}"):
        status, body = web.get("/index", host)
        assert status == 200 and "docs_json" in body, (host, status)
    for host in (f"attacker.example:{web.port}", "attacker.example"):
        status, body = web.get("/index", host)
        assert status == 403 and "secret-run" not in body
        assert web.get("/ws", host, ws=True)[0] == 403


def test_host_policy_parts():
    assert split_host("[::1]:5006") == ("::1", "5006")
    assert split_host("Example.COM.:80") == ("example.com", "80")
    assert split_host("::1") == ("::1", None)
    policy = HostPolicy("127.0.0.1", 5006, ["proxy.example:*", "pinned.example:8080"])
    assert policy.allows("proxy.example:1") and policy.allows("pinned.example:8080")
    assert not policy.allows("pinned.example:8081") and not policy.allows("pinned.example")
    assert policy.allows("10.1.2.3:5006", "10.1.2.3")  # the address it arrived on
    assert not policy.allows("10.1.2.3:5006", "127.0.0.1")
    wild = HostPolicy("127.0.0.1", 5006, ["*.corp.example", "*"])
    assert wild.allows("a.corp.example:9") and wild.allows("anything:1")
    assert not HostPolicy("127.0.0.1", 5006, ["*.corp.example"]).allows("corp.example.evil:5006")
    with pytest.raises(Exception, match="--allow-host"):
        HostPolicy("127.0.0.1", 5006, ["name:port"])
