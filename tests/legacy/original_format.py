"""The original streamvis's writing and reading logic (github.com/hrbigelow/streamvis at
daeda73, 2025-06-16), reproduced for tests from its source with its own record format
(``streamvis/proto/legacy_data.proto``, vendored unchanged).

Writing, as its programs did it: ``OriginalLogger`` is its ``BaseLogger`` with
``tensor_type="numpy"`` (values ``np.array``-ed and downcast to int32/float32, shapes
raised to (index, point) and broadcast, buffered; a flush coalesces the buffer by
(name, start_index), concatenates along the point axis, splits items above
``MAX_ELEMS_PER_REQUEST`` and sends WriteNames then WriteData requests), talking to
``OriginalServer``, its ``AsyncRecordService`` handlers minus gRPC (ids issued from
one counter; records packed by ``util.pack_message`` and appended to ``PREFIX.idx``
and ``PREFIX.log``). Reading: ``original_export`` is its ``util.Index.update`` over
``PREFIX.idx`` plus ``util.load_data`` over ``PREFIX.log``, with the points of a
(scope, name, index) joined in index order across runs.
"""

from __future__ import annotations

import datetime
import itertools
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from streamvis.proto import legacy_data_pb2 as pb

MAX_ELEMS_PER_REQUEST = 800_000

KIND_CODES = {
    pb.Scope: pb.StoredType.SCOPE,
    pb.Name: pb.StoredType.NAME,
    pb.DataEntry: pb.StoredType.DATA_ENTRY,
    pb.ConfigEntry: pb.StoredType.CONFIG_ENTRY,
    pb.Data: pb.StoredType.DATA,
    pb.Config: pb.StoredType.CONFIG,
    pb.Control: pb.StoredType.CONTROL,
}
MESSAGE_TYPES = {v: k for k, v in KIND_CODES.items()}
DTYPE_TO_PROTO = {np.dtype("int32"): pb.FieldType.INT, np.dtype("float32"): pb.FieldType.FLOAT}
PROTO_TO_DTYPE = {pb.FieldType.INT: np.int32, pb.FieldType.FLOAT: np.float32}


# -- util.py ---------------------------------------------------------------------------
def pack_message(message: Any) -> bytes:
    kind_code = KIND_CODES[type(message)].to_bytes(1, "big")
    content = message.SerializeToString()
    return kind_code + struct.pack(">I", len(content)) + content


def pack_scope(scope_id: int, scope: str) -> bytes:
    timestamp = Timestamp()
    timestamp.FromDatetime(datetime.datetime.now(datetime.timezone.utc))
    return pack_message(pb.Scope(scope_id=scope_id, scope=scope, time=timestamp))


def pack_delete_scope(scope: str) -> bytes:
    return pack_message(pb.Control(scope=scope, name="", action=pb.DELETE_SCOPE))


def make_name_message(scope_id: int, name: str, field_sig: tuple) -> Any:
    msg = pb.Name(scope_id=scope_id, name=name)
    for field_name, dtype in field_sig:
        field = msg.fields.add()
        field.name = field_name
        field.type = DTYPE_TO_PROTO[dtype]
    return msg


def make_data_messages(name_id: int, content: dict, start_index: int, field_sig: Any) -> list:
    content_types = {k: v.dtype for k, v in content.items()}
    if len(field_sig) != len(content_types) or any(
        content_types.get(f.name) != PROTO_TO_DTYPE[f.type] for f in field_sig
    ):
        raise RuntimeError(f"content has signature {content_types.items()} which mismatches")
    shapes = {a.shape for a in content.values()}
    assert len(shapes) == 1, f"got mixed shape contents: {shapes}"
    num_slices = shapes.pop()[0]
    datas = []
    for index in range(num_slices):
        data = pb.Data(name_id=name_id, index=index + start_index)
        for field in field_sig:
            field_data = content[field.name][index]
            vals = data.axes.add()
            if np.issubdtype(field_data.dtype, np.floating):
                vals.floats.value.extend(field_data)
            else:
                vals.ints.value.extend(field_data)
        datas.append(data)
    return datas


def unpack(packed: bytes) -> Iterator[Any]:
    off, end = 0, len(packed)
    view = memoryview(packed)
    while off != end:
        if off + 5 > end:
            break
        kind = view[off]
        length = struct.unpack(">I", view[off + 1 : off + 5])[0]
        if off + 5 + length > end:
            break
        item = MESSAGE_TYPES[kind]()
        item.ParseFromString(bytes(view[off + 5 : off + 5 + length]))
        off += 5 + length
        yield item


def safe_write(fh: Any, content: bytes) -> int:
    fh.write(content)
    fh.flush()
    os.fsync(fh.fileno())
    return fh.tell()


