"""The Python export API (the seed's "local file" and "remote fetch" APIs).

Local::

    from streamvis import script
    scopes = script.scopes(path="runs.log")
    names = script.names(path="runs.log", scope=scopes[0])
    data = script.export(path="runs.log")          # {(scope, name, index): {column: ndarray}}
    tables = script.export_arrow(path="runs.log")  # {(scope, name): pyarrow.Table}; .to_pandas()
    script.export_parquet(path="runs.log", out_dir="parquet/")
    best = script.summaries("runs.log", ["loss"], stats=("min", "last"))  # one row per run
    seeds = script.aggregate("runs.log", "loss", "-seed", band="std")  # {group: table}
    script.media("runs.log")                        # image and text names with their steps
    pics = script.images("runs.log", "run1", "samples")  # [(step, HxWxC uint8 ndarray)]
    notes = script.texts("runs.log", "run1", "notes")    # [(step, str)]

Remote (a data server at ``host:port``): ``gscopes``, ``gnames``, ``gfetch_sync``,
``gfetch_arrow``, ``gsummaries``, ``gaggregate``, ``gmedia``, ``gimages``, ``gtexts`` take the same arguments with ``uri``
instead of ``path``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.run_analysis import aggregate_tables
from streamvis.source import LocalSource
from streamvis.storage import Image, MediaInfo, Store, Text
from streamvis.storage.export import ParquetExport, export_parquet
from streamvis.storage.read.media import decode_png

__all__ = [
    "scopes",
    "names",
    "configs",
    "export",
    "export_arrow",
    "export_parquet",
    "ParquetExport",
    "summaries",
    "aggregate",
    "media",
    "images",
    "texts",
    "gscopes",  # noqa: F822 - provided lazily by __getattr__
    "gnames",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_sync",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_arrow",  # noqa: F822 - provided lazily by __getattr__
    "gfetch_pattern",  # noqa: F822
    "gconfigs",  # noqa: F822
    "gsummaries",  # noqa: F822
    "gaggregate",  # noqa: F822
    "gmedia",  # noqa: F822
    "gimages",  # noqa: F822
    "gtexts",  # noqa: F822
]

_REMOTE = {"gscopes", "gnames", "gfetch_sync", "gfetch_arrow", "gfetch_pattern", "gconfigs",
           "gsummaries", "gaggregate", "gmedia", "gimages", "gtexts"}


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


def summaries(
    path: str,
    names: Sequence[str],
    *,
    stats: Sequence[str] = ("min", "max", "last"),
    scope_pattern: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pa.Table:
    """One row per run: ``scope``, its config flattened (``a.b``) and a ``NAME.STAT``
    column per name and stat (``min max first last mean count argmin argmax``; argmin
    and argmax are the step). Computed over every point of the log."""
    with LocalSource(Store.open(path, "r", storage_options=storage_options)) as src:
        return src.summaries(names, stats=stats, scope_pattern=scope_pattern)


def aggregate(
    path: str,
    name: str,
    group_by: str | Sequence[str],
    *,
    agg: str = "mean",
    band: str = "minmax",
    scope_pattern: str | None = None,
    x_name: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> dict[tuple[Any, ...], pa.Table]:
    """``{group values: table}`` of ``name`` over the runs grouped by ``group_by`` (config
    keys, or ``"-seed"``: every key but seed); columns ``x y lo hi n``, exact at every x
    (see ``streamvis.storage.read.aggregates``). Keys are the group's values in key order.
    ``x_name``: x is the value that name had at the same step (``streamvis.storage.read.step_join``)."""
    with LocalSource(Store.open(path, "r", storage_options=storage_options)) as src:
        groups = src.aggregate(name, group_by, agg=agg, band=band, scope_pattern=scope_pattern,
                               x_name=x_name)
    return aggregate_tables(groups.aggregates)


def media(path: str, scope_pattern: str | None = None, **store_options: Any) -> list[MediaInfo]:
    """Image and text names (``kind``), with their steps; numeric names never list them."""
    with Store.open(path, "r", **store_options) as store:
        return store.media(scope_pattern=scope_pattern)


def images(path: str, scope: str, name: str, *, steps: Sequence[int] | None = None,
           **store_options: Any) -> list[tuple[int, np.ndarray]]:
    """``[(step, HxWxC uint8 array)]`` of an image name, in step order (every step when
    ``steps`` is None); NotFoundError names a missing name or step."""
    with Store.open(path, "r", **store_options) as store:
        items = store.read_media(scope, name, steps)
    return [(it.step, decode_png(it.png)) for it in items if isinstance(it, Image)]


def texts(path: str, scope: str, name: str, *, steps: Sequence[int] | None = None,
          **store_options: Any) -> list[tuple[int, str]]:
    """``[(step, text)]`` of a text name, in step order."""
    with Store.open(path, "r", **store_options) as store:
        items = store.read_media(scope, name, steps)
    return [(it.step, it.text) for it in items if isinstance(it, Text)]


def __getattr__(attr: str) -> Any:
    # The remote API lives with the gRPC client; import it only when asked for.
    if attr in _REMOTE:
        from streamvis.server import remote_api

        return getattr(remote_api, attr)
    raise AttributeError(f"module 'streamvis.script' has no attribute {attr!r}")
