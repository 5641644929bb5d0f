"""Turning stored records into Arrow tables.

Reads by index fetch only the byte ranges of the wanted records, coalescing
neighbours into one read, and decode each record's columns straight from the read
buffer (``points_view``: no protobuf copies) into output arrays allocated once.
Local reads go in windows of 4 MiB, so what a read holds besides its output is one
window (a larger record alone); object stores fetch up to 64 ranges (64 MiB) at once.

The ``index`` column of a table is dictionary-encoded: int64 values (one per
index), int8/int16/int32 codes (the narrowest that holds the group's number of
indices), so it costs 1 byte per row for up to 127 indices instead of 8.
``.to_numpy()`` and ``.to_pylist()`` give the int64 values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from streamvis.errors import CorruptDataError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.codec import column_dtype, decode_column, decode_column_into
from streamvis.storage.format.framing import HEADER_SIZE, TRAILER_SIZE, checksum
from streamvis.storage.format.state import Entry
from streamvis.storage.read.points_view import ColumnView, PointsView, points_view

__all__ = [
    "GroupPlan",
    "iter_entries",
    "read_entries",
    "read_tables",
    "read_groups",
    "decode_records",
    "decode_points",
    "index_column",
    "index_runs",
    "split_by_index",
    "dictionary_index",
]

_COALESCE_GAP = 1 << 20  # read across gaps smaller than this
_MAX_READ = 64 << 20  # object stores: a window of concurrent reads
_MAX_LOCAL_READ = 4 << 20  # local logs: sequential reads, so small windows cost nothing
_LINEAR_CHUNK = 1 << 16  # LINEAR columns are filled this many values at a time
# records from this size decode through points_view (no copies); smaller ones through
# protobuf, which parses them ~3x faster and whose copies of one small record cost nothing
_VIEW_MIN_BYTES = 256 << 10
_ARANGE64 = np.arange(_LINEAR_CHUNK, dtype=np.float64)  # LINEAR steps decoded as float64
_ARANGE64.flags.writeable = False


def decode_points(body: pb.Points, where: str = "") -> dict[str, np.ndarray]:
    """A points record's columns as numpy arrays."""
    try:
        out: dict[str, np.ndarray] = {}
        for c in body.columns:
            if c.length != body.count:  # before allocating what a forged length claims
                raise ValueError(f"column {c.name!r} of {c.length} values, count {body.count}")
            out[c.name] = decode_column(c)
        return out
    except ValueError as exc:
        raise CorruptDataError(f"points record {where} does not decode: {exc}") from None


@dataclass(frozen=True)
class _Span:
    """One read: ``length`` bytes of ``key`` at ``offset`` covering some entries."""

    key: str
    offset: int
    length: int
    members: list[int]


def _spans(entries: Sequence[Entry], max_read: int) -> list[_Span]:
    """Entries in file order, neighbours coalesced into one read of at most ``max_read``
    bytes (a larger record is a read of its own)."""
    order = sorted(range(len(entries)), key=lambda i: (entries[i].key, entries[i].offset))
    spans: list[_Span] = []
    i = 0
    while i < len(order):
        first = entries[order[i]]
        j = i + 1
        end = first.offset + first.length
        while j < len(order):
            e = entries[order[j]]
            if (
                e.key != first.key
                or e.offset - end > _COALESCE_GAP
                or e.offset + e.length - first.offset > max_read
            ):
                break
            end = max(end, e.offset + e.length)
            j += 1
        spans.append(_Span(first.key, first.offset, end - first.offset, order[i:j]))
        i = j
    return spans


def _windows(spans: list[_Span], max_read: int) -> Iterator[list[_Span]]:
    """Spans fetched together: up to 64 reads or ``max_read`` bytes (concurrent on
    object stores)."""
    window: list[_Span] = []
    size = 0
    for span in spans:
        if window and (len(window) >= 64 or size + span.length > max_read):
            yield window
            window, size = [], 0
        window.append(span)
        size += span.length
    if window:
        yield window


