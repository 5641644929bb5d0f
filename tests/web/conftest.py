"""Fixtures: a real Bokeh server in a thread over a real log, and headless Chromium."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebServer:
    """The web app served from a thread with its own event loop."""

    def __init__(self, log_path: str, schema_path: str | os.PathLike[str] | None, **kw: Any) -> None:
        """``schema_path`` None: no schema (the page of every name)."""
        from streamvis.source import LocalSource
        from streamvis.web.schema import Schema, load_schema

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.source = LocalSource.open(log_path)
        self.schema = load_schema(schema_path) if schema_path is not None else Schema(plots={})
        self.kw = kw
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error

    def _run(self) -> None:
        from tornado.ioloop import IOLoop

        from streamvis.web.page.server import build_server

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            self.loop = IOLoop.current()
            self.server, self.cfg = build_server(
                f"127.0.0.1:{self.port}", self.source, self.schema, io_loop=self.loop, **self.kw
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.start()

    def stop(self) -> None:
        def _stop() -> None:
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(_stop)
        self._thread.join(10)
        self.cfg.executor.shutdown(wait=False, cancel_futures=True)
        self.source.close()


@pytest.fixture(scope="package")  # stopped when tests/web ends: others start their own
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent: browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    pg = ctx.new_page()
    yield pg
    ctx.close()


@pytest.fixture
def log_path(tmp_path: Path) -> str:
    return str(tmp_path / "web.log")


@pytest.fixture
def store(log_path: str) -> Iterator[Any]:
    from streamvis.storage import Store

    s = Store.open(log_path, mode="a")
    yield s
    s.close()


@pytest.fixture
def demo_schema() -> Path:
    return ROOT / "streamvis" / "schemas" / "demo.yaml"
