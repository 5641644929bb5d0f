"""Why a data server cannot be reached, where that can be told from the client side.

The seed's Quick Start connects to ``$IP:8081``; ``grpc-serve`` listens on 127.0.0.1
unless told ``--host 0.0.0.0``. When the client dials one of this machine's own
non-loopback addresses, is refused, and a server answers on 127.0.0.1 at that port,
the server is local-only: say so, with the fix. For other non-loopback targets the
hint is generic (the far machine cannot be inspected). No gRPC here: plain sockets.
"""

from __future__ import annotations

import socket
import time

from streamvis.addresses import is_loopback

__all__ = ["unreachable_hint", "unavailable_message", "is_own_address", "listens_on_loopback"]

_CACHE_SECONDS = 5.0
_cache: dict[tuple[str, int], tuple[float, str]] = {}

LOCAL_ONLY = (
    "a data server listens on 127.0.0.1:{port} only: start it with `--host 0.0.0.0` "
    "(and `--token`, with TLS, as the README says) to accept {host}"
)
GENERIC = (
    "if it runs on another machine, it must listen with `--host 0.0.0.0` (and should "
    "require `--token`): `grpc-serve` listens on 127.0.0.1 by default"
)


def is_own_address(host: str) -> bool:
    """True when ``host`` is one of this machine's addresses (a bind to it succeeds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host.strip("[]"), 0))
    except OSError:
        return False
    return True


def listens_on_loopback(port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _split(uri: str) -> tuple[str, int] | None:
    host, sep, port = uri.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def unreachable_hint(uri: str, details: str = "") -> str:
    """A hint for a refused connection to ``uri`` ("" when none applies)."""
    parts = _split(uri)
    if parts is None:
        return ""
    host, port = parts
    if is_loopback(host) or (details and "refused" not in details.lower()
                             and "failed to connect" not in details.lower()):
        return ""
    now = time.monotonic()
    hit = _cache.get(parts)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    try:
        host_ip = socket.gethostbyname(host) if ":" not in host else host
    except OSError:
        host_ip = host
    if is_own_address(host_ip) and listens_on_loopback(port):
        hint = LOCAL_ONLY.format(port=port, host=host)
    else:
        hint = GENERIC
    _cache[parts] = (now, hint)
    return hint


def unavailable_message(uri: str) -> str:
    """The message of a server at ``uri`` that did not come up, with a hint if one applies."""
    hint = unreachable_hint(uri)
    return f"data server at {uri} is unavailable" + (f"; {hint}" if hint else "")