def _iter_payloads(
    backend: LogBackend, entries: Sequence[Entry]
) -> Iterator[tuple[int, memoryview]]:
    """``(position in entries, CRC-checked payload)`` for every entry, in file order.

    Neighbouring records are fetched in one read, many reads at once where the
    backend can (object stores). At most one window of reads is held at a time: 4 MiB
    on local logs (one buffer reused for every window), 64 MiB on object stores; a
    payload is valid only until the next one is asked for.
    """
    read_buffers = getattr(backend, "read_buffers", None)  # local logs (backend.py)
    max_read = _MAX_LOCAL_READ if read_buffers is not None else _MAX_READ
    windows = list(_windows(_spans(entries, max_read), max_read))
    scratch = None
    if read_buffers is not None and len(windows) > 1:  # one buffer for every window
        scratch = np.empty(max(sum(sp.length for sp in w) for w in windows), np.uint8)
    for window in windows:
        ranges = [(sp.key, sp.offset, sp.length) for sp in window]
        if read_buffers is not None:
            blobs = read_buffers(ranges, scratch)
        else:
            blobs = backend.read_many(ranges)
        for span, blob in zip(window, blobs, strict=True):
            view = memoryview(blob)
            for k in span.members:
                e = entries[k]
                start = e.offset - span.offset
                frame = view[start : start + e.length]
                payload = frame[HEADER_SIZE : e.length - TRAILER_SIZE]
                if len(frame) != e.length or checksum(payload) != int.from_bytes(
                    frame[e.length - TRAILER_SIZE :], "little"
                ):
                    raise CorruptDataError(
                        f"record at offset {e.offset} failed its checksum on read", offset=e.offset
                    )
                yield k, payload
        del blobs, blob, view, frame, payload  # before the next window is read


def iter_entries(backend: LogBackend, entries: Sequence[Entry]) -> Iterator[tuple[int, pb.Points]]:
    """``(position in entries, points record)`` for every entry, in file order; every
    record's CRC is checked."""
    for k, payload in _iter_payloads(backend, entries):
        yield k, pb.Record.FromString(payload).points


def read_entries(backend: LogBackend, entries: Sequence[Entry]) -> list[pb.Points]:
    """The points records at ``entries``, in the same order."""
    out: list[pb.Points | None] = [None] * len(entries)
    for k, body in iter_entries(backend, entries):
        out[k] = body
    return [p for p in out if p is not None]


@dataclass
class GroupPlan:
    """One group to read: its key, schema (column -> dtype name) and records."""

    scope: str
    name: str
    index: int
    schema: dict[str, str]
    entries: list[Entry]


def _decode_into(col: ColumnView | pb.Column, out: np.ndarray) -> None:
    """``codec.decode_column_into``, but a long LINEAR column (steps) is filled in
    chunks, so the codec's kept ``arange`` stays small (it grows to the longest run
    asked for: 32 MiB for a 4M-step record)."""
    n = col.length
    if col.encoding != pb.LINEAR or n <= _LINEAR_CHUNK or out.size != n:
        decode_column_into(col, out)  # type: ignore[arg-type]  # ColumnView: same fields
        return
    dtype = column_dtype(col)  # type: ignore[arg-type]
    if out.dtype != dtype or len(col.data) != 2 * dtype.itemsize:
        decode_column_into(col, out)  # type: ignore[arg-type]  # raises its error
        return
    first_step = np.frombuffer(col.data, dtype=dtype).copy()
    step = first_step[1:]
    for lo in range(0, n, _LINEAR_CHUNK):
        hi = min(n, lo + _LINEAR_CHUNK)
        part = ColumnView(col.name, col.dtype, pb.LINEAR, hi - lo, first_step.data.cast("B"))
        decode_column_into(part, out[lo:hi])  # type: ignore[arg-type]
        first_step[:1] += step * (hi - lo)  # modular, like the codec's own arithmetic


def _decode_converted(col: ColumnView | pb.Column, out: np.ndarray) -> None:
    """``_decode_into`` an array of another dtype (a float32 or int64 column into float64)."""
    dtype = column_dtype(col)  # type: ignore[arg-type]
    if dtype == out.dtype:
        _decode_into(col, out)
        return
    encoding, data, n = col.encoding, col.data, out.size
    if encoding == pb.RAW and len(data) == n * dtype.itemsize:
        np.copyto(out, np.frombuffer(data, dtype))
    elif (encoding == pb.LINEAR and dtype.kind in "iu" and out.dtype == np.float64
          and n <= _LINEAR_CHUNK and len(data) == 2 * dtype.itemsize and col.length == n):
        first, step = np.frombuffer(data, dtype).tolist()  # steps: first + step * i
        if abs(first) + abs(step) * n >= 1 << 53:  # beyond float64's exact integers
            _decode_via(col, out, dtype)
        elif step == 1:
            np.add(_ARANGE64[:n], first, out=out)
        else:
            np.multiply(_ARANGE64[:n], step, out=out)
            out += first
    else:
        _decode_via(col, out, dtype)


def _decode_via(col: ColumnView | pb.Column, out: np.ndarray, dtype: np.dtype) -> None:
    """Decode into a scratch array of the column's own dtype, then convert into ``out``."""
    scratch = np.empty(out.size, dtype)
    _decode_into(col, scratch)
    np.copyto(out, scratch)


