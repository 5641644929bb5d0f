"""Addresses: which strings name a data server, and how far a listening address reaches.

Imports nothing of ours, so the read interface (``streamvis.source``), the gRPC client
and both servers can use it without importing each other.
"""

from __future__ import annotations

import ipaddress
import os
import re

__all__ = ["is_server_address", "is_loopback", "reach_note"]

_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


def is_server_address(target: str) -> bool:
    """True for ``host:port`` (a data server); False for a log path or URL."""
    if "://" in target or os.path.exists(target):
        return False
    return bool(_HOST_PORT.match(target))


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def reach_note(host: str, widen: str = "use --host 0.0.0.0") -> str:
    """How far an address listened on reaches, for the start-up line."""
    if is_loopback(host):
        return f"local only; {widen} to accept other machines"
    return "other machines can connect"
