"""The sidecar index: a snapshot of ``LogState`` as an Arrow IPC file.

One row per points record (scope, name, index, key, offset, length, count, x_min,
x_max, schema), plus schema metadata naming the log it belongs to (log id,
generation), how far it covers (positions) and the CRC of the last record covered,
so a stale or foreign index is detected and rebuilt. Configs, scope order and
writer sequence numbers ride in the metadata as JSON.

The Arrow bytes are followed by a CRC32C of them and a magic: Arrow does not check
its input, and a damaged dictionary can crash the process when it is read, so a
file whose checksum fails is refused before Arrow sees it (the store then rebuilds
from the log), and what passes is validated in full before use.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.storage.backend import LogBackend
from streamvis.storage.format.framing import FRAME_OVERHEAD, MAX_PAYLOAD, checksum
from streamvis.storage.format.media import MediaEntry, MediaName
from streamvis.storage.format.ownership import INDEX_TRAILER_MAGIC
from streamvis.storage.format.scan import frame_crc_at
from streamvis.storage.format.state import (
    GroupEntries,
    LogState,
    NameState,
    ScopeState,
    parse_schema_text,
    schema_text,
)

__all__ = ["IndexMeta", "dump_index", "load_index", "load_trusted_index"]

# 2: schemas as JSON (column names with ',' or ':'); 3: image and text entries ("media"),
# so an index written by a streamvis that predates them (which skips those records) is
# rebuilt from the log rather than trusted to hold them
INDEX_VERSION = 3
_TRAILER_MAGIC = INDEX_TRAILER_MAGIC  # after the Arrow bytes: u32 crc32c(arrow bytes), magic
_TRAILER_SIZE = 4 + len(_TRAILER_MAGIC)

_SCHEMA = pa.schema(
    [
        ("scope", pa.dictionary(pa.int32(), pa.string())),
        ("name", pa.dictionary(pa.int32(), pa.string())),
        ("index", pa.int64()),
        ("key", pa.dictionary(pa.int32(), pa.string())),
        ("offset", pa.int64()),
        ("length", pa.int64()),
        ("count", pa.int64()),
        ("x_min", pa.float64()),
        ("x_max", pa.float64()),
        ("schema", pa.dictionary(pa.int32(), pa.string())),
    ]
)


@dataclass
class IndexMeta:
    """What the index covers and which log it belongs to."""

    log_id: str  # hex
    generation: int
    positions: dict[str, int]
    last_frame: tuple[str, int, int] | None  # (key, offset, crc) of the last covered record


def _rows_table(cols: dict[str, list[Any]]) -> pa.Table:
    arrays = []
    for f in _SCHEMA:
        if pa.types.is_dictionary(f.type):
            arrays.append(pa.array(cols[f.name], pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(cols[f.name], f.type))
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def dump_index(state: LogState, meta: IndexMeta) -> bytes:
    """Serialise ``state`` and ``meta`` to Arrow IPC file bytes.

    Scopes never touched since the index was loaded are copied over as Arrow slices
    of the loaded table, without being turned into Python objects.
    """
    pieces: list[pa.Table] = []
    cols: dict[str, list[Any]] = {f.name: [] for f in _SCHEMA}
    for scope, st in state.scopes.items():
        raw = st.raw_rows()
        if raw is not None:
            if cols["scope"]:
                pieces.append(_rows_table(cols))
                cols = {f.name: [] for f in _SCHEMA}
            pieces.append(raw)
            continue
        for name, ns in st.names.items():
            stext = schema_text(ns.schema)
            for index, grp in ns.groups.items():
                n, rows = len(grp), grp.rows()
                cols["scope"].extend([scope] * n)
                cols["name"].extend([name] * n)
                cols["index"].extend([index] * n)
                cols["key"].extend(grp.keys())
                for field in ("offset", "length", "count", "x_min", "x_max"):
                    cols[field].extend(rows[field].tolist())
                cols["schema"].extend([stext] * n)
    pieces.append(_rows_table(cols))
    table = pa.concat_tables(pieces).unify_dictionaries().combine_chunks()
    extra = {
        "version": INDEX_VERSION,
        "log_id": meta.log_id,
        "generation": meta.generation,
        "positions": meta.positions,
        "last_frame": list(meta.last_frame) if meta.last_frame else None,
        "scopes": list(state.scopes),
        "configs": {s: st.config for s, st in state.scopes.items() if st.config is not None},
        "writers": {w.hex(): seq for w, seq in state.writers.items()},
        "media": [
            [scope, name, mn.kind, [[s, e.key, e.offset, e.length, e.wall_time] for s, e in mn.steps.items()]]
            for (scope, name), mn in state.media.items()
        ],
    }
    schema = _SCHEMA.with_metadata({"streamvis": json.dumps(extra)})
    table = table.replace_schema_metadata(schema.metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table)
    body = sink.getvalue().to_pybytes()
    return body + checksum(body).to_bytes(4, "little") + _TRAILER_MAGIC


def load_index(data: bytes) -> tuple[LogState, IndexMeta]:
    """Parse index bytes; raises ValueError (or an Arrow error) when they are not one."""
    if len(data) < _TRAILER_SIZE or data[-len(_TRAILER_MAGIC) :] != _TRAILER_MAGIC:
        raise ValueError("not a streamvis index (no trailer)")
    body = memoryview(data)[:-_TRAILER_SIZE]
    if checksum(body) != int.from_bytes(data[-_TRAILER_SIZE : -len(_TRAILER_MAGIC)], "little"):
        raise ValueError("index checksum mismatch")
    reader = pa.ipc.open_file(pa.py_buffer(body))
    table = reader.read_all()
    table.validate(full=True)  # bounds of dictionary codes, offsets, UTF-8
    raw = (table.schema.metadata or {}).get(b"streamvis")
    if raw is None:
        raise ValueError("not a streamvis index")
    extra = json.loads(raw)
    if extra.get("version") != INDEX_VERSION:
        raise ValueError(f"index version {extra.get('version')} unsupported")
    if not table.schema.remove_metadata().equals(_SCHEMA):
        raise ValueError("index columns differ")
    state = LogState()
    for scope in extra["scopes"]:
        state.scopes[scope] = ScopeState()
    for scope, config in extra["configs"].items():
        state.scopes.setdefault(scope, ScopeState()).config = config
    state.writers = {bytes.fromhex(w): int(s) for w, s in extra["writers"].items()}
    for scope, name, kind, steps in extra["media"]:
        if kind not in ("image", "text"):
            raise ValueError(f"index media kind {kind!r}")
        state.media[(str(scope), str(name))] = MediaName(
            kind, {int(s): MediaEntry(str(k), int(o), int(n), float(w)) for s, k, o, n, w in steps}
        )
    _fill_groups(state, table.combine_chunks())
    last = extra["last_frame"]
    meta = IndexMeta(
        log_id=extra["log_id"],
        generation=int(extra["generation"]),
        positions={k: int(v) for k, v in extra["positions"].items()},
        last_frame=(last[0], int(last[1]), int(last[2])) if last else None,
    )
    return state, meta


def _strings(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """(dictionary values, codes) of a dictionary-encoded string column."""
    arr = column.chunk(0) if column.num_chunks else pa.array([], pa.string()).dictionary_encode()
    return arr.dictionary.to_pylist(), arr.indices.to_numpy(zero_copy_only=False)


def _fill_groups(state: LogState, table: pa.Table) -> None:
    """Attach each scope's groups, built lazily; rows arrive grouped by (scope, name, index)."""
    n = table.num_rows
    if n == 0:
        return
    scopes, sc = _strings(table.column("scope"))
    cols = _Columns(table)
    bounds = [0, *(np.flatnonzero(sc[1:] != sc[:-1]) + 1).tolist(), n]
    for start, end in itertools.pairwise(bounds):
        scope = scopes[int(sc[start])]
        st = state.scopes.get(scope)
        if st is None:
            st = state.scopes[scope] = ScopeState()
        st.set_loader(
            functools.partial(cols.names_between, start, end), table.slice(start, end - start)
        )


