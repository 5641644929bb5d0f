"""The sidecar index: a snapshot of ``LogState`` as an Arrow IPC file.

One row per points record (scope, name, index, key, offset, length, count, x_min,
x_max, schema), plus schema metadata naming the log it belongs to (log id,
generation), how far it covers (positions) and the CRC of the last record covered,
so a stale or foreign index is detected and rebuilt. Configs, scope order and
writer sequence numbers ride in the metadata as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamvis.storage.state import (
    Entry,
    GroupEntries,
    LogState,
    NameState,
    ScopeState,
    parse_schema_text,
    schema_text,
)

__all__ = ["IndexMeta", "dump_index", "load_index"]

INDEX_VERSION = 1

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


def dump_index(state: LogState, meta: IndexMeta) -> bytes:
    """Serialise ``state`` and ``meta`` to Arrow IPC file bytes."""
    cols: dict[str, list[Any]] = {f.name: [] for f in _SCHEMA}
    for scope, name, index, ns, grp in state.iter_groups():
        stext = schema_text(ns.schema)
        for e in grp.entries:
            cols["scope"].append(scope)
            cols["name"].append(name)
            cols["index"].append(index)
            cols["key"].append(e.key)
            cols["offset"].append(e.offset)
            cols["length"].append(e.length)
            cols["count"].append(e.count)
            cols["x_min"].append(e.x_min)
            cols["x_max"].append(e.x_max)
            cols["schema"].append(stext)
    arrays = []
    for f in _SCHEMA:
        if pa.types.is_dictionary(f.type):
            arrays.append(pa.array(cols[f.name], pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(cols[f.name], f.type))
    extra = {
        "version": INDEX_VERSION,
        "log_id": meta.log_id,
        "generation": meta.generation,
        "positions": meta.positions,
        "last_frame": list(meta.last_frame) if meta.last_frame else None,
        "scopes": list(state.scopes),
        "configs": {s: st.config for s, st in state.scopes.items() if st.config is not None},
        "writers": {w.hex(): seq for w, seq in state.writers.items()},
    }
    schema = _SCHEMA.with_metadata({"streamvis": json.dumps(extra)})
    table = pa.Table.from_arrays(arrays, schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def load_index(data: bytes) -> tuple[LogState, IndexMeta]:
    """Parse index bytes; raises ValueError (or an Arrow error) when they are not one."""
    reader = pa.ipc.open_file(pa.py_buffer(data))
    table = reader.read_all()
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
    d = table.to_pydict()
    schema_cache: dict[str, dict[str, str]] = {}
    for scope, name, index, key, offset, length, count, x_min, x_max, stext in zip(
        d["scope"], d["name"], d["index"], d["key"], d["offset"], d["length"],
        d["count"], d["x_min"], d["x_max"], d["schema"], strict=True,
    ):
        st = state.scopes.get(scope)
        if st is None:
            st = state.scopes[scope] = ScopeState()
        ns = st.names.get(name)
        if ns is None:
            schema = schema_cache.get(stext)
            if schema is None:
                schema = schema_cache[stext] = parse_schema_text(stext)
            ns = st.names[name] = NameState(dict(schema))
        grp = ns.groups.get(index)
        if grp is None:
            grp = ns.groups[index] = GroupEntries()
        grp.add(Entry(key, offset, length, count, x_min, x_max))
    last = extra["last_frame"]
    meta = IndexMeta(
        log_id=extra["log_id"],
        generation=int(extra["generation"]),
        positions={k: int(v) for k, v in extra["positions"].items()},
        last_frame=(last[0], int(last[1]), int(last[2])) if last else None,
    )
    return state, meta
