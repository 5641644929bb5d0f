"""Access control of the web app (issue 7): with ``--token`` on the data server the web
app shows its data; it serves only its configured data, and no query parameter names a
file. Split from test_access_control.py (the data server's side)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from streamvis.server.client import DataClient
from tests.hardening.access_support import (
    CLI,
    ROOT,
    TIMEOUT,
    TOKEN,
    Server,
    _env,
    _free_port,
    _points,
)
from tests.helpers import spawn

pytestmark = pytest.mark.usefixtures("no_ambient_credentials")

# -- the web app ------------------------------------------------------------------------------


class Web:
    def __init__(self, data: str, *args: str) -> None:
        from streamvis.web.schema import demo_schema_path

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = spawn(
            [*CLI, "web-serve", f"127.0.0.1:{self.port}", data, str(demo_schema_path()), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # the ready line comes once it listens
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"web-serve exited: {''.join(self.lines)}")
            self.lines.append(line)
            if "open http://" in line:
                return
        raise AssertionError(f"web-serve not ready: {''.join(self.lines)}")

    def get(self, path: str, args: dict[str, str] | None = None) -> str:
        """The page as a browser gets it: the HTML over HTTP, then the document that
        Bokeh sends over the websocket (pulled with ``bokeh.client``, no browser)."""
        from bokeh.client import pull_session

        query = "?" + urllib.parse.urlencode(args) if args else ""
        with urllib.request.urlopen(f"{self.url}/{path}{query}", timeout=TIMEOUT) as reply:
            assert reply.status == 200
            html = reply.read().decode("utf-8", "replace")
        with pull_session(url=f"{self.url}/{path}", arguments=args) as session:
            doc = json.dumps(session.document.to_json(), default=repr)
        return f"{html}\n{doc}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def test_web_app_with_the_token_shows_data(token_server: Server, tmp_path: Path) -> None:
    scope = "web-auth-run"
    with DataClient(token_server.uri, TOKEN) as client:
        client.append([_points(scope)])
    r = subprocess.run(
        [
            *CLI,
            "web-serve",
            f"127.0.0.1:{_free_port()}",
            token_server.uri,
            str(_demo_schema()),
            "--token",
            "wrong",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT,
    )
    assert r.returncode == 1 and "token" in r.stderr and "Traceback" not in r.stderr, r.stderr
    web = Web(token_server.uri, "--token", TOKEN)
    try:
        assert any(f"listening on 127.0.0.1:{web.port} (local only" in ln for ln in web.lines)
        assert scope in web.get("index")
        # no query parameter names a file: hostile ones get a readable error, no content
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-CONTENT\n")
        etc = Path("/etc/passwd")
        passwd = etc.read_text().splitlines()[0] if etc.exists() else "TOP-SECRET-CONTENT"
        hostile: list[dict[str, str]] = [
            {"rows": "../../etc/passwd"},
            {"rows": str(secret)},
            {"path": "/etc/passwd"},
            {"file": str(secret)},
            {"data": str(secret), "rows": "loss"},
            {"schema": str(secret)},
            {"log": "/etc/passwd"},
        ]
        for args in hostile:
            page = web.get("", args)
            assert "TOP-SECRET-CONTENT" not in page and passwd not in page, args
            assert "parameters are not valid" in page, args  # a readable error page
        # a valid layout whose regexes look like paths: plots, still no file read
        page = web.get("", {"rows": "loss", "scopes": "../../../etc/passwd", "names": str(secret)})
        assert "TOP-SECRET-CONTENT" not in page and passwd not in page
        assert "parameters are not valid" not in page
    finally:
        web.stop()


def _demo_schema() -> Path:
    from streamvis.web.schema import demo_schema_path

    return Path(demo_schema_path())
