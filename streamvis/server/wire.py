"""Points to and from the service's messages, shared by the server and both clients.

Points travel as columns (``Column``): floats as raw little-endian bytes, decoded
with ``numpy.frombuffer`` without a copy; integers through the storage codec (steps
become LINEAR, runs such as ``index`` shrink to a few bytes). Every message is kept
under a size limit by splitting rows into chunks. Pure functions: no I/O, no gRPC.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.server.messages import config_from_json, config_to_proto, delete_to_proto
from streamvis.storage.format.codec import (
    STORED_DTYPES,
    decode_column,
    encode_column,
    normalize_array,
)
from streamvis.storage.format.media import media_from_body, media_kind, media_record_body
from streamvis.storage.format.model import ConfigUpdate, Deletion, Item, Points, ReadResult
from streamvis.storage.read.ranges import RangeRequest, RangesResult
from streamvis.storage.read.reading import dictionary_index

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "channel_options",
    "server_options",
    "keepalive_ms",
    "KEEPALIVE_ENV",
    "encode_column_raw",
    "fill_column",
    "decode_payload",
    "table_chunks",
    "read_result_messages",
    "TableAssembler",
    "table_from_chunks",
    "append_requests",
    "items_from_requests",
]

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
KEEPALIVE_ENV = "STREAMVIS_KEEPALIVE_MS"
DEFAULT_KEEPALIVE_MS = 20_000
# decoded bytes an Append batch may claim beyond what it carried: a LINEAR column is
# 16 bytes on the wire for any length, so a forged length must not be allocated
MAX_DECODED_EXTRA = 256 * 1024 * 1024
_OVERHEAD = 1024  # room for keys, tags and lengths around the column bytes
_DTYPE_OF_CODE = {code: dt for dt, code in STORED_DTYPES.items()}


def keepalive_ms() -> int:
    """Milliseconds between the clients' keepalive pings: $STREAMVIS_KEEPALIVE_MS, else
    20 s. Both ends read it, so the server always accepts the pings the clients send."""
    raw = os.environ.get(KEEPALIVE_ENV)
    if raw is None or raw == "":
        return DEFAULT_KEEPALIVE_MS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 100:
        raise InvalidArgumentError(
            f"${KEEPALIVE_ENV}={raw!r}: a whole number of milliseconds >= 100 is required"
        )
    return value


def channel_options(
    max_message_bytes: int, *, keepalive: int | None = None
) -> list[tuple[str, Any]]:
    """Client channel options: the message limit, quick reconnects, no port sharing, and
    a keepalive ping every ``keepalive`` ms (default ``keepalive_ms()``), idle or not.

    Reconnects start after 100 ms and back off to 1 s. ``min_reconnect_backoff_ms`` is
    not set low with them: gRPC uses it as the time each connection attempt is given
    (20 s by default), and at 100 ms a loaded machine's handshake failed the first call.
    """
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.keepalive_time_ms", keepalive or keepalive_ms()),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def server_options(
    max_message_bytes: int, *, keepalive: int | None = None
) -> list[tuple[str, Any]]:
    """Server options: the same limits, and pings accepted as often as the clients send
    them. Without ``min_ping_interval_without_data_ms`` the server allows one ping per
    5 minutes on an idle connection and answers the clients' 20 s pings with GOAWAY
    ENHANCE_YOUR_CALM "too_many_pings"; half the clients' interval leaves slack."""
    interval = keepalive or keepalive_ms()
    return [
        *channel_options(max_message_bytes, keepalive=interval),
        ("grpc.http2.min_ping_interval_without_data_ms", max(1, interval // 2)),
    ]


def encode_column_raw(name: str, arr: np.ndarray) -> dpb.Column:
    """A 1-D array as a ``Column``: floats raw (fast both ways), integers through the
    storage codec (steps become LINEAR, runs like ``index`` shrink to almost nothing)."""
    col = dpb.Column()
    fill_column(col, name, arr)
    return col


def fill_column(col: dpb.Column, name: str, arr: np.ndarray) -> None:
    """Set ``col`` (already inside its parent message: no copy of the parent) to ``arr``."""
    if arr.dtype not in STORED_DTYPES or not arr.flags.c_contiguous:
        arr = normalize_array(arr, column=name)
    if arr.dtype.kind == "i":
        col.CopyFrom(encode_column(name, arr))
        return
    col.name = name
    col.dtype = cast(Any, STORED_DTYPES[arr.dtype])
    col.encoding = dpb.RAW
    col.length = arr.size
    col.data = arr.tobytes()


def decode_payload(col: dpb.Column) -> np.ndarray:
    """A received ``Column`` as an array (RAW: a zero-copy view of the message bytes)."""
    dtype = _DTYPE_OF_CODE.get(col.dtype)
    if dtype is not None and col.encoding == dpb.RAW:
        if len(col.data) == col.length * dtype.itemsize:
            return np.frombuffer(col.data, dtype=dtype)
    elif dtype is not None and col.encoding == dpb.LINEAR and len(col.data) == 2 * dtype.itemsize:
        first, step = np.frombuffer(col.data, dtype=dtype)
        if dtype.kind == "f" and (step != 0 or not np.isfinite(first)):
            raise InvalidArgumentError(
                f"column {col.name[:100]!r}: a LINEAR {dtype} column holds one finite value "
                f"(step 0), got first {first}, step {step}; send floats RAW"
            )
        if step == 0:
            return np.full(col.length, first, dtype=dtype)
        stop = int(first) + int(step) * col.length
        info = np.iinfo(dtype)
        if info.min <= stop <= info.max:  # one pass
            return np.arange(int(first), stop, int(step), dtype=dtype)
        out = np.arange(col.length, dtype=dtype)  # the end wraps: two passes, same wrap
        out *= step
        out += first
        return out
    return _decode(col)


class _CodedRows:
    """A dictionary column (the store's ``index``) expanded to its values one message's
    rows at a time: ``.to_numpy()`` of the whole column would cost 8 B/row at once."""

    def __init__(self, column: pa.DictionaryArray) -> None:
        self._codes = column.indices.to_numpy()
        self._values = column.dictionary.to_numpy()
        self.dtype = self._values.dtype

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self._values[self._codes[rows]]


def _rows_per_chunk(arrays: Sequence[np.ndarray | _CodedRows], limit: int) -> int:
    row_bytes = sum(a.dtype.itemsize for a in arrays) or 1
    budget = max(limit - _OVERHEAD - 64 * len(arrays), row_bytes)
    return max(1, budget // row_bytes)


def _table_arrays(table: pa.Table) -> list[tuple[str, np.ndarray | _CodedRows]]:
    out: list[tuple[str, np.ndarray | _CodedRows]] = []
    for col_name, col in zip(table.column_names, table.columns, strict=True):
        one = col.chunk(0) if col.num_chunks == 1 else None
        if isinstance(one, pa.DictionaryArray) and one.null_count == 0:
            out.append((col_name, _CodedRows(one)))
            continue
        arr = col.to_numpy() if col.num_chunks == 1 else col.combine_chunks().to_numpy()
        out.append((col_name, np.asarray(arr)))
    return out


def _row_slices(table: pa.Table, limit: int) -> Iterator[tuple[list[tuple[str, np.ndarray]], int]]:
    """Consecutive row slices of ``table`` (at least one) and their raw size in bytes."""
    arrays = _table_arrays(table)
    n = table.num_rows
    step = _rows_per_chunk([a for _, a in arrays], limit)
    row_bytes = sum(a.dtype.itemsize for _, a in arrays)
    start = 0
    while True:
        stop = min(n, start + step)
        yield [(c, a[start:stop]) for c, a in arrays], (stop - start) * row_bytes + 64 * len(arrays)
        start = stop
        if start >= n:
            return


def _add_chunk(
    reply: spb.FetchReply, scope: str, name: str, arrays: list[tuple[str, np.ndarray]]
) -> None:
    chunk = reply.tables.add(scope=scope, name=name)
    for c, a in arrays:
        fill_column(chunk.columns.add(), c, a)


def table_chunks(scope: str, name: str, table: pa.Table, limit: int) -> Iterator[spb.FetchReply]:
    """``table`` as FetchReply messages of consecutive rows, each under ``limit`` bytes
    (none ends the batch)."""
    for arrays, _ in _row_slices(table, limit):
        reply = spb.FetchReply()
        _add_chunk(reply, scope, name, arrays)
        yield reply


def ranges_messages(result: RangesResult, limit: int) -> Iterator[spb.FetchReply]:
    """A ReadRanges answer under ``limit`` bytes per message: each request's rows in chunks
    tagged with its number; the last message carries the cursor and every count."""
    reply, size = spb.FetchReply(), 0
    for i, table in enumerate(result.tables):
        if table is None:
            continue
        for arrays, chunk_size in _row_slices(table, limit):
            if reply.tables and size + chunk_size + 16 > limit - _OVERHEAD:
                yield reply
                reply, size = spb.FetchReply(), 0
            _add_chunk(reply, "", "", arrays)
            reply.tables[-1].request = i
            size += chunk_size + 16
    reply.end_of_batch = True
    reply.cursor = result.cursor
    reply.counts.extend(c if t is not None else -1 for c, t in zip(result.counts, result.tables, strict=True))
    yield reply


def ranges_from_replies(replies: Iterable[spb.FetchReply], requests: int) -> RangesResult:
    """Reassemble a ReadRanges reply stream of ``requests`` requests."""
    parts: dict[int, list[dict[str, np.ndarray]]] = {}
    for reply in replies:
        for chunk in reply.tables:
            if chunk.request >= requests:
                raise InvalidArgumentError(f"a ReadRanges reply names request {chunk.request}")
            parts.setdefault(chunk.request, []).append(
                {c.name: decode_payload(c) for c in chunk.columns}
            )
        if reply.end_of_batch:
            counts = list(reply.counts)
            if len(counts) != requests:
                raise InvalidArgumentError(
                    f"a ReadRanges reply has {len(counts)} counts for {requests} requests"
                )
            tables: list[pa.Table | None] = [
                None if c < 0 else (_concat(parts[i]) if i in parts else pa.table({}))
                for i, c in enumerate(counts)
            ]
            return RangesResult(tables, [max(c, 0) for c in counts], reply.cursor)
    raise InvalidArgumentError("the ReadRanges reply stream ended without its last message")


def range_request_to_proto(r: RangeRequest) -> spb.ReadRangeRequest:
    """A ReadRangeRequest with only the given fields set."""
    req = spb.ReadRangeRequest(scope=r.scope, name=r.name, index=int(r.index))
    if r.x_min is not None:
        req.x_min = float(r.x_min)
    if r.x_max is not None:
        req.x_max = float(r.x_max)
    if r.max_points is not None:
        req.max_points = int(r.max_points)
    if r.upto is not None:
        req.upto = int(r.upto)
    req.smoothing = float(r.smoothing)
    if r.x_column is not None:
        req.x_column = r.x_column
    return req


def range_request_from_proto(req: spb.ReadRangeRequest) -> RangeRequest:
    """The storage-side request of a ReadRangeRequest."""
    opt = lambda f: getattr(req, f) if req.HasField(f) else None  # noqa: E731
    max_points, upto = opt("max_points"), opt("upto")
    return RangeRequest(
        req.scope,
        req.name,
        int(req.index),
        opt("x_min"),
        opt("x_max"),
        int(max_points) if max_points is not None else None,
        int(upto) if upto is not None else None,
        float(req.smoothing),
        opt("x_column"),
    )


def read_result_messages(
    result: ReadResult, limit: int, *, reset: bool = False
) -> Iterator[spb.FetchReply]:
    """One read's batch as FetchReply messages under ``limit``; the last ends the batch."""
    reply = spb.FetchReply(reset=reset)
    for scope, name in result.deleted:
        tomb = reply.deleted.add(scope=scope)
        if name is not None:
            tomb.name = name
    size = reply.ByteSize()
    for (scope, name), table in result.tables.items():
        for arrays, chunk_size in _row_slices(table, limit):
            chunk_size += len(scope) + len(name) + 16
            if reply.tables and size + chunk_size > limit - _OVERHEAD:
                yield reply
                reply, size = spb.FetchReply(), 0
            _add_chunk(reply, scope, name, arrays)
            size += chunk_size
    reply.end_of_batch = True
    reply.cursor = result.cursor
    yield reply


class TableAssembler:
    """Collects FetchReply messages back into whole batches (``ReadResult``)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
        self._deleted: list[tuple[str, str | None]] = []
        self.reset = False

    def add(self, reply: spb.FetchReply) -> ReadResult | None:
        """Take one message; return the batch when ``reply`` completes it."""
        self.reset = self.reset or reply.reset
        for tomb in reply.deleted:
            self._deleted.append((tomb.scope, tomb.name if tomb.HasField("name") else None))
        for chunk in reply.tables:
            cols = {c.name: decode_payload(c) for c in chunk.columns}
            self._parts.setdefault((chunk.scope, chunk.name), []).append(cols)
        if not reply.end_of_batch:
            return None
        tables = {key: dictionary_index(_concat(parts)) for key, parts in self._parts.items()}
        result = ReadResult(tables=tables, cursor=reply.cursor, deleted=self._deleted)
        self._parts, self._deleted = {}, []
        return result


def _concat(parts: list[dict[str, np.ndarray]]) -> pa.Table:
    """One table over the received chunks (zero-copy: one Arrow chunk per message)."""
    if len(parts) == 1:
        return pa.table(parts[0])
    keys = list(parts[0])
    if any(list(p) != keys for p in parts):
        raise InvalidArgumentError("the chunks of one table carry different columns")
    return pa.table({c: pa.chunked_array([p[c] for p in parts]) for c in keys})


def table_from_chunks(replies: Iterable[spb.FetchReply]) -> pa.Table:
    """The single table of a ReadRange reply stream (empty table when none)."""
    assembler = TableAssembler()
    result = None
    for reply in replies:
        result = assembler.add(reply) or result
    if result is None or not result.tables:
        return pa.table({})
    return next(iter(result.tables.values()))


def _item_to_proto(item: Item) -> spb.Item:
    if isinstance(item, Points):
        raise TypeError("points are encoded by append_requests")
    if isinstance(item, ConfigUpdate):
        return spb.Item(config=config_to_proto(item.scope, item.config))
    if isinstance(item, Deletion):
        return spb.Item(delete=delete_to_proto(item.scope, item.name))
    kind = media_kind(item)
    if kind is not None:
        return spb.Item(**{kind: media_record_body(item)})
    raise InvalidArgumentError(
        f"cannot append {type(item).__name__}; expected Points, ConfigUpdate or Deletion"
    )


def append_requests(
    items: Sequence[Item], writer_id: bytes, seq: int | None, limit: int
) -> Iterator[spb.AppendRequest]:
    """One batch as AppendRequest messages, each under ``limit`` bytes."""

    def new() -> spb.AppendRequest:
        req = spb.AppendRequest(writer_id=writer_id)
        if seq is not None:
            req.seq = seq
        return req

    req, size = new(), 0
    for item in items:
        if not isinstance(item, Points):
            msg = _item_to_proto(item)
            if msg.ByteSize() > limit - _OVERHEAD:  # an image: one message, never split
                raise InvalidArgumentError(
                    f"{type(item).__name__.lower()} {getattr(item, 'name', '')!r} of "
                    f"{msg.ByteSize()} bytes is over the data server's message limit ({limit})")
            if req.items and size + msg.ByteSize() > limit - _OVERHEAD:
                yield req
                req, size = new(), 0
            req.items.append(msg)
            size += msg.ByteSize()
            continue
        arrays = [(c, normalize_array(a, column=c)) for c, a in item.columns.items()]
        n = len(arrays[0][1]) if arrays else 0
        step = _rows_per_chunk([a for _, a in arrays], limit)
        start, first = 0, True
        while first or start < n:
            stop = min(n, start + step)
            chunk_size = (stop - start) * sum(a.dtype.itemsize for _, a in arrays) + 64 * len(arrays) + 64
            if req.items and size + chunk_size > limit - _OVERHEAD:
                yield req
                req, size = new(), 0
            it = req.items.add(continued=not first)
            it.points.scope, it.points.name, it.points.index = item.scope, item.name, int(item.index)
            for c, a in arrays:
                fill_column(it.points.columns.add(), c, a[start:stop])
            size += chunk_size
            start, first = stop, False
    yield req


def items_from_requests(
    requests: Sequence[spb.AppendRequest],
) -> tuple[list[Item], bytes | None, int | None]:
    """The batch carried by an Append stream: (items, writer_id, seq)."""
    parts: list[Item | tuple[str, str, int, list[dict[str, np.ndarray]]]] = []
    writer_id: bytes | None = None
    seq: int | None = None
    budget = MAX_DECODED_EXTRA
    for req in requests:
        budget += 4 * req.ByteSize()
        writer_id = writer_id or req.writer_id or None
        if req.HasField("seq"):
            seq = req.seq
        for it in req.items:
            kind = it.WhichOneof("body")
            if kind == "points":
                p = it.points
                for c in p.columns:
                    budget -= c.length * _itemsize(c)
                if budget < 0:
                    raise InvalidArgumentError(
                        f"points of {p.scope!r}/{p.name!r}: the batch's columns claim more rows "
                        "than its bytes can hold (forged lengths?); split it into smaller batches"
                    )
                try:
                    cols = {c.name: decode_payload(c) for c in p.columns}
                except InvalidArgumentError as exc:
                    where = f"points of {p.scope[:100]!r}/{p.name[:100]!r}"
                    raise InvalidArgumentError(f"{where}: {exc}") from None
                if it.continued and parts and isinstance(parts[-1], tuple):
                    parts[-1][3].append(cols)
                else:
                    parts.append((p.scope, p.name, p.index, [cols]))
            elif kind == "config":
                parts.append(ConfigUpdate(it.config.scope, config_from_json(it.config)))
            elif kind == "delete":
                parts.append(Deletion(it.delete.scope, it.delete.name or None))
            elif kind == "image" or kind == "text":
                parts.append(media_from_body(getattr(it, kind)))
            else:
                raise InvalidArgumentError("append item carries no points, config or delete")
    items: list[Item] = []
    for part in parts:
        if isinstance(part, tuple):
            scope, name, index, chunks = part
            items.append(Points(scope, name, index, _concat_columns(chunks)))
        else:
            items.append(part)
    return items, writer_id, seq


def _itemsize(col: dpb.Column) -> int:
    dtype = _DTYPE_OF_CODE.get(col.dtype)
    return dtype.itemsize if dtype is not None else 8


def _concat_columns(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(chunks) == 1:
        return chunks[0]
    keys = set(chunks[0])
    if any(set(c) != keys for c in chunks):
        raise InvalidArgumentError("the chunks of one points item carry different columns")
    return {c: np.concatenate([ch[c] for ch in chunks]) for c in chunks[0]}


def _decode(col: dpb.Column) -> np.ndarray:
    try:
        return decode_column(col)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
