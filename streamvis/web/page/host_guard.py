"""The Host header checked on every route: the defence against DNS rebinding.

A page on ``attacker.example`` whose name the attacker points at 127.0.0.1 is, to the
browser, the same origin as a web-serve on this machine: it could read every page and
open the websocket (Tornado accepts a websocket whose Origin equals its Host before
Bokeh's allow-list is consulted). Such a request carries ``Host: attacker.example``,
so every request whose Host is not one of this server's own names is refused with 403
before any handler (pages, ``/ws``, static files, metadata) runs.

Accepted: ``localhost``, loopback addresses, and the address the connection arrived
on, on the server's port; for a bind other than loopback (``0.0.0.0``) also this
machine's host names; and on any bind the hosts of ``--allow-origin`` and
``--allow-host`` (``NAME``, ``NAME:PORT`` or ``NAME:*``; a reverse proxy's public
name; ``*`` in NAME matches any characters, so ``*`` alone turns the check off). An IP address in Host cannot be rebound, so the connection's own address is
always accepted.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from tornado.httputil import HTTPServerRequest
from tornado.web import Application, RequestHandler

from streamvis.errors import InvalidArgumentError

__all__ = ["HostPolicy", "guard_hosts", "split_host"]

REFUSED = (
    "streamvis: this address ({host!r}) is not one of this server's names; open it by "
    "one of them, or start web-serve with --allow-host NAME (e.g. for a reverse proxy)"
)
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def split_host(host: str) -> tuple[str, str | None]:
    """``name[:port]`` / ``[v6][:port]`` -> (lowercase name without brackets or final
    dot, port text or None)."""
    host = host.strip()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif host.count(":") == 1:
        name, _, port_text = host.partition(":")
        port = port_text
    else:
        name, port = host, None
    return name.lower().rstrip("."), (port or None)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _own_names() -> set[str]:
    names: set[str] = set()
    for get in (socket.gethostname, socket.getfqdn):
        try:
            name = get()
        except OSError:
            continue
        if name:
            names.add(name.lower().rstrip("."))
            names.add(name.lower().split(".")[0])
    return names


class HostPolicy:
    """Which Host headers a server bound to ``bind``:``port`` answers."""

    def __init__(self, bind: str, port: int, allowed: Iterable[str] = ()) -> None:
        self.port = str(port)
        name, _ = split_host(bind)
        self.names: set[str] = set(LOOPBACK_NAMES)
        loopback = name in LOOPBACK_NAMES or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)
        if not loopback:
            self.names |= _own_names()
            if name and not _is_ip(name):
                self.names.add(name)
        self.extra: dict[str, set[str] | None] = {}  # name -> ports (None: any)
        for entry in allowed:
            host, given = split_host(entry)
            if not host or entry.strip() != entry:
                raise InvalidArgumentError(f"--allow-host {entry!r}: give NAME, NAME:PORT or NAME:*")
            if given is None or given == "*":
                self.extra[host] = None
            elif given.isdigit():
                ports = self.extra.setdefault(host, set())
                if ports is not None:
                    ports.add(given)
            else:
                raise InvalidArgumentError(f"--allow-host {entry!r}: the port must be a number or *")

    def allows(self, host: str, local_address: str | None = None) -> bool:
        """Whether a request with this Host header (that arrived on ``local_address``)
        is for this server."""
        name, port = split_host(host)
        if not name:
            return False
        for pattern, ports in self.extra.items():
            if (pattern == name or ("*" in pattern and fnmatch.fnmatchcase(name, pattern))) and (
                ports is None or (port or "") in ports
            ):
                return True
        if port != self.port:
            return False
        if name in self.names:
            return True
        if _is_ip(name):
            ip = ipaddress.ip_address(name)
            if ip.is_loopback:
                return True
            if local_address is not None and _is_ip(local_address.split("%")[0]):
                return ip == ipaddress.ip_address(local_address.split("%")[0])
        return False


class _Refused(RequestHandler):
    """403 for every method, with one line saying why."""

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(REFUSED.format(host=self.request.host) + "\n")


def _local_address(request: HTTPServerRequest) -> str | None:
    stream: Any = getattr(request.connection, "stream", None)
    sock = getattr(stream, "socket", None)
    try:
        return str(sock.getsockname()[0]) if sock is not None else None
    except OSError:
        return None


def guard_hosts(app: Application, policy: HostPolicy) -> None:
    """Route every request of ``app`` whose Host ``policy`` refuses to a 403 handler."""
    inner = app.find_handler

    def find_handler(request: HTTPServerRequest, **kwargs: Any) -> Any:
        host = request.headers.get("Host", "")
        if not policy.allows(host, _local_address(request)):
            return app.get_handler_delegate(request, _Refused)
        return inner(request, **kwargs)

    app.find_handler = find_handler  # type: ignore[method-assign]
