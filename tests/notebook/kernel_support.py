"""A real Jupyter kernel for the notebook tests (nbclient + ipykernel), and a notebook
page for Chromium made of what the cells output.

The kernel runs this checkout's streamvis (``PYTHONPATH``), with ``HOME`` and
``STREAMVIS_LOG`` under the test's temporary directory and BokehJS inline
(``BOKEH_RESOURCES``: no network here). ``run(code)`` executes a cell and returns
its outputs; ``run(code, cell_id=...)`` sends the execute request with the cell's id
in its metadata, as JupyterLab, Notebook 7 and VS Code do (nbclient sends none).
``notebook_html`` lays the outputs out as a notebook frontend does (the BokehJS
loader, then each output's HTML), and ``NotebookPages`` serves such pages on loopback,
as Jupyter does (its address is the ``notebook_url`` the test gives ``show``: Chromium
lets a loopback page, and only such a page, reach the kernel's server on loopback).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.blocking.client import BlockingKernelClient
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
EXEC_MIME = "application/vnd.bokehjs_exec.v0+json"
LOAD_MIME = "application/vnd.bokehjs_load.v0+json"
TIMEOUT = 60


class Kernel:
    """One python3 kernel (the shared venv's), cells run one at a time."""

    def __init__(self, client: NotebookClient) -> None:
        self.client = client
        self.nb = client.nb
        self._raw: BlockingKernelClient | None = None

    def run(self, code: str, *, cell_id: str | None = None) -> list[dict[str, Any]]:
        """Execute ``code`` as a new cell; its outputs (errors are outputs, not raised)."""
        if cell_id is not None:
            return self._run_with_id(code, cell_id)
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return [dict(o) for o in cell.outputs]

    def value(self, expr: str) -> Any:
        """``expr`` evaluated in the kernel (JSON-able)."""
        out = self.run(f"import json as _j; print(_j.dumps({expr}))")
        text = "".join(o.get("text", "") for o in out if o["output_type"] == "stream")
        assert text, out
        return json.loads(text)

    def _run_with_id(self, code: str, cell_id: str) -> list[dict[str, Any]]:
        raw = self._client()
        msg = raw.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        }, metadata={"cellId": cell_id})
        raw.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        deadline = time.monotonic() + TIMEOUT
        while True:  # the reply: the cell is done (its outputs precede it on iopub)
            reply = raw.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        outputs: list[dict[str, Any]] = []
        while True:
            try:
                m = raw.get_iopub_msg(timeout=5)
            except queue.Empty:
                break
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            kind = m["msg_type"]
            if kind == "status" and m["content"]["execution_state"] == "idle":
                break
            if kind in ("display_data", "stream", "error", "execute_result"):
                outputs.append({"output_type": kind, **m["content"]})
        return outputs

    def _client(self) -> BlockingKernelClient:
        if self._raw is None:
            km = self.client.km
            assert km is not None
            raw = BlockingKernelClient()
            raw.load_connection_info(km.get_connection_info(session=False))
            raw.start_channels()
            raw.wait_for_ready(timeout=TIMEOUT)
            self._raw = raw
        return self._raw

    def close(self) -> None:
        if self._raw is not None:
            self._raw.stop_channels()


@contextlib.contextmanager
def kernel(tmp: Path) -> Iterator[Kernel]:
    """A started kernel, shut down on every exit path."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "HOME": str(home), "STREAMVIS_LOG": str(tmp / "default.svl"), "BOKEH_RESOURCES": "inline",
           "JUPYTER_PLATFORM_DIRS": "1"}
    env.pop("JUPYTER_BOKEH_EXTERNAL_URL", None)
    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, kernel_name="python3", timeout=TIMEOUT, allow_errors=True,
                            resources={"metadata": {"path": str(tmp)}})
    with client.setup_kernel(env=env):
        k = Kernel(client)
        try:
            where = k.value("__import__('streamvis').__file__")
            assert where.startswith(str(ROOT)), where  # this checkout's code, not /work/main's
            yield k
        finally:
            k.close()


def view_url(outputs: list[dict[str, Any]]) -> str:
    """The URL of the view a ``show`` output loads (its server in the kernel)."""
    html = next(o["data"]["text/html"] for o in outputs
                if o["output_type"] == "display_data" and EXEC_MIME in o.get("metadata", {}))
    found = re.search(r'"(http://[^"/]+)/autoload\.js', html)
    assert found, html
    return found.group(1) + "/"


def notebook_html(outputs: list[dict[str, Any]]) -> str:
    """A page holding the outputs as a notebook frontend renders them: JavaScript run,
    HTML inserted (its scripts run in place)."""
    parts = []
    for o in outputs:
        data = o.get("data", {})
        if "application/javascript" in data:
            parts.append(f"<script>{data['application/javascript']}</script>")
        elif "text/html" in data:
            parts.append(f"<div class='output'>{data['text/html']}</div>")
    return "<!doctype html><html><head><meta charset='utf-8'></head><body>" + "\n".join(parts) + "</body></html>"


class NotebookPages:
    """A stand-in for the Jupyter server: serves pages of outputs at ``url`` (loopback)."""

    def __init__(self) -> None:
        pages: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.pages = pages
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def open(self, page: Any, outputs: list[dict[str, Any]]) -> None:
        """Open the outputs in ``page`` (playwright), as a notebook at ``url`` shows them."""
        path = f"/nb{len(self.pages)}.html"
        self.pages[path] = notebook_html(outputs).encode()
        page.goto(self.url + path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(10)


@contextlib.contextmanager
def notebook_pages() -> Iterator[NotebookPages]:
    pages = NotebookPages()
    try:
        yield pages
    finally:
        pages.close()