# -- grpc_server.py: AsyncRecordService, its handlers without gRPC ---------------------
class OriginalServer:
    def __init__(self, prefix: str) -> None:
        self.index_fh = open(f"{prefix}.idx", "ab")  # noqa: SIM115 - closed by close()
        self.data_fh = open(f"{prefix}.log", "ab")  # noqa: SIM115
        self.last_issued_id = _max_id(f"{prefix}.idx")

    def issue_id(self) -> int:
        self.last_issued_id += 1
        return self.last_issued_id

    def write_scope(self, scope: str, do_delete: bool) -> int:
        if do_delete:
            safe_write(self.index_fh, pack_delete_scope(scope))
        scope_id = self.issue_id()
        safe_write(self.index_fh, pack_scope(scope_id, scope))
        return scope_id

    def write_config(self, scope_id: int, attributes: dict) -> None:
        entry_id = self.issue_id()
        attrs = Struct()
        attrs.update(attributes)
        pack = pack_message(pb.Config(entry_id=entry_id, attributes=attrs))
        end = safe_write(self.data_fh, pack)
        entry = pb.ConfigEntry(entry_id=entry_id, scope_id=scope_id, beg_offset=end - len(pack),
                               end_offset=end)
        safe_write(self.index_fh, pack_message(entry))

    def write_names(self, names: list) -> list:
        for name in names:
            name.name_id = self.issue_id()
        safe_write(self.index_fh, b"".join(pack_message(n) for n in names))
        return names

    def write_data(self, datas: list) -> None:
        packs = []
        for d in datas:
            d.entry_id = self.issue_id()
            packs.append(pack_message(d))
        pack = b"".join(packs)
        global_end = safe_write(self.data_fh, pack)
        offsets = [global_end - len(pack)]
        for p in packs:
            offsets.append(offsets[-1] + len(p))
        entries = [
            pack_message(pb.DataEntry(entry_id=d.entry_id, name_id=d.name_id, beg_offset=b,
                                      end_offset=e))
            for d, b, e in zip(datas, offsets[:-1], offsets[1:], strict=True)
        ]
        safe_write(self.index_fh, b"".join(entries))

    def close(self) -> None:
        self.index_fh.close()
        self.data_fh.close()


def _max_id(idx_path: str) -> int:
    if not os.path.exists(idx_path):
        return 0
    index = OriginalIndex()
    with open(idx_path, "rb") as f:
        index.update(f.read())
    return max(itertools.chain(index.scopes, index.names, index.entries, index.config_entries),
               default=0)


# -- logger.py: BaseLogger with tensor_type="numpy" ------------------------------------
@dataclass
class DataItem:
    name: str
    start_index: int
    data: dict

    def split(self) -> Iterator[DataItem]:
        shape_set = {ten.shape for ten in self.data.values()}
        assert len(shape_set) == 1
        dim1 = shape_set.pop()[1]
        num_elems = sum(np.prod(ten.shape) for ten in self.data.values())
        num_splits = int(np.ceil(num_elems / MAX_ELEMS_PER_REQUEST))
        steps = np.linspace(0, dim1, num_splits + 1, dtype=int)
        for beg, end in zip(steps[:-1], steps[1:], strict=True):
            yield DataItem(self.name, self.start_index, {k: v[:, beg:end] for k, v in self.data.items()})


def _downcast(ary: np.ndarray) -> np.ndarray:
    if np.issubdtype(ary.dtype, np.integer):
        return ary.astype(np.int32)
    if np.issubdtype(ary.dtype, np.floating):
        return ary.astype(np.float32)
    return ary


class OriginalLogger:
    def __init__(self, server: OriginalServer, scope: str, delete_existing: bool = True) -> None:
        self.server = server
        self.scope = scope
        self.delete_existing = delete_existing
        self.logged_names: dict[str, Any] = {}
        self.buffer: list[DataItem] = []
        self.config_written = False
        self.scope_id = server.write_scope(scope, delete_existing)  # _init_scope

    def write_config(self, attrs: dict) -> None:
        assert not self.config_written, "Can only call write_config once during run"
        self.server.write_config(self.scope_id, attrs)
        self.config_written = True

    def write(self, name: str, /, start_index: int = 0, **data: Any) -> None:
        data = {k: _downcast(np.array(v)) for k, v in data.items()}
        ups = []
        for k, v in data.items():
            if v.ndim == 0:
                ups.append(v[None, None])
            elif v.ndim == 1:
                ups.append(v[None, :])
            elif v.ndim == 2:
                ups.append(v)
            else:
                raise RuntimeError(f"Datum {k} had shape {v.shape}")
        self.buffer.append(DataItem(name, start_index, dict(zip(data, np.broadcast_arrays(*ups),
                                                                strict=True))))

    def _coalesce_items(self, data_items: list[DataItem]) -> list[DataItem]:
        items = sorted(data_items, key=lambda d: (d.name, d.start_index))
        out_items: list[DataItem] = []
        for (name, start), group in itertools.groupby(items, key=lambda d: (d.name, d.start_index)):
            group = list(group)
            out = DataItem(name, start, {k: [] for k in group[0].data})
            for item in group:
                for k, v in item.data.items():
                    out.data[k].append(v)
            out.data = {k: np.concatenate(vs, axis=1) for k, vs in out.data.items()}
            out_items.append(out)
        return [sp for item in out_items for sp in item.split()]

    def flush(self) -> None:
        """``_flush_buffer`` then ``write_content``."""
        items, self.buffer = self._coalesce_items(self.buffer), []
        pending = {}
        for item in items:
            if item.name not in self.logged_names and item.name not in pending:
                sig = tuple((k, v.dtype) for k, v in item.data.items())
                pending[item.name] = make_name_message(self.scope_id, item.name, sig)
        for msg in self.server.write_names(list(pending.values())):
            self.logged_names[msg.name] = msg
        requests: list[list] = []
        sizes: list[int] = []
        for item in items:
            elems = sum(np.size(t) for t in item.data.values())
            if not sizes or sizes[-1] + elems > MAX_ELEMS_PER_REQUEST:
                requests.append([])
                sizes.append(0)
            msg = self.logged_names[item.name]
            requests[-1].extend(make_data_messages(msg.name_id, item.data, item.start_index,
                                                   msg.fields))
            sizes[-1] += elems
        for req in requests:
            self.server.write_data(req)


