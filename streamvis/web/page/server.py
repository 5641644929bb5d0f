"""Start the Bokeh server for the web app, programmatically, on WEB_URI."""

from __future__ import annotations

import errno
import os
import ssl
import urllib.parse
from collections.abc import Sequence
from typing import Any

from bokeh.server.server import Server
from tornado.ioloop import IOLoop

from streamvis.errors import InvalidArgumentError
from streamvis.source import DataSource

from ..address.layout import WEBGL_MODES
from ..plots.plot_view import PlotLimits
from ..schema import Schema
from .app import make_applications
from .app_config import AppConfig
from .auth import DEFAULT_COOKIE_DAYS, WebTokenAuth, session_excludes
from .bundles import load_page_bundles, needs_mathjax
from .closed_tabs import quiet_closed_tab_writes
from .host_guard import HostPolicy, guard_hosts
from .nodelay import send_without_delay
from .snapshot_route import snapshot_route

__all__ = [
    "parse_web_uri",
    "build_server",
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_LINES",
    "check_tls_files",
    "source_name",
]

DEFAULT_BUDGET = 1_000_000  # points per plot in the browser, shared by its lines
DEFAULT_MAX_LINES = 10_000  # lines per plot; more are counted and named, not drawn


def parse_web_uri(uri: str) -> tuple[str, int]:
    """``host:port`` or ``http://host:port`` -> (host, port)."""
    text = uri if "://" in uri else f"http://{uri}"
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"WEB_URI {uri!r}: {exc}; use host:port") from None
    if not parts.hostname or port is None or parts.scheme not in ("http", "https"):
        raise InvalidArgumentError(f"WEB_URI {uri!r} must be host:port, e.g. localhost:5006")
    return parts.hostname, port


def check_tls_files(cert: str | None, key: str | None) -> bool:
    """Both or neither of --tls-cert/--tls-key, readable; True when TLS is on."""
    if cert is None and key is None:
        return False
    if cert is None or key is None:
        raise InvalidArgumentError("HTTPS needs both --tls-cert and --tls-key")
    for what, path in (("certificate", cert), ("key", key)):
        if not os.access(path, os.R_OK) or not os.path.isfile(path):
            raise InvalidArgumentError(f"cannot read the TLS {what} {path!r}; give a PEM file")
    return True


def source_name(source: DataSource) -> str:
    """What the page header calls the data: the log's path or URL, else "streamvis"."""
    store = getattr(source, "store", None)
    url = getattr(getattr(store, "backend", None), "url", None) or getattr(store, "path", None)
    return str(url) if url else "streamvis"


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is already in use "
            "(another web app?); stop it or choose another port in WEB_URI"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def build_server(
    web_uri: str,
    source: DataSource,
    schema: Schema,
    *,
    refresh: float = 1.0,
    budget: int = DEFAULT_BUDGET,
    max_lines: int = DEFAULT_MAX_LINES,
    webgl: str = "auto",
    allow_origins: Sequence[str] = (),
    allow_hosts: Sequence[str] = (),
    io_loop: IOLoop | None = None,
    web_token: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    cookie_days: float = DEFAULT_COOKIE_DAYS,
    log_name: str | None = None,
    **server_kwargs: Any,
) -> tuple[Server, AppConfig]:
    """A started-but-not-running Bokeh Server serving ``schema`` over ``source``.

    Websocket origins are restricted to WEB_URI plus ``allow_origins``; every request's
    Host header to this server's names plus ``allow_origins`` and ``allow_hosts``
    (``web/host_guard.py``). With ``web_token`` every page, websocket and data route
    needs it (``web/auth.py``; its cookie lasts ``cookie_days``);
    ``tls_cert``/``tls_key`` (PEM) serve HTTPS. Run it with ``server.io_loop.start()``
    (or start the loop yourself). ``schema`` may have no plots (``Schema(plots={})``):
    then ``rows=``/``cols=`` name logged names. ``log_name``: what the pages' headers
    call the data.
    """
    if refresh <= 0:
        raise InvalidArgumentError(f"--refresh must be positive, got {refresh}")
    if budget < 1000:
        raise InvalidArgumentError(f"--budget must be at least 1000 points, got {budget}")
    if max_lines < 1:
        raise InvalidArgumentError(f"--max-lines must be at least 1, got {max_lines}")
    if webgl not in WEBGL_MODES:
        raise InvalidArgumentError(f"--webgl {webgl!r}: allowed {', '.join(WEBGL_MODES)}")
    host, port = parse_web_uri(web_uri)
    limits = PlotLimits(budget=budget, max_lines=max_lines)
    cfg = AppConfig(source=source, schema=schema, refresh=refresh, limits=limits, webgl=webgl,
                    log_name=log_name or source_name(source))
    origins = [f"{host}:{port}", *allow_origins]
    policy = HostPolicy(host, port, [*allow_origins, *allow_hosts])
    kw: dict[str, Any] = {
        "address": host,
        "port": port,
        "allow_websocket_origin": origins,
        "check_unused_sessions_milliseconds": 2000,
        "unused_session_lifetime_milliseconds": 5000,
        **session_excludes(),  # no credentials in the session token every page embeds
        "extra_patterns": [snapshot_route(cfg)],  # the header's snapshot (token, Host guarded)
    }
    tls = check_tls_files(tls_cert, tls_key)
    if tls:
        kw.update(ssl_certfile=tls_cert, ssl_keyfile=tls_key)
    if web_token:
        kw["auth_provider"] = WebTokenAuth(web_token, secure_cookie=tls, cookie_days=cookie_days)
    kw.update(server_kwargs)
    try:
        server = Server(make_applications(cfg), io_loop=io_loop, **kw)
    except ssl.SSLError as exc:  # an OSError too: first
        raise InvalidArgumentError(
            f"cannot serve HTTPS with {tls_cert!r} and {tls_key!r}: {exc}"
        ) from None
    except OSError as exc:
        raise InvalidArgumentError(_listen_problem(host, port, exc)) from None
    guard_hosts(server._tornado, policy)  # before the first request: pages, /ws, static
    load_page_bundles(server._tornado, mathjax=needs_mathjax(cfg.schema))  # (web/page/bundles.py)
    send_without_delay(server)  # a zoom's data, not 30 ms later (web/nodelay.py)
    quiet_closed_tab_writes()  # a write racing a tab's close is not a warning (closed_tabs.py)
    server.start()
    return server, cfg