class _Columns:
    """The index's columns, turned into ``NameState`` objects a scope at a time."""

    def __init__(self, table: pa.Table) -> None:
        self.names, self.nc = _strings(table.column("name"))
        self.keys, self.kc = _strings(table.column("key"))
        self.schemas, self.schc = _strings(table.column("schema"))
        self.ix = table.column("index").to_numpy()
        self.num = {
            c: table.column(c).to_numpy() for c in ("offset", "length", "count", "x_min", "x_max")
        }
        self.parsed: dict[int, dict[str, str]] = {}

    def names_between(self, start: int, end: int) -> dict[str, NameState]:
        nc, ix = self.nc[start:end], self.ix[start:end]
        keys = [self.keys[k] for k in self.kc[start:end].tolist()]
        offset, length, count, x_min, x_max = (
            self.num[c][start:end] for c in ("offset", "length", "count", "x_min", "x_max")
        )
        change = (nc[1:] != nc[:-1]) | (ix[1:] != ix[:-1])
        bounds = [0, *(np.flatnonzero(change) + 1).tolist(), end - start]
        out: dict[str, NameState] = {}
        for a, b in itertools.pairwise(bounds):
            name = self.names[int(nc[a])]
            ns = out.get(name)
            if ns is None:
                code = int(self.schc[start + a])
                if code not in self.parsed:
                    self.parsed[code] = parse_schema_text(self.schemas[code])
                ns = out[name] = NameState(dict(self.parsed[code]))
            grp = ns.groups.get(int(ix[a]))
            if grp is None:
                grp = ns.groups[int(ix[a])] = GroupEntries()
            grp.extend(keys[a:b], offset[a:b], length[a:b], count[a:b], x_min[a:b], x_max[a:b])
        return out


def load_trusted_index(
    backend: LogBackend, log_id: bytes, generation: int, data: bytes | None = None
) -> tuple[LogState, IndexMeta] | None:
    """The sidecar index of this log, or None when it is missing, damaged or not
    provably this log's (then the caller rebuilds from the log, with the same result).
    ``data``: the index bytes when the caller has read them already."""
    if data is None:
        data = backend.read_index()
    if data is None:
        return None
    try:
        state, meta = load_index(data)
    except Exception:  # any damage means: rebuild from the log
        return None
    if meta.log_id != log_id.hex() or meta.generation != generation:
        return None
    if meta.last_frame is None:
        return None  # no batch committed yet: nothing worth trusting an index for
    # The index must end exactly after the intact frame it names: a forged offset or
    # length must not make us read gigabytes, nor start the scan inside a frame.
    key, offset, crc = meta.last_frame
    if offset < 0:
        return None
    head = backend.read(key, offset, 8)
    if len(head) < 8 or checksum(head[:4]) != int.from_bytes(head[4:], "little"):
        return None
    length = int.from_bytes(head[:4], "little")
    if length > MAX_PAYLOAD:
        return None
    frame = backend.read(key, offset, length + FRAME_OVERHEAD)
    if frame_crc_at(frame) != crc:
        return None
    covered: dict[str, int] = {}
    backend.advance(covered, key, offset + len(frame))
    if any(meta.positions.get(k) != v for k, v in covered.items()):
        return None
    return state, meta
