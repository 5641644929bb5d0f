"""``points_view`` (the copy-free decode of a points record) against protobuf itself:
the same fields for what the writer emits, and for any damaged or unusual payload
either the same fields or ``None`` (the reader then parses with protobuf), never a
view where protobuf would refuse the payload."""

from __future__ import annotations

import numpy as np
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamvis.proto import data_pb2 as pb
from streamvis.storage.format.model import ConfigUpdate, Deletion, Points
from streamvis.storage.format.records import encode_batch, normalize_items
from streamvis.storage.read.points_view import points_view

DTYPES = st.sampled_from([np.float32, np.float64, np.int32, np.int64])


@st.composite
def payloads(draw) -> bytes:
    """A record payload as the writer makes it: points (any stored dtype, RAW, LINEAR,
    DELTA(_ZSTD), ZSTD, BITS_DELTA_ZSTD columns), a config, a delete or a commit."""
    kind = draw(st.sampled_from(["points", "points", "points", "config", "delete", "commit"]))
    if kind == "points":
        n = draw(st.integers(1, 300))
        columns = {}
        for i in range(draw(st.integers(1, 3))):
            dtype = draw(DTYPES)
            form = draw(st.sampled_from(["steps", "stamps", "any"]))
            if form == "steps":
                arr = np.arange(n, dtype=dtype) * draw(st.integers(-3, 3))
            elif form == "stamps":  # sorted float64 wall times: BITS_DELTA_ZSTD
                arr = 1.8e9 + np.cumsum(np.full(n, draw(st.floats(0.0, 1.0))))
            else:
                arr = draw(hnp.arrays(dtype, n, elements={"allow_nan": False} if dtype in
                                      (np.float32, np.float64) else None))
            columns[draw(st.sampled_from(["x", "y", "t", "ü/v"])) + str(i)] = arr
        index = draw(st.integers(-(2**63), 2**63 - 1))
        item = Points(draw(st.text(min_size=1, max_size=5).filter(lambda s: "\0" not in s)),
                      "loss", index, columns)
    elif kind == "config":
        item = ConfigUpdate("s", {"lr": 0.1})
    elif kind == "delete":
        item = Deletion("s", "n")
    else:
        return encode_batch([], b"w" * 16, 3)[-1].payload
    return encode_batch(normalize_items([item]), b"w" * 16, 7)[0].payload


def _same(view, rec: pb.Record) -> None:
    body = rec.points
    assert view.count == body.count
    assert [(c.name, c.dtype, c.encoding, c.length, bytes(c.data)) for c in view.columns] == [
        (c.name, c.dtype, c.encoding, c.length, c.data) for c in body.columns
    ]


@given(payloads())
def test_the_writers_points_records_decode_as_protobuf_does(payload: bytes) -> None:
    rec = pb.Record.FromString(payload)
    view = points_view(memoryview(payload))
    if rec.WhichOneof("body") == "points":
        assert view is not None
        _same(view, rec)
    else:
        assert view is None  # the caller's protobuf parse decides


@settings(max_examples=300)
@given(payloads(), st.data())
def test_damaged_payloads_get_protobufs_answer_or_none(payload: bytes, data) -> None:
    raw = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if how == "flip" and raw:
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = bytes(data.draw(st.lists(st.integers(0, 255), max_size=4)))
    view = points_view(memoryview(bytes(raw)))
    try:
        rec = pb.Record.FromString(bytes(raw))
    except DecodeError:
        assert view is None
        return
    if view is not None:
        assert rec.WhichOneof("body") == "points"
        _same(view, rec)
