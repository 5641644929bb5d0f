"""The Python export API (the seed's "local file" and "remote fetch" APIs).

Local::

    from streamvis import script
    scopes = script.scopes(path="runs.log")
    names = script.names(path="runs.log", scope=scopes[0])
    data = script.export(path="runs.log")          # {(scope, name, index): {column: ndarray}}
    tables = script.export_arrow(path="runs.log")  # {(scope, name): pyarrow.Table}; .to_pandas()
    script.export_parquet(path="runs.log", out_dir="parquet/")

Remote (a data server at ``host:port``): ``gscopes``, ``gnames``, ``gfetch_sync``,
``gfetch_arrow`` take the same arguments with ``uri`` instead of ``path``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.storage import Store
from streamvis.storage.export import ParquetExport, export_parquet

__all__ = [
    "scopes",
    "names",
    "configs",
    "export",
    "export_arrow",
    "export_parquet",
    "ParquetExport",
    "gscopes",  # noqa: F822 - provided lazily by __getattr__
    "gnames",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_sync",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_arrow",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_pattern",  # noqa: F822
    "gconfigs",  # noqa: F822
]

_REMOTE = {"gscopes", "gnames", "gfetch_sync", "gfetch_arrow", "gfetch_pattern", "gconfigs"}


def scopes(path: str, **store_options: Any) -> list[str]:
    """Scopes of the log at ``path``, in order of first appearance."""
    with Store.open(path, "r", **store_options) as store:
        return store.scopes()


def names(path: str, scope: str, **store_options: Any) -> list[str]:
    """Names logged under ``scope``."""
    with Store.open(path, "r", **store_options) as store:
        return store.names(scope)


def configs(path: str, scope: str | None = None, **store_options: Any) -> dict[str, dict[str, Any]]:
    """``{scope: config}`` for every scope with a config (or just ``scope``)."""
    with Store.open(path, "r", **store_options) as store:
        if scope is not None:
            return {scope: store.config(scope)}
        return store.configs()


def export_arrow(
    path: str,
    scope: str | None = None,
    name: str | None = None,
    *,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    **store_options: Any,
) -> dict[tuple[str, str], pa.Table]:
    """``{(scope, name): table}`` with an ``index`` column and the data columns.

    ``index`` is dictionary-encoded (int64 values, the narrowest integer codes: 1 byte
    per row up to 127 indices); ``.to_numpy()`` gives int64."""
    with Store.open(path, "r", **store_options) as store:
        return store.read(
            scope, name, scope_pattern=scope_pattern, name_pattern=name_pattern
        ).tables


def export(
    path: str,
    scope: str | None = None,
    name: str | None = None,
    *,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    **store_options: Any,
) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """``{(scope, name, index): {column: ndarray}}``, decoded straight into one array per
    group and column (no Arrow detour, no concatenation copy)."""
    with Store.open(path, "r", **store_options) as store:
        return store.read_arrays(scope, name, scope_pattern=scope_pattern, name_pattern=name_pattern)


def __getattr__(attr: str) -> Any:
    # The remote API lives with the gRPC client; import it only when asked for.
    if attr in _REMOTE:
        from streamvis.server import remote_api

        return getattr(remote_api, attr)
    raise AttributeError(f"module 'streamvis.script' has no attribute {attr!r}")
