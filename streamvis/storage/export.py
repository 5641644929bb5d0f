"""Parquet export of a whole log, hive-partitioned by scope and name.

``DIR/scope=<scope>/name=<name>/part-0.parquet`` holds one (scope, name): the
``index`` column and the data columns. Partition values are percent-encoded (so a
scope with a slash stays one directory), which DuckDB, Polars and Spark decode.
A value too long for a directory name (file systems allow 255 bytes) is cut and
made unique with a hash; every file also carries its exact scope and name in its
schema metadata (``streamvis.scope``, ``streamvis.name``).
Each (scope, name) is read and written on its own, so memory follows the largest
name, not the log. A file at one of those paths that an earlier export did not write
is never replaced: ``ForeignFileError`` before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from streamvis.storage.engine.store import Store
from streamvis.storage.format.ownership import foreign_error

__all__ = ["ParquetExport", "export_parquet"]


@dataclass(frozen=True)
class ParquetExport:
    files: list[str]
    points: int


_MAX_PART = 200  # bytes of an encoded partition value (NAME_MAX is 255)


def _part(key: str, value: str) -> str:
    encoded = urllib.parse.quote(value, safe="")
    if len(encoded) > _MAX_PART:
        head = ""
        for ch in value:  # whole characters only
            q = urllib.parse.quote(ch, safe="")
            if len(head) + len(q) > 160:
                break
            head += q
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        encoded = f"{head}~{digest}"
    return f"{key}={encoded}"


_PART_FILE = "part-0.parquet"
_OUR_KEY = b"streamvis.scope"


def _check_ours(target: str) -> None:
    """Refuse to replace a file that is not a Parquet file of an earlier export."""
    if not os.path.lexists(target):
        return
    if os.path.isfile(target) and os.path.getsize(target) == 0:
        return
    try:
        meta = pq.read_schema(target).metadata or {}
    except (OSError, pa.ArrowException):
        meta = {}
    if _OUR_KEY not in meta:
        raise foreign_error(target, "a Parquet file of a streamvis export")


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
        folders = {
            key: os.path.join(out_dir, _part("scope", key[0]), _part("name", key[1]))
            for key in keys
        }
        for folder in folders.values():  # before writing anything
            _check_ours(os.path.join(folder, _PART_FILE))
        for done, (scope, name) in enumerate(keys, 1):
            table = store.read(scope, name).tables.get((scope, name))
            if table is not None:
                folder = folders[(scope, name)]
                os.makedirs(folder, exist_ok=True)
                target = os.path.join(folder, _PART_FILE)
                _check_ours(target)
                meta = {**(table.schema.metadata or {}),
                        b"streamvis.scope": scope.encode(), b"streamvis.name": name.encode()}
                pq.write_table(table.replace_schema_metadata(meta), target)
                files.append(target)
                points += table.num_rows
            if progress:
                progress(done, len(keys))
    return ParquetExport(files, points)
