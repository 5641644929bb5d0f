"""``streamvis web-serve`` and ``streamvis quickstart`` as a user runs them."""

from __future__ import annotations

import base64
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, ROOT, free_port
from .helpers import LINES_JS, demo_items, open_page

CLI = [sys.executable, "-m", "streamvis.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wait_line(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not printed; got {''.join(seen)!r}")


def test_bad_schema_stops_with_one_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss:\n  columns: [x, y]\n  color: {palette: Nope}\n")
    r = subprocess.run(
        [*CLI, "web-serve", "127.0.0.1:1", str(tmp_path / "x.log"), str(bad)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "plot 'loss', key 'color.palette'" in r.stderr and "Viridis" in r.stderr
    r = subprocess.run(
        [*CLI, "web-serve", "nonsense", str(tmp_path / "x.log"), str(bad)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr


@pytest.mark.browser
def test_web_serve_command_serves_a_log(store, log_path, demo_schema, page, procs):
    store.append(demo_items(["run1"], steps=10))
    port = free_port()
    proc = procs.popen(
        [*CLI, "web-serve", f"127.0.0.1:{port}", log_path, str(demo_schema), "--refresh", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    try:
        _wait_line(proc, "open http://")
        open_page(page, f"http://127.0.0.1:{port}/?rows=loss")
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('plot:0').renderers.length === 3",
            timeout=10000,
        )
        # the websocket takes this server's own origin, never another site's (a page
        # elsewhere cannot drive a viewer's session); the same request from our origin
        # is upgraded
        assert _websocket_status(port, f"http://127.0.0.1:{port}") == 101
        assert _websocket_status(port, "http://evil.example") == 403
    finally:
        proc.terminate()
        proc.wait(10)


def _websocket_status(port: int, origin: str) -> int:
    """The status of a websocket upgrade of ``/ws`` sent with ``origin``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/ws", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Origin": origin,
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version": "13"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.browser
def test_quickstart_streams_the_demo(tmp_path, page, procs):
    port = free_port()
    log = tmp_path / "qs.svl"
    proc = procs.popen(
        [
            *CLI,
            "quickstart",
            "--port",
            str(port),
            "--path",
            str(log),
            "--step-delay",
            "0.02",
            "--steps",
            "5000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    try:
        line = _wait_line(proc, "open http://")
        url = line.split("open ", 1)[1].strip()
        assert url == f"http://localhost:{port}/"  # the page of every name (issue 21)
        open_page(page, url.replace("localhost", "127.0.0.1"))
        count = (
            f"() => {{ const g = ({LINES_JS})(0); if (!g) return 0;"
            " return Math.max(0, ...Object.values(g).map(l => l.n)); }"
        )
        page.wait_for_function(f"() => ({count})() > 20", timeout=45000)
        n0 = page.evaluate(count)
        page.wait_for_function(f"n0 => ({count})() > n0 + 10", arg=n0, timeout=30000)  # streaming
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('plot:2').renderers.length === 8",
            timeout=30000,
        )
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('plot:3').renderers.length === 1",
            timeout=30000,
        )
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web_quickstart.png"))
        assert Path(log).exists()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.browser
def test_web_serve_over_a_data_server(tmp_path, demo_schema, page, procs):
    """DATA as host:port: the app reads through the gRPC data server, live."""
    from streamvis.server.client import DataClient
    from streamvis.storage import Store

    log = str(tmp_path / "grpc.svl")
    with Store.open(log, mode="a") as s:
        s.append(demo_items(["run1"], steps=10))
    gport, wport = free_port(), free_port()
    grpc = procs.popen(
        [*CLI, "grpc-serve", log, str(gport)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    web = None
    try:
        client = DataClient(f"127.0.0.1:{gport}")
        client.wait_ready(30)
        web = procs.popen(
            [
                *CLI,
                "web-serve",
                f"127.0.0.1:{wport}",
                f"127.0.0.1:{gport}",
                str(demo_schema),
                "--refresh",
                "0.3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        _wait_line(web, "open http://")
        open_page(page, f"http://127.0.0.1:{wport}/?rows=loss")
        length = (
            f"() => {{ const g = ({LINES_JS})(0); const l = g && g['plot:0|run1 · loss · 0'];"
            " return l ? l.n : 0; }"
        )
        page.wait_for_function(f"() => ({length})() === 10", timeout=15000)
        client.append(demo_items(["run1"], steps=5, start=10), writer_id=b"web-test", seq=1)
        page.wait_for_function(f"() => ({length})() === 15", timeout=15000)
        client.close()
    finally:
        for proc in (web, grpc):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


@pytest.mark.browser
def test_a_banner_while_the_data_server_is_down_cleared_when_it_is_back(
    tmp_path, demo_schema, page, procs
):
    from streamvis.server.client import DataClient
    from streamvis.storage import Store

    log = str(tmp_path / "down.svl")
    with Store.open(log, mode="a") as s:
        s.append(demo_items(["run1"], steps=10))
    gport, wport = free_port(), free_port()

    def grpc_serve() -> subprocess.Popen:
        proc = procs.popen(
            [*CLI, "grpc-serve", log, str(gport)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        )
        with DataClient(f"127.0.0.1:{gport}") as c:
            c.wait_ready(30)
        return proc

    grpc = grpc_serve()
    web = procs.popen(
        [*CLI, "web-serve", f"127.0.0.1:{wport}", f"127.0.0.1:{gport}", str(demo_schema),
         "--refresh", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )
    _wait_line(web, "open http://")
    open_page(page, f"http://127.0.0.1:{wport}/?rows=loss,lr")
    banner = "() => { const b = Bokeh.documents[0].get_model_by_name('banner'); return b.visible ? b.text : null; }"
    page.wait_for_function(f"() => {{ const g = ({LINES_JS})(0); return g && Object.keys(g).length === 3; }}",
                           timeout=30000)
    assert page.evaluate(banner) is None
    grpc.terminate()
    grpc.wait(10)
    page.wait_for_function(f"() => ({banner})() !== null", timeout=30000)
    assert "cannot be reached" in page.evaluate(banner)
    grpc = grpc_serve()
    page.wait_for_function(f"() => ({banner})() === null", timeout=30000)


@pytest.mark.browser
def test_a_plot_with_no_data_says_it_is_waiting(store, log_path, demo_schema, page):
    from .conftest import WebServer

    store.append(demo_items(["run1"], steps=5))
    ws = WebServer(log_path, demo_schema, refresh=0.3)
    try:
        open_page(page, ws.url + "/?rows=loss&scopes=^nobody$")
        page.wait_for_function(
            "() => (t => t.text ?? t)(Bokeh.documents[0].get_model_by_name('plot:0').title.text).includes('waiting for data')",
            timeout=15000,
        )
    finally:
        ws.stop()
