"""The data protocol's version, which client and server tell each other.

A client sends ``PROTOCOL`` as ``streamvis-protocol`` metadata with every call.
Version 2 changed the listings (Scopes, Names, Configs, Schemas) from one reply to a
stream of chunks; a client without the header (an older streamvis) gets one message
when the listing fits, and ``VersionMismatchError`` naming both versions otherwise
(it would wait for its one message forever). The client side turns what an older
server answers (RESOURCE_EXHAUSTED for a listing that did not fit, UNIMPLEMENTED for a
call it lacks) into the same one line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamvis.errors import VersionMismatchError

__all__ = [
    "PROTOCOL",
    "PROTOCOL_KEY",
    "MAX_RANGES",
    "client_protocol",
    "older_client_error",
    "older_server_error",
]

PROTOCOL = 2
PROTOCOL_KEY = "streamvis-protocol"
LISTINGS = frozenset({"Scopes", "Names", "Configs", "Schemas"})
# ranges one ReadRanges call may ask for: a plot draws at most 10,000 lines by default
# (--max-lines) and the clients split longer lists into several calls; one hostile
# list of 150,000 ranges cost 7.5 s of server time and 280 MB at once
MAX_RANGES = 20_000


def client_protocol(metadata: Iterable[Any] | None) -> int:
    """The protocol a call's metadata names (1: none, an older client)."""
    for item in metadata or ():
        key, value = (item.key, item.value) if hasattr(item, "key") else item
        if key == PROTOCOL_KEY:
            try:
                return int(value.decode() if isinstance(value, bytes) else value)
            except ValueError:
                return 1
    return 1


def older_client_error(call: str, version: int, messages: int) -> VersionMismatchError:
    """A listing a client of ``version`` cannot take (it needs ``messages`` messages)."""
    return VersionMismatchError(
        f"this data server speaks streamvis data protocol {PROTOCOL} and sends the "
        f"{call} listing in {messages} messages; the client speaks protocol {version} "
        "(an older streamvis) and takes one: upgrade streamvis where the client runs"
    )


def older_server_error(uri: str, why: str) -> VersionMismatchError:
    """What ``why`` (an older data server's failure) means to this client."""
    return VersionMismatchError(
        f"the data server at {uri} runs an older streamvis than this client (data protocol "
        f"{PROTOCOL}): {why}; upgrade streamvis where the data server runs"
    )
