"""Keepalive: the server accepts the pings its clients send, so an idle client (or an
idle web-serve) is never told GOAWAY ENHANCE_YOUR_CALM "too_many_pings".

Both ends read $STREAMVIS_KEEPALIVE_MS (default 20 s); the tests use 300 ms so that
idling for ten ping intervals takes 3 s. The control shows the failure is detected:
a server left at gRPC's default (one ping per 5 minutes) against 300 ms pings.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import pytest

from streamvis.server import wire

from .conftest import ROOT, free_port

PING_MS = 1000  # gRPC sends keepalive pings at most once a second, whatever is asked
IDLE_S = 6.0  # six pings; a server refusing them says GOAWAY at the fourth (2 strikes allowed)
# logs each ping sent ("http_keepalive") and each ping frame received ("http")
TRACE = {"GRPC_TRACE": "http_keepalive,http", "GRPC_VERBOSITY": "debug"}

IDLE_CLIENT = """
import json, sys, time
from streamvis.server.client import DataClient
client = DataClient(sys.argv[1])
first = client.scopes()
states = []
client._channel.subscribe(lambda s: states.append(s.name), try_to_connect=False)
time.sleep(float(sys.argv[2]))  # the idle period under test, not a synchronisation
try:
    second, error = client.scopes(), None
except Exception as exc:
    second, error = None, str(exc)
print(json.dumps({"first": first, "second": second, "error": error, "states": states}))
"""


def _env(keepalive_ms: int, **extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), STREAMVIS_KEEPALIVE_MS=str(keepalive_ms), **extra)


def _idle_client(uri: str) -> tuple[dict, str]:
    run = subprocess.run(
        [sys.executable, "-c", IDLE_CLIENT, uri, str(IDLE_S)],
        env=_env(PING_MS, **TRACE), capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), run.stderr


def _pings(log: str) -> int:
    """Pings either way on the connection. The server pings its clients at the same
    interval, and a ping received resets the receiver's own timer, so which end pings
    in a given second is a race; together they ping about once a second."""
    return sum(
        1 for line in log.splitlines()
        if ("Ping " in line and " sent" in line) or ": PING len" in line
    )


def test_options_align_the_two_ends(monkeypatch):
    monkeypatch.setenv(wire.KEEPALIVE_ENV, "20000")
    client = dict(wire.channel_options(1 << 20))
    server = dict(wire.server_options(1 << 20))
    assert client["grpc.keepalive_time_ms"] == 20_000  # the default
    assert client["grpc.keepalive_permit_without_calls"] == 1
    assert server["grpc.http2.min_ping_interval_without_data_ms"] <= 20_000 // 2
    monkeypatch.setenv(wire.KEEPALIVE_ENV, "50")
    with pytest.raises(Exception, match="STREAMVIS_KEEPALIVE_MS"):
        wire.keepalive_ms()


def test_idle_client_and_idle_web_serve_get_no_goaway(start_server, monkeypatch, procs, tmp_path):
    """An idle client and a web-serve with no page open, both over one data server,
    for six ping intervals: the pings go out, no GOAWAY comes back, calls still work."""
    from streamvis.storage import Points, Store

    monkeypatch.setenv(wire.KEEPALIVE_ENV, str(PING_MS))  # the server's setting
    log = str(tmp_path / "ka.svl")
    with Store.open(log, mode="a") as store:
        store.append([Points("idle-run", "loss", 0, {"x": [0, 1], "y": [1.0, 0.5]})])
    srv = start_server(log)
    port = free_port()
    out = tmp_path / "web.out"
    with open(out, "w") as sink:
        web = procs.popen(
            [sys.executable, "-m", "streamvis.cli", "web-serve", f"127.0.0.1:{port}", srv.uri,
             str(ROOT / "streamvis" / "schemas" / "demo.yaml")],
            stdout=sink, stderr=subprocess.STDOUT, text=True, env=_env(PING_MS, **TRACE),
        )
    deadline = time.monotonic() + 60
    while "open http://" not in out.read_text():  # web-serve has checked the server
        assert web.poll() is None and time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    got, stderr = _idle_client(srv.uri)  # web-serve idles meanwhile
    assert got["error"] is None and got["second"] == got["first"] == ["idle-run"]
    assert got["states"] in ([], ["READY"]), got  # the connection never dropped
    assert _pings(stderr) >= 4, stderr[-2000:]
    assert "too_many_pings" not in stderr and "ENHANCE_YOUR_CALM" not in stderr, stderr[-2000:]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/index")
    assert conn.getresponse().status == 200
    conn.close()
    web.terminate()
    web.wait(20)
    text = out.read_text()
    assert _pings(text) >= 4, text[-2000:]
    assert "too_many_pings" not in text and "ENHANCE_YOUR_CALM" not in text, text[-2000:]


def test_control_a_server_at_grpc_defaults_sends_goaway(start_server, monkeypatch):
    monkeypatch.setenv(wire.KEEPALIVE_ENV, "600000")  # server: one ping per 5 minutes
    srv = start_server()
    got, stderr = _idle_client(srv.uri)
    assert "too_many_pings" in stderr or "Too many pings" in (got["error"] or ""), (got, stderr)