def decode_records(
    backend: LogBackend,
    flat: Sequence[Entry],
    targets: Sequence[tuple[dict[str, np.ndarray], int]],
    *,
    convert: bool = False,
) -> None:
    """Decode record ``flat[k]`` into rows ``targets[k][1]:`` of ``targets[k][0]``; with
    ``convert``, only the columns ``targets[k][0]`` has (a record's others are skipped),
    each converted to its array's dtype on the way (while the record is in cache)."""
    for k, payload in _iter_payloads(backend, flat):
        body: PointsView | pb.Points | None = None
        if len(payload) >= _VIEW_MIN_BYTES:
            body = points_view(payload)
        if body is None:  # small, or not the writer's plain encoding: protobuf decides
            body = pb.Record.FromString(payload).points
        cols, start = targets[k]
        count = flat[k].count
        if body.count != count or (len(body.columns) != len(cols) and not convert):
            raise CorruptDataError(
                f"record at offset {flat[k].offset} disagrees with the index", offset=flat[k].offset
            )
        try:
            found = 0
            for c in body.columns:
                out = cols.get(c.name) if convert else cols[c.name]
                if out is None:
                    continue
                if convert:
                    _decode_converted(c, out[start : start + count])
                else:
                    _decode_into(c, out[start : start + count])
                found += 1
            if found != len(cols):
                raise KeyError(f"{len(cols) - found} of its columns missing")
        except (ValueError, KeyError) as exc:
            raise CorruptDataError(
                f"points record at offset {flat[k].offset} does not decode: {exc}",
                offset=flat[k].offset,
            ) from None
        del payload, body  # views into the window: let it go before the next is read


def _code_type(groups: int) -> tuple[np.dtype, pa.DataType]:
    if groups <= 127:
        return np.dtype(np.int8), pa.int8()
    if groups <= 32767:
        return np.dtype(np.int16), pa.int16()
    return np.dtype(np.int32), pa.int32()


def index_column(indices: Sequence[int], counts: Sequence[int]) -> pa.DictionaryArray:
    """The ``index`` column: ``indices[i]`` repeated ``counts[i]`` times, as a dictionary
    of the int64 indices with the narrowest codes (filled run by run: a memset each).
    Indices without rows are left out of the dictionary, so equal columns encode equally
    (as the gRPC reader rebuilds them)."""
    if 0 in counts:
        kept = [(i, c) for i, c in zip(indices, counts, strict=True) if c]
        indices, counts = [i for i, _ in kept], [c for _, c in kept]
    if len(indices) == 1:  # the usual name: one index, every code 0
        return pa.DictionaryArray.from_arrays(arrow_array(np.zeros(counts[0], np.int8)),
                                              _one_index(int(indices[0])))
    np_code, pa_code = _code_type(len(indices))
    codes = np.empty(sum(counts), np_code)
    pos = 0
    for code, count in enumerate(counts):
        codes[pos : pos + count] = code
        pos += count
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, pa_code), pa.array(np.asarray(indices, np.int64), pa.int64())
    )


_ARROW_TYPES = {np.dtype(t): pa.from_numpy_dtype(t)
                for t in (np.int8, np.int16, np.int32, np.int64, np.float32, np.float64)}


def arrow_array(a: np.ndarray) -> pa.Array:
    """``pa.array(a)`` (NaN stays NaN), zero-copy and without pyarrow's checks for pandas
    types when ``a`` is a contiguous number array: ~1.5 us instead of ~5 (a poll builds a
    table for each of 1,000s of runs). The Arrow array holds ``a``'s buffer alive."""
    arrow_type = _ARROW_TYPES.get(a.dtype)
    if arrow_type is None or not a.flags.c_contiguous or a.ndim != 1:
        return pa.array(a)
    return pa.Array.from_buffers(arrow_type, len(a), [None, pa.py_buffer(a)])


def arrow_table(columns: dict[str, np.ndarray | pa.Array]) -> pa.Table:
    """``pa.table(columns)`` through ``arrow_array`` (about 6 us for a run's table, not 16)."""
    return pa.Table.from_arrays(
        [c if isinstance(c, pa.Array) else arrow_array(c) for c in columns.values()], names=list(columns))


@functools.lru_cache(maxsize=1024)
def _one_index(index: int) -> pa.Array:
    """The dictionary of a one-index column (Arrow arrays are immutable: shared)."""
    return pa.array([index], pa.int64())


