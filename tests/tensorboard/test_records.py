"""The TFRecord framing reader: round trips, every cut point, every damaged byte."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.tensorboard.records import RecordStop, frame, iter_records

payloads = st.lists(st.binary(min_size=0, max_size=300), min_size=0, max_size=12)


def _read(data: bytes, start: int = 0, chunk: int = 64) -> tuple[list[tuple[int, bytes]], RecordStop]:
    stop = RecordStop()
    out = [(end, bytes(p)) for end, p in iter_records(io.BytesIO(data), start, stop, chunk=chunk)]
    return out, stop


@given(payloads, st.integers(1, 200))
def test_round_trip_with_end_offsets(records: list[bytes], chunk: int) -> None:
    data = b"".join(frame(p) for p in records)
    got, stop = _read(data, chunk=chunk)
    assert [p for _, p in got] == records
    ends, pos = [], 0
    for p in records:
        pos += len(frame(p))
        ends.append(pos)
    assert [e for e, _ in got] == ends
    assert stop.kind == "end" and stop.offset == len(data)
    if len(records) > 1:  # resuming at a record boundary reads the rest
        rest, _ = _read(data, start=ends[0], chunk=chunk)
        assert [p for _, p in rest] == records[1:]


@given(payloads.filter(bool), st.data())
def test_a_cut_anywhere_is_a_torn_tail_after_the_whole_records(records: list[bytes], data) -> None:
    framed = [frame(p) for p in records]
    blob = b"".join(framed)
    cut = data.draw(st.integers(0, len(blob) - 1))
    got, stop = _read(blob[:cut])
    whole, pos = 0, 0
    for f in framed:
        if pos + len(f) > cut:
            break
        whole += 1
        pos += len(f)
    assert [p for _, p in got] == records[:whole]
    if cut == pos:
        assert stop.kind == "end"
    else:
        assert stop.kind == "torn" and stop.offset == pos


@given(payloads.filter(bool), st.data())
def test_a_damaged_byte_is_corrupt_and_never_decoded(records: list[bytes], data) -> None:
    framed = [frame(p) for p in records]
    blob = bytearray(b"".join(framed))
    at = data.draw(st.integers(0, len(blob) - 1))
    blob[at] ^= data.draw(st.integers(1, 255))
    got, stop = _read(bytes(blob))
    pos, hit = 0, 0
    for i, f in enumerate(framed):
        if pos <= at < pos + len(f):
            hit = i
            break
        pos += len(f)
    assert [p for _, p in got] == records[:hit]
    # a damaged length may also claim more bytes than the file has: then it reads as torn
    assert stop.kind in ("corrupt", "torn") and stop.offset == pos
    if at >= pos + 8:  # the length itself is intact: the checksum catches it
        assert stop.kind == "corrupt"


def test_torch_writer_files_read_whole(tmp_path) -> None:
    tb = pytest.importorskip("torch.utils.tensorboard")
    with tb.SummaryWriter(str(tmp_path)) as w:
        for s in range(20):
            w.add_scalar("a", s, s)
    (path,) = [p for p in tmp_path.iterdir() if "tfevents" in p.name]
    got, stop = _read(path.read_bytes(), chunk=1 << 20)
    assert len(got) == 21 and stop.kind == "end"  # file_version + 20 scalars
