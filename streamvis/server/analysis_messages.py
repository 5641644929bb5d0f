"""Summaries and aggregates on the wire: Arrow tables as IPC streams in ``TableReply``
messages, rows split so that no reply passes the message size limit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from streamvis.proto import service_pb2 as spb
from streamvis.run_analysis import GroupAggregates
from streamvis.storage.read.aggregates import Aggregate, Grid

__all__ = ["aggregate_from_replies", "aggregate_replies", "summaries_from_replies",
           "summaries_replies"]


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _slices(table: pa.Table, limit: int) -> Iterator[bytes]:
    """IPC streams of consecutive rows, each well under ``limit`` bytes (one at least)."""
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    rows = max(1, (limit // 2) // per_row)
    start = 0
    while True:
        yield _ipc(table.slice(start, rows))
        start += rows
        if start >= table.num_rows:
            return


def _table(chunks: Iterable[bytes]) -> pa.Table:
    tables = [pa.ipc.open_stream(c).read_all() for c in chunks]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def summaries_replies(table: pa.Table, limit: int) -> Iterator[spb.TableReply]:
    """A summaries table as replies."""
    for chunk in _slices(table, limit):
        yield spb.TableReply(arrow_ipc=chunk)


def summaries_from_replies(replies: Iterable[spb.TableReply]) -> pa.Table:
    """The table ``summaries_replies`` sent."""
    return _table(r.arrow_ipc for r in replies)


def aggregate_replies(groups: GroupAggregates, limit: int) -> Iterator[spb.TableReply]:
    """One or more replies per group; the first carries the keys and the notes."""
    head: dict[str, Any] = {"keys": list(groups.keys), "notes": groups.notes}
    if not groups.aggregates:
        yield spb.TableReply(**head)
        return
    for values, agg in groups.aggregates.items():
        table = pa.table({"x": agg.x, "y": agg.y, "lo": agg.lo, "hi": agg.hi, "n": agg.n})
        for chunk in _slices(table, limit):
            reply = spb.TableReply(arrow_ipc=chunk, group_json=json.dumps(list(values)), **head)
            if agg.grid is not None:
                reply.grid_start, reply.grid_width = agg.grid.start, agg.grid.width
            yield reply
            head = {}


def aggregate_from_replies(replies: Iterable[spb.TableReply]) -> GroupAggregates:
    """The ``GroupAggregates`` that ``aggregate_replies`` sent."""
    out: GroupAggregates | None = None
    chunks: dict[tuple[Any, ...], list[bytes]] = {}
    grids: dict[tuple[Any, ...], Grid] = {}
    for r in replies:
        if out is None:
            out = GroupAggregates(tuple(r.keys), notes=list(r.notes))
        if not r.group_json:
            continue
        values = tuple(json.loads(r.group_json))
        chunks.setdefault(values, []).append(r.arrow_ipc)
        if r.grid_width > 0:
            grids[values] = Grid(r.grid_start, r.grid_width)
    if out is None:
        return GroupAggregates(())
    for values, parts in chunks.items():
        t = _table(parts)
        x, y, lo, hi, n = (t.column(c).to_numpy() for c in ("x", "y", "lo", "hi", "n"))
        out.aggregates[values] = Aggregate(x, y, lo, hi, n, grid=grids.get(values))
    return out
