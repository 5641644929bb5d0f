"""The remote fetch API: read a data server from a script, no log download needed.

Same shapes as the local export API (``streamvis.script``)::

    from streamvis import script
    uri = "10.0.0.5:8081"
    scopes = script.gscopes(uri=uri)
    names = script.gnames(uri=uri, scope=scopes[0])
    data = script.gfetch_sync(uri, scopes[0])        # {(scope, name, index): {column: ndarray}}
    tables = script.gfetch_arrow(uri, name_pattern="loss")   # {(scope, name): pyarrow.Table}

Every function takes ``token=`` (default ``$STREAMVIS_TOKEN``) and ``tls_ca=`` (the
PEM CA of a TLS server; default ``$STREAMVIS_TLS_CA``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.run_analysis import aggregate_tables
from streamvis.server.client import GrpcSource
from streamvis.storage import Image, MediaInfo, Text
from streamvis.storage.read.convert import tables_to_arrays
from streamvis.storage.read.media import decode_png

__all__ = ["gscopes", "gnames", "gconfigs", "gfetch_arrow", "gfetch_sync", "gfetch_pattern",
           "gsummaries", "gaggregate", "gmedia", "gimages", "gtexts"]


def gscopes(
    uri: str, *, token: str | None = None, tls_ca: str | None = None
) -> list[str]:
    """Scopes held by the data server at ``uri`` ("host:port")."""
    with GrpcSource(uri, token, tls_ca=tls_ca) as src:
        return src.scopes()


def gnames(
    uri: str, scope: str, *, token: str | None = None, tls_ca: str | None = None
) -> list[str]:
    """Names of ``scope`` (NotFoundError when the server does not hold it)."""
    with GrpcSource(uri, token, tls_ca=tls_ca) as src:
        return src.names(scope)


def gconfigs(
    uri: str,
    scope_pattern: str | None = None,
    *,
    token: str | None = None,
    tls_ca: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Config of every (matching) scope."""
    with GrpcSource(uri, token, tls_ca=tls_ca) as src:
        return src.configs(scope_pattern)


def gfetch_arrow(
    uri: str,
    scope: str | None = None,
    name: str | None = None,
    *,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    token: str | None = None,
    tls_ca: str | None = None,
) -> dict[tuple[str, str], pa.Table]:
    """One Arrow table per (scope, name): an "index" column (dictionary-encoded int64, as
    ``export_arrow`` gives), then the data columns.

    ``scope``/``name`` are exact; ``*_pattern`` are RE2 regexes matched anywhere.
    """
    with GrpcSource(uri, token, tls_ca=tls_ca, timeout=None) as src:
        result = src.fetch(scope, name, scope_pattern=scope_pattern, name_pattern=name_pattern)
    return result.tables


def gfetch_sync(
    uri: str,
    scope: str | None = None,
    name: str | None = None,
    *,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    token: str | None = None,
    tls_ca: str | None = None,
) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """``{(scope, name, index): {column: ndarray}}`` of the selection, like ``export``."""
    tables = gfetch_arrow(
        uri, scope, name, scope_pattern=scope_pattern, name_pattern=name_pattern, token=token,
        tls_ca=tls_ca,
    )
    return tables_to_arrays(tables)


def gfetch_pattern(
    uri: str,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    *,
    token: str | None = None,
    tls_ca: str | None = None,
) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """``gfetch_sync`` selecting by RE2 patterns (matched anywhere) instead of exact names."""
    return gfetch_sync(
        uri, scope_pattern=scope_pattern, name_pattern=name_pattern, token=token, tls_ca=tls_ca
    )



def gsummaries(
    uri: str,
    names: Sequence[str],
    *,
    stats: Sequence[str] = ("min", "max", "last"),
    scope_pattern: str | None = None,
    token: str | None = None,
    tls_ca: str | None = None,
) -> pa.Table:
    """``script.summaries`` of the data server's log."""
    with GrpcSource(uri, token, tls_ca=tls_ca, timeout=None) as src:
        return src.summaries(names, stats=stats, scope_pattern=scope_pattern)


def gaggregate(
    uri: str,
    name: str,
    group_by: str | Sequence[str],
    *,
    agg: str = "mean",
    band: str = "minmax",
    scope_pattern: str | None = None,
    x_name: str | None = None,
    token: str | None = None,
    tls_ca: str | None = None,
) -> dict[tuple[Any, ...], pa.Table]:
    """``script.aggregate`` of the data server's log."""
    with GrpcSource(uri, token, tls_ca=tls_ca, timeout=None) as src:
        groups = src.aggregate(name, group_by, agg=agg, band=band, scope_pattern=scope_pattern,
                               x_name=x_name)
    return aggregate_tables(groups.aggregates)


def gmedia(uri: str, scope_pattern: str | None = None, *, token: str | None = None,
           tls_ca: str | None = None) -> list[MediaInfo]:
    """Image and text names held by the data server, with their steps."""
    with GrpcSource(uri, token, tls_ca=tls_ca) as src:
        return src.media(scope_pattern=scope_pattern)


def gimages(uri: str, scope: str, name: str, *, steps: Sequence[int] | None = None,
            token: str | None = None, tls_ca: str | None = None) -> list[tuple[int, np.ndarray]]:
    """``script.images`` through the data server: ``[(step, HxWxC uint8 array)]``."""
    with GrpcSource(uri, token, tls_ca=tls_ca, timeout=None) as src:
        items = src.read_media(scope, name, steps)
    return [(it.step, decode_png(it.png)) for it in items if isinstance(it, Image)]


def gtexts(uri: str, scope: str, name: str, *, steps: Sequence[int] | None = None,
           token: str | None = None, tls_ca: str | None = None) -> list[tuple[int, str]]:
    """``script.texts`` through the data server: ``[(step, text)]``."""
    with GrpcSource(uri, token, tls_ca=tls_ca, timeout=None) as src:
        items = src.read_media(scope, name, steps)
    return [(it.step, it.text) for it in items if isinstance(it, Text)]
