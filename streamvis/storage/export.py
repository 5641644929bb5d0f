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

``DIR/_runs.parquet`` holds one row per exported run: ``scope``, its config flattened
(``a.b``) and the summaries of every exported name with ``x`` and ``y`` columns
(``NAME.min``, ``NAME.max``, ... as ``streamvis.storage.read.summaries`` defines them),
so DuckDB or Spark can join the points to the hyperparameters. Its leading ``_`` keeps
it out of the points when DIR is read as a hive dataset (pyarrow and Spark skip such
files), so existing readers of the export see what they saw before.

Images and texts go to ``DIR/_media/`` (``streamvis.storage.export_media``): one PNG
or text file per step; ``ParquetExport.media`` lists them.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from streamvis.columns import STEP_COLUMN, VALUE_COLUMN
from streamvis.patterns import matcher
from streamvis.storage.engine.store import Store
from streamvis.storage.export_media import export_media
from streamvis.storage.format.ownership import foreign_error
from streamvis.storage.read.run_groups import run_config
from streamvis.storage.read.summaries import STATS, Summary, runs_table

__all__ = ["ParquetExport", "export_parquet"]


@dataclass(frozen=True)
class ParquetExport:
    """The partition files written, their points, and the runs table's file (if any)."""

    files: list[str]
    points: int
    runs_file: str | None = None
    media: list[str] = field(default_factory=list)  # image (.png) and text (.txt) files


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
RUNS_FILE = "_runs.parquet"
_OUR_KEY = b"streamvis.scope"
_RUNS_KEY = b"streamvis.runs"


def _check_ours(target: str, key: bytes = _OUR_KEY) -> None:
    """Refuse to replace a file that is not a Parquet file of an earlier export."""
    if not os.path.lexists(target):
        return
    if os.path.isfile(target) and os.path.getsize(target) == 0:
        return
    try:
        meta = pq.read_schema(target).metadata or {}
    except (OSError, pa.ArrowException):
        meta = {}
    if key not in meta:
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
    runs_file = None
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
        runs_target = os.path.join(out_dir, RUNS_FILE)
        for folder in folders.values():  # before writing anything
            _check_ours(os.path.join(folder, _PART_FILE))
        _check_ours(runs_target, _RUNS_KEY)
        summaries: dict[tuple[str, str], Summary] = {}
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
                if STEP_COLUMN in table.column_names and VALUE_COLUMN in table.column_names:
                    summaries.setdefault((scope, name), Summary()).update(
                        table.column(STEP_COLUMN).to_numpy(), table.column(VALUE_COLUMN).to_numpy())
            if progress:
                progress(done, len(keys))
        if keys:
            configs = store.configs()
            runs = list(dict.fromkeys(scope for scope, _ in keys))
            names = list(dict.fromkeys(name for _, name in sorted(summaries, key=lambda k: k[1])))
            table = runs_table(runs, lambda s: run_config(s, configs), summaries, names, STATS)
            os.makedirs(out_dir, exist_ok=True)
            pq.write_table(table.replace_schema_metadata({_RUNS_KEY: b"1"}), runs_target)
            runs_file = runs_target
        media = export_media(store, out_dir, _part, scope_pattern=scope_pattern,
                             name_match=matcher(name_pattern, "name_pattern"))
    return ParquetExport(files, points, runs_file, media)