# -- util.Index and util.load_data: what the original read back ------------------------
class OriginalIndex:
    def __init__(self) -> None:
        self.scopes: dict[int, Any] = {}
        self.names: dict[int, Any] = {}
        self.entries: dict[int, Any] = {}
        self.config_entries: dict[int, Any] = {}

    def update(self, packed: bytes) -> None:
        for item in unpack(packed):
            self._update_with_item(item)

    def _update_with_item(self, item: Any) -> None:
        if isinstance(item, pb.Scope):
            assert item.scope_id not in self.scopes, "Duplicate scope_id in index"
            self.scopes[item.scope_id] = item
        elif isinstance(item, pb.Name):
            if item.scope_id in self.scopes:
                assert item.name_id not in self.names, "Duplicate name_id in index"
                self.names[item.name_id] = item
        elif isinstance(item, pb.Control) and item.action == pb.DELETE_SCOPE:
            runs = {sid for sid, s in self.scopes.items() if s.scope == item.scope}
            names = {nid for nid, n in self.names.items() if n.scope_id in runs}
            self.entries = {k: e for k, e in self.entries.items() if e.name_id not in names}
            self.config_entries = {k: c for k, c in self.config_entries.items()
                                   if c.scope_id not in runs}
            self.names = {k: n for k, n in self.names.items() if k not in names}
            self.scopes = {k: s for k, s in self.scopes.items() if k not in runs}
        elif isinstance(item, pb.DataEntry):
            if item.name_id in self.names:
                self.entries[item.entry_id] = item
        elif isinstance(item, pb.ConfigEntry):
            if item.scope_id in self.scopes:
                self.config_entries[item.entry_id] = item


def _struct_to_dict(struct_msg: Any) -> dict:
    def convert(value: Any) -> Any:
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            return _struct_to_dict(value.struct_value)
        if kind == "list_value":
            return [convert(v) for v in value.list_value.values]
        return getattr(value, kind)

    return {k: convert(v) for k, v in struct_msg.fields.items()}


def original_export(prefix: str) -> tuple[dict, dict]:
    """({(scope, name, index): {field: ndarray}}, {scope: [config, ...]}) as the
    original read them (``Index.update``, ``load_data``, ``data_to_cds``,
    ``export_configs``), runs of one scope joined in index order."""
    index = OriginalIndex()
    with open(f"{prefix}.idx", "rb") as f:
        index.update(f.read())
    with open(f"{prefix}.log", "rb") as fh:
        def load(entry: Any) -> list:
            fh.seek(entry.beg_offset)
            return list(unpack(fh.read(entry.end_offset - entry.beg_offset)))

        out: dict[tuple, dict] = {}
        for entry in index.entries.values():
            name = index.names[entry.name_id]
            scope = index.scopes[name.scope_id].scope
            for data in load(entry):
                key = (scope, name.name, data.index)
                cds = out.setdefault(key, {f.name: [] for f in name.fields})
                for axis, field in zip(data.axes, name.fields, strict=True):
                    nums = axis.floats.value if field.type == pb.FLOAT else axis.ints.value
                    cds[field.name].append(np.array(nums, dtype=PROTO_TO_DTYPE[field.type]))
        configs: dict[str, list] = {}
        for centry in index.config_entries.values():
            for cfg in load(centry):
                scope = index.scopes[centry.scope_id].scope
                configs.setdefault(scope, []).append(_struct_to_dict(cfg.attributes))
    data = {k: {c: np.concatenate(v) for c, v in cds.items()} for k, cds in out.items()}
    return data, configs
