"""Parquet export of a whole log, hive-partitioned by scope and name.

``DIR/scope=<scope>/name=<name>/part-0.parquet`` holds one (scope, name): the
``index`` column and the data columns. Partition values are percent-encoded (so a
scope with a slash stays one directory), which DuckDB, Polars and Spark decode.
Each (scope, name) is read and written on its own, so memory follows the largest
name, not the log.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.parquet as pq

from streamvis.storage.store import Store

__all__ = ["ParquetExport", "export_parquet"]


@dataclass(frozen=True)
class ParquetExport:
    files: list[str]
    points: int


def _part(key: str, value: str) -> str:
    return f"{key}={urllib.parse.quote(value, safe='')}"


def export_parquet(
    path: str,
    out_dir: str,
    *,
    scope_pattern: str | None = None,
    name_pattern: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    storage_options: dict | None = None,
) -> ParquetExport:
    """Write every live (scope, name) of the log at ``path`` under ``out_dir``."""
    files = []
    points = 0
    with Store.open(path, "r", storage_options=storage_options) as store:
        keys = sorted(
            {
                (g.scope, g.name)
                for g in store.groups(scope_pattern=scope_pattern, name_pattern=name_pattern)
            },
            key=lambda k: (store.scopes().index(k[0]), k[1]),
        )
        for done, (scope, name) in enumerate(keys, 1):
            table = store.read(scope, name).tables.get((scope, name))
            if table is not None:
                folder = os.path.join(out_dir, _part("scope", scope), _part("name", name))
                os.makedirs(folder, exist_ok=True)
                target = os.path.join(folder, "part-0.parquet")
                pq.write_table(table, target)
                files.append(target)
                points += table.num_rows
            if progress:
                progress(done, len(keys))
    return ParquetExport(files, points)