def index_runs(column: pa.Array | pa.ChunkedArray) -> tuple[list[int], np.ndarray]:
    """The runs of equal values of an ``index`` column: ``(values, bounds)``, run i at rows
    ``bounds[i]:bounds[i + 1]``. On the dictionary codes (1-2 B/row): expanding 10M rows
    to int64 with ``.to_numpy()`` costs 76 MiB and 20-100 ms."""
    if isinstance(column, pa.ChunkedArray) and column.num_chunks == 1:
        column = column.chunk(0)
    lookup = None
    if isinstance(column, pa.DictionaryArray) and column.null_count == 0:
        if len(column.dictionary) == 1 and len(column):  # one index: one run
            return [column.dictionary[0].as_py()], np.array([0, len(column)], np.int64)
        keys = column.indices.to_numpy()
        lookup = column.dictionary.to_numpy()
    else:  # plain integers, or several chunks
        keys = np.asarray(column.to_numpy())
    if keys.size == 0:
        return [], np.zeros(1, np.int64)
    bounds = np.concatenate([[0], np.flatnonzero(keys[1:] != keys[:-1]) + 1, [keys.size]])
    firsts = keys[bounds[:-1]]
    return (lookup[firsts] if lookup is not None else firsts).tolist(), bounds


def split_by_index(table: pa.Table) -> list[tuple[int, dict[str, np.ndarray]]]:
    """A read table (an ``index`` column, rows grouped by index) as ``(index, columns)``
    per index, the columns numpy views of the table's (nothing when it has no rows)."""
    if table.num_rows == 0:
        return []
    values, bounds = index_runs(table.column("index"))  # on the dictionary codes
    cols = {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}
    return [(int(i), {c: v[a:b] for c, v in cols.items()})
            for i, a, b in zip(values, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def dictionary_index(table: pa.Table) -> pa.Table:
    """``table`` with a plain integer ``index`` column turned into ``index_column``'s
    form (tables that arrive over gRPC); other tables unchanged."""
    if "index" not in table.column_names or pa.types.is_dictionary(table.schema.field("index").type):
        return table
    position = table.column_names.index("index")
    values = table.column("index").to_numpy()
    if values.size == 0:
        return table.set_column(position, "index", index_column([], []))
    starts = np.flatnonzero(np.diff(values)) + 1
    bounds = np.concatenate([[0], starts, [values.size]])
    runs = values[bounds[:-1]]
    uniq, first, where = np.unique(runs, return_index=True, return_inverse=True)
    order = np.argsort(first)  # dictionary in order of first appearance, as a local read's
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    keys = uniq[order]
    np_code, pa_code = _code_type(len(keys))
    codes = np.repeat(rank[where].astype(np_code), np.diff(bounds))
    column = pa.DictionaryArray.from_arrays(
        pa.array(codes, pa_code), pa.array(keys.astype(np.int64), pa.int64())
    )
    return table.set_column(position, "index", column)


def _allocate(schema: dict[str, str], total: int) -> dict[str, np.ndarray]:
    return {c: np.empty(total, dtype=np.dtype(d)) for c, d in schema.items()}


def read_tables(backend: LogBackend, plans: Sequence[GroupPlan]) -> dict[tuple[str, str], pa.Table]:
    """One table per (scope, name), decoding each record straight into its rows.

    Counts come from the index, so output columns are allocated once and no
    concatenation copy is made: peak memory is the output plus one read buffer.
    """
    by_name: dict[tuple[str, str], list[GroupPlan]] = {}
    for plan in plans:
        by_name.setdefault((plan.scope, plan.name), []).append(plan)
    outputs: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    targets: list[tuple[dict[str, np.ndarray], int]] = []
    flat: list[Entry] = []
    for key, group_plans in by_name.items():
        counts = [sum([e.count for e in p.entries]) for p in group_plans]
        cols = _allocate(group_plans[0].schema, sum(counts))
        outputs[key] = {"index": index_column([p.index for p in group_plans], counts), **cols}
        pos = 0
        for p in group_plans:
            for e in p.entries:
                targets.append((cols, pos))
                flat.append(e)
                pos += e.count
    decode_records(backend, flat, targets)
    return {key: arrow_table(cols) for key, cols in outputs.items()}


def read_groups(
    backend: LogBackend, plans: Sequence[GroupPlan]
) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """``{(scope, name, index): {column: ndarray}}``, one allocation per column."""
    outputs: dict[tuple[str, str, int], dict[str, np.ndarray]] = {}
    targets: list[tuple[dict[str, np.ndarray], int]] = []
    flat: list[Entry] = []
    for p in plans:
        cols = outputs[(p.scope, p.name, p.index)] = _allocate(
            p.schema, sum(e.count for e in p.entries)
        )
        pos = 0
        for e in p.entries:
            targets.append((cols, pos))
            flat.append(e)
            pos += e.count
    decode_records(backend, flat, targets)
    return outputs
