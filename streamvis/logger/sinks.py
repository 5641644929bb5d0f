"""Where a logger's batches go: a store at a path, or the data server over gRPC.

A sink has ``append(items, *, writer_id, seq) -> AppendResult``,
``schemas(scope) -> {name: {column: dtype}}`` and ``close()`` (docs/CONTRACTS.md).
``Store`` opened with mode "a" is one; ``streamvis.server.client.DataClient`` is the
other. Both are imported only when chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = ["Sink", "open_sink", "is_permanent"]


class Sink(Protocol):
    """The write side of a store or server, as the logger uses it."""

    def append(self, items: Sequence[Any], *, writer_id: bytes, seq: int) -> Any:
        """Append one atomic batch; a repeated (writer_id, seq) is stored once."""
        ...

    def schemas(self, scope: str) -> Mapping[str, Mapping[str, np.dtype]]:
        """Columns and dtypes of every name of ``scope`` ({} if unknown)."""
        ...

    def close(self) -> None:
        """Release the file handle or channel."""
        ...


def open_sink(
    path: str | None = None,
    grpc_uri: str | None = None,
    *,
    token: str | None = None,
    tls_ca: str | None = None,
) -> Sink:
    """A Store (mode "a") at ``path`` or a DataClient for ``grpc_uri``; exactly one.

    ``token`` (default ``$STREAMVIS_TOKEN``) and ``tls_ca`` (default
    ``$STREAMVIS_TLS_CA``) apply to ``grpc_uri`` only."""
    if (path is None) == (grpc_uri is None):
        raise InvalidArgumentError("give exactly one of path= or grpc_uri=")
    if path is not None:
        from streamvis.storage import Store

        store: Sink = Store.open(str(path), mode="a")
        return store
    from streamvis.server.client import DataClient

    client: Sink = DataClient(str(grpc_uri), token=token, tls_ca=tls_ca)
    return client


def is_permanent(exc: BaseException) -> bool:
    """True when retrying the same batch cannot succeed (the batch itself is refused)."""
    return isinstance(exc, InvalidArgumentError)
