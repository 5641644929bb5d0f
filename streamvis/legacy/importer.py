"""``import_legacy``: convert a data prefix of the original streamvis into a streamvis log.

What the original showed (``replay`` of ``PREFIX.idx``) becomes: each scope a scope
(its runs, when it was logged several times without ``delete_existing``, joined in
log order), each name a name with the same columns in the same order (the original's
FLOAT fields as float32, INT as int32), each Data record's points appended to
(scope, name, index) in index order, and each scope's last config (its
``google.protobuf.Struct`` as the original's ``script.config`` gave it: numbers are
floats; a null is None where the original gave 0). A column named ``scope``, ``name`` or ``index`` (reserved here) gets a
trailing ``_``. The Scope records' time stamps are not carried over.

The new log is built beside PATH (``PATH.import-tmp``) and moved into place at the
end, so PATH either does not exist or holds the whole import. PATH must not exist.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamvis.errors import (
    CorruptDataError,
    InvalidArgumentError,
    LogNotFoundError,
    SchemaMismatchError,
)
from streamvis.legacy.replay import LegacyIndex, replay
from streamvis.proto import legacy_data_pb2 as lpb
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.storage.format.legacy_records import (
    INDEX_KINDS,
    LOG_KINDS,
    iter_records,
    legacy_files,
    looks_legacy,
)
from streamvis.storage.format.ownership import SNIFF_BYTES, check_local_files, check_log_file

__all__ = ["ImportStats", "import_legacy"]

_RESERVED = ("scope", "name", "index")
_DTYPE = {lpb.FLOAT: np.dtype(np.float32), lpb.INT: np.dtype(np.int32)}
_BATCH_POINTS = 2_000_000  # values per appended batch (one fsync each)
_READ_AHEAD = 16 << 20


@dataclass(frozen=True)
class ImportStats:
    """What ``import_legacy`` wrote."""

    scopes: int
    names: int
    groups: int
    points: int
    configs: int
    renamed_columns: list[str]  # "scope/name/column" renamed because reserved here
    torn_bytes: int  # of an incomplete last record in PREFIX.idx (ignored, as the original did)


@dataclass
class _Name:
    scope: str
    name: str
    columns: list[tuple[str, np.dtype]]  # our column name and dtype, in the field order


def _prefix_files(prefix: str) -> tuple[str, str]:
    """PREFIX.log and PREFIX.idx, also when PREFIX was given as one of them."""
    log, idx = legacy_files(prefix)
    if not os.path.exists(idx) and prefix.endswith((".log", ".idx")):
        log, idx = legacy_files(prefix[:-4])
    for path, kinds, what in ((idx, INDEX_KINDS, "index"), (log, LOG_KINDS, "data log")):
        if not os.path.isfile(path):
            raise LogNotFoundError(f"no {what} of the original streamvis at {path}")
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        if size and not looks_legacy(head, size, kinds):
            raise InvalidArgumentError(
                f"{path} is not a {what} of the original streamvis (PREFIX.log and PREFIX.idx "
                "of its 2025 Bokeh + gRPC era)")
    return log, idx


def _plan_names(index: LegacyIndex) -> tuple[dict[int, _Name], list[str]]:
    """Our (scope, name, columns) of every live legacy name; refuses, before anything is
    written, a name whose runs disagree on its columns."""
    scope_of = {sid: s.scope for sid, s in index.scopes.items()}
    by_key: dict[tuple[str, str], list[tuple[str, np.dtype]]] = {}
    out: dict[int, _Name] = {}
    renamed: list[str] = []
    for nid, n in index.names.items():
        scope = scope_of[n.scope_id]
        columns = []
        for f in n.fields:
            col = f.name + "_" if f.name in _RESERVED else f.name
            if col != f.name and f"{scope}/{n.name}/{f.name}" not in renamed:
                renamed.append(f"{scope}/{n.name}/{f.name}")
            columns.append((col, _DTYPE.get(f.type, np.dtype(np.float32))))
        known = by_key.setdefault((scope, n.name), columns)
        if known != columns:
            raise SchemaMismatchError(
                f"scope {scope!r}, name {n.name!r}: its runs were logged with different "
                f"columns ({_sig(known)} and {_sig(columns)}); streamvis keeps one set of "
                "columns per name, so this prefix cannot be imported as it is")
        out[nid] = _Name(scope, n.name, columns)
    return out, renamed


def _sig(columns: list[tuple[str, np.dtype]]) -> str:
    return ", ".join(f"{c}:{dt}" for c, dt in columns)


class _LogReader:
    """Records of PREFIX.log by (begin, end) offsets, read ahead in large blocks
    (entries mostly follow each other)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.base = 0
        self.buf = b""

    def record(self, beg: int, end: int, kind: int) -> Any:
        if not (self.base <= beg and end <= self.base + len(self.buf)):
            self.f.seek(beg)
            self.base, self.buf = beg, self.f.read(max(_READ_AHEAD, end - beg))
        chunk = memoryview(self.buf)[beg - self.base : end - self.base]
        try:
            recs = list(iter_records(chunk, beg, frozenset({kind})))
        except ValueError as exc:
            raise CorruptDataError(f"{self.path}: {exc}", offset=beg) from None
        if len(recs) != 1 or recs[0].end != end:
            raise CorruptDataError(
                f"{self.path}: no whole record between offsets {beg} and {end}", offset=beg)
        return recs[0].message

    def close(self) -> None:
        self.f.close()


