"""Message building and decoding, without a server: chunks stay under the limit and
reassemble into exactly what was split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st

from streamvis.server import messages as msgs
from streamvis.server import wire
from streamvis.storage.format.model import ConfigUpdate, Deletion, Points, ReadResult
from streamvis.storage.read.reading import index_column

LIMITS = st.sampled_from([4096, 8192, 65536, wire.DEFAULT_MAX_MESSAGE_BYTES])


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    indices = [2, 0, 1][: int(rng.integers(1, 4))]  # not sorted: order of first appearance
    counts = rng.multinomial(n, [1 / len(indices)] * len(indices)).tolist()
    return pa.table(
        {
            "index": index_column(indices, counts),  # as Store.read makes it
            "x": np.arange(n, dtype=np.int64),
            "y": rng.random(n).astype(np.float32),
            "z": rng.random(n),
        }
    )


@given(
    sizes=st.lists(st.integers(0, 3000), min_size=0, max_size=4),
    deleted=st.lists(st.tuples(st.text(max_size=5), st.none() | st.text(max_size=5)), max_size=3),
    limit=LIMITS,
)
@example(sizes=[1], deleted=[], limit=4096)  # an index without rows: not in the dictionary
def test_read_result_round_trip(sizes: list[int], deleted: list, limit: int) -> None:
    tables = {(f"s{i}", "n"): _table(n, i) for i, n in enumerate(sizes)}
    result = ReadResult(tables, "cursor-1", deleted)
    messages = list(wire.read_result_messages(result, limit, reset=True))
    assert all(m.ByteSize() <= limit for m in messages)
    assert [m.end_of_batch for m in messages] == [False] * (len(messages) - 1) + [True]
    assembler = wire.TableAssembler()
    back = [assembler.add(m) for m in messages]
    assert back[:-1] == [None] * (len(messages) - 1)
    got = back[-1]
    assert got is not None and assembler.reset
    assert got.cursor == "cursor-1"
    assert got.deleted == deleted
    assert list(got.tables) == list(tables)
    for key, table in tables.items():
        assert got.tables[key].equals(table)


@given(n=st.integers(0, 20000), limit=LIMITS, seq=st.none() | st.integers(0, 2**40))
def test_append_requests_round_trip(n: int, limit: int, seq: int | None) -> None:
    rng = np.random.default_rng(n)
    cols = {"x": np.arange(n, dtype=np.int32), "y": rng.random(n)}
    items = [
        ConfigUpdate("s", {"lr": 0.5, "tags": ["a"]}),
        Points("s", "loss", 3, cols),
        Deletion("s", "old"),
        Points("s", "acc", 0, {"y": rng.random(7).astype(np.float32)}),
        Deletion("t"),
    ]
    requests = list(wire.append_requests(items, b"writer", seq, limit))
    assert all(r.ByteSize() <= limit for r in requests)
    back, writer_id, got_seq = wire.items_from_requests(requests)
    assert writer_id == b"writer" and got_seq == seq
    assert [type(i) for i in back] == [type(i) for i in items]
    assert back[0] == items[0] and back[2] == items[2] and back[4] == items[4]
    for got, want in ((back[1], items[1]), (back[3], items[3])):
        assert (got.scope, got.name, got.index) == (want.scope, want.name, want.index)
        for c, a in want.columns.items():
            np.testing.assert_array_equal(got.columns[c], a)
            assert got.columns[c].dtype == a.dtype


def test_groups_messages_split_under_limit() -> None:
    from streamvis.storage.format.model import GroupInfo

    groups = [GroupInfo("scope", f"name{i}", i, i, 0.0, float(i)) for i in range(2000)]
    replies = list(msgs.groups_messages(groups, 4096))
    assert len(replies) > 1 and all(r.ByteSize() <= 4096 for r in replies)
    back = [msgs.group_from_proto(g) for r in replies for g in r.groups]
    assert back == groups


@given(
    dtype=st.sampled_from([np.int32, np.int64]),
    first=st.integers(-(2**31), 2**31 - 1),
    step=st.integers(-5, 5),
    n=st.integers(0, 50),
    at_edge=st.booleans(),
)
def test_integer_columns_round_trip_up_to_the_dtype_edges(dtype, first, step, n, at_edge) -> None:
    info = np.iinfo(dtype)
    if at_edge and step:  # a sequence that ends exactly on the dtype's max or min
        last = info.max if step > 0 else info.min
        first = last - step * (n - 1) if n else last
    values = [first + step * i for i in range(n)]
    if any(v < info.min or v > info.max for v in values):
        return
    arr = np.array(values, dtype=dtype)
    back = wire.decode_payload(wire.encode_column_raw("x", arr))
    assert back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)


def test_plain_index_arrives_as_the_stores_dictionary() -> None:
    """A table with a plain int64 index (another server version) is turned into the
    dictionary form a local read gives: same values, first-appearance order, int8 codes."""
    plain = pa.table({"index": np.array([7, 7, 3, 3, 3, 9], np.int64), "x": np.arange(6)})
    msgs_ = list(wire.read_result_messages(ReadResult({("s", "n"): plain}, "c", []), 4096))
    assembler = wire.TableAssembler()
    got = [assembler.add(m) for m in msgs_][-1]
    assert got is not None
    index = got.tables[("s", "n")].column("index")
    assert index.type == pa.dictionary(pa.int8(), pa.int64())
    assert index.to_numpy().tolist() == [7, 7, 3, 3, 3, 9]
    assert index.chunk(0).dictionary.to_pylist() == [7, 3, 9]
    assert got.tables[("s", "n")].equals(
        pa.table({"index": index_column([7, 3, 9], [2, 3, 1]), "x": np.arange(6)})
    )