def _struct_to_dict(struct: Any) -> dict[str, Any]:
    """A Struct as the original's ``util._struct_to_dict`` gave it."""

    def value(v: Any) -> Any:
        kind = v.WhichOneof("kind")
        if kind == "struct_value":
            return _struct_to_dict(v.struct_value)
        if kind == "list_value":
            return [value(x) for x in v.list_value.values]
        if kind == "null_value":
            return None
        return getattr(v, kind)

    return {k: value(v) for k, v in struct.fields.items()}


def _columns(data: Any, plan: _Name, where: str) -> dict[str, np.ndarray]:
    if len(data.axes) != len(plan.columns):
        raise CorruptDataError(
            f"{where}: {len(data.axes)} columns for {plan.scope}/{plan.name}, whose name "
            f"record has {len(plan.columns)}")
    out = {}
    for axis, (col, dtype) in zip(data.axes, plan.columns, strict=True):
        values = axis.floats.value if axis.WhichOneof("data") == "floats" else axis.ints.value
        out[col] = np.array(values, dtype=dtype)
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise CorruptDataError(f"{where}: columns of unequal lengths {sorted(lengths)}")
    return out


def import_legacy(
    prefix: str,
    path: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportStats:
    """Convert the original streamvis's ``PREFIX.log``/``PREFIX.idx`` into a new
    streamvis log at ``path`` (a local path); see the module docstring.
    ``progress(done, total)`` is called as data entries are converted."""
    if "://" in path and not path.startswith("file://"):
        raise InvalidArgumentError(f"import-legacy writes a local log; got {path}")
    path = os.path.abspath(os.path.expanduser(path.removeprefix("file://")))
    log_path, idx_path = _prefix_files(os.path.expanduser(prefix))
    if os.path.lexists(path):
        raise InvalidArgumentError(
            f"{path} exists: import-legacy writes a new log and replaces nothing; move it "
            "or choose another PATH")
    check_local_files(path, path + ".idx", path + ".lock")
    index = replay(idx_path)
    names, renamed = _plan_names(index)
    tmp = path + ".import-tmp"
    check_log_file(tmp, "the output of an earlier streamvis import")  # ours: replaced
    _remove(tmp)
    check_local_files(tmp, tmp + ".idx", tmp + ".lock")
    points = 0
    groups: set[tuple[str, str, int]] = set()
    reader = _LogReader(log_path)
    try:
        with Store.open(tmp, "a") as store:
            configs = _import_configs(store, index, reader)
            pending: list[Points] = []
            size = 0
            total = len(index.entries)
            for done, entry in enumerate(index.entries.values(), 1):
                plan = names[entry.name_id]
                where = f"{log_path} at offset {entry.beg_offset}"
                data = reader.record(entry.beg_offset, entry.end_offset, lpb.DATA)
                cols = _columns(data, plan, where)
                n = len(next(iter(cols.values()), ()))
                if n:
                    pending.append(Points(plan.scope, plan.name, int(data.index), cols))
                    groups.add((plan.scope, plan.name, int(data.index)))
                    points += n
                    size += n * len(cols)
                if size >= _BATCH_POINTS:
                    store.append(_merge(pending))
                    pending, size = [], 0
                if progress is not None and (done % 1000 == 0 or done == total):
                    progress(done, total)
            if pending:
                store.append(_merge(pending))
            scopes = len(store.scopes())
    except BaseException:
        for f in (tmp, tmp + ".idx", tmp + ".lock"):
            _remove(f)
        raise
    finally:
        reader.close()
    _move_into_place(tmp, path)
    return ImportStats(
        scopes=scopes,
        names=len({(n.scope, n.name) for n in names.values()}),
        groups=len(groups),
        points=points,
        configs=configs,
        renamed_columns=renamed,
        torn_bytes=index.torn_tail,
    )


def _import_configs(store: Store, index: LegacyIndex, reader: _LogReader) -> int:
    """Each scope's last config (the original kept one per run; here a later one
    replaces the earlier)."""
    last: dict[str, dict[str, Any]] = {}
    for entry in index.config_entries.values():
        scope = index.scopes[entry.scope_id].scope
        cfg = reader.record(entry.beg_offset, entry.end_offset, lpb.CONFIG)
        last[scope] = _struct_to_dict(cfg.attributes)
    if last:
        store.append([ConfigUpdate(scope, cfg) for scope, cfg in last.items()])
    return len(last)


def _merge(items: list[Points]) -> list[Points]:
    """One Points per (scope, name, index) of a batch, values in order."""
    groups: dict[tuple[str, str, int], list[Points]] = {}
    for p in items:
        groups.setdefault((p.scope, p.name, p.index), []).append(p)
    out = []
    for (scope, name, index), parts in groups.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        cols = {c: np.concatenate([p.columns[c] for p in parts]) for c in parts[0].columns}
        out.append(Points(scope, name, index, cols))
    return out


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _move_into_place(tmp: str, path: str) -> None:
    """Give the finished log (and its index) its name, never replacing a file that
    appeared there meanwhile (``link`` fails when the name is taken)."""
    for src, dst in ((tmp, path), (tmp + ".idx", path + ".idx")):
        if not os.path.exists(src) or (src != tmp and os.path.lexists(dst)):
            continue  # no index (it is only a cache), or a file there: keep it
        try:
            os.link(src, dst)
        except FileExistsError:
            raise InvalidArgumentError(
                f"{dst} appeared while importing; the import is kept at {src}") from None
        except OSError:  # a file system without hard links
            if os.path.lexists(dst):
                raise
            os.rename(src, dst)
    for f in (tmp, tmp + ".idx", tmp + ".lock"):
        _remove(f)
