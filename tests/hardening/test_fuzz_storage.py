"""Fuzz the record decoder with mutated logs (the index loader: ``test_fuzz_index``).

Inputs are valid logs and sidecar indexes with byte mutations (flips, inserts,
deletes, duplicated ranges, truncations, forged length prefixes up to 2**32-1 with or
without a matching length checksum), and logs whose record payloads were mutated or
replaced by arbitrary protobuf messages and then re-framed with valid checksums (so
the fuzz reaches protobuf decoding, the state and the column decoders, past the CRCs).

Every entry point may only raise a ``StreamvisError``: ``scan_frames`` (nothing at
all), ``scan_chunks``, ``Store.open`` (skip_damaged False and True) and the reads
after it, ``verify``, and the next writer's append. pytest-timeout bounds every test
(no hang); peak allocation is checked with tracemalloc for forged lengths and max RSS
for the whole module.

The number of inputs is printed at the end (``[fuzz-storage] inputs fuzzed: ...``).
``STREAMVIS_SOAK=1`` multiplies the example counts.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.proto import data_pb2 as pb
from streamvis.storage import Store
from streamvis.storage.format.framing import MAX_PAYLOAD, encode_frame, scan_frames
from streamvis.storage.verify import verify
from tests.hardening.fuzz_support import (
    _mutation,
    _settings,
    apply_mutations,
    exercise_log,
)

pytestmark = pytest.mark.usefixtures("fuzz_report")  # inputs counted, RSS bounded


# -- 1. mutated bytes of a whole log -------------------------------------------------
@pytest.mark.timeout(300)
def test_mutated_logs(base, tmp_path) -> None:
    path = str(tmp_path / "m.log")

    @_settings(500)
    @given(st.lists(_mutation(), min_size=1, max_size=4))
    def run(ops: list[tuple]) -> None:
        exercise_log(apply_mutations(base["log"], base["frames"], ops), path)

    run()


@pytest.mark.timeout(120)
def test_random_bytes_and_header_prefixes(base, tmp_path) -> None:
    path = str(tmp_path / "r.log")
    header_end = base["frames"][0][1]

    @_settings(200)
    @given(st.one_of(
        st.binary(max_size=600),
        st.builds(lambda n, tail: base["log"][:n] + tail,
                  st.integers(0, header_end + 20), st.binary(max_size=40)),
    ))
    def run(data: bytes) -> None:
        exercise_log(data, path)

    run()


# -- 2. record payloads mutated or replaced, re-framed with valid checksums ----------
def _column() -> st.SearchStrategy:
    return st.builds(
        lambda name, dtype, enc, length, data: pb.Column(
            name=name, dtype=dtype, encoding=enc, length=length, data=data),
        st.sampled_from(["x", "y", "", "v", "index"]),
        st.integers(0, 6),
        st.integers(0, 6),
        st.one_of(st.integers(0, 64), st.sampled_from([2**31, 2**40, 2**63, 2**64 - 1])),
        st.one_of(st.binary(max_size=64),
                  st.builds(lambda n: b"\x28\xb5\x2f\xfd" + bytes(n), st.integers(0, 16))),
    )


def _record() -> st.SearchStrategy:
    text = st.text(max_size=12)
    u64 = st.one_of(st.integers(0, 100), st.sampled_from([2**32, 2**63, 2**64 - 1]))
    body = st.one_of(
        st.builds(lambda sc, nm, ix, cols, count, lo, hi: pb.Record(points=pb.Points(
            scope=sc, name=nm, index=ix, columns=cols, count=count, x_min=lo, x_max=hi)),
            st.sampled_from(["s1", "s3", "", "z"]), st.sampled_from(["loss", "w", "", "q"]),
            st.integers(-(2**63), 2**63 - 1), st.lists(_column(), max_size=3), u64,
            st.floats(), st.floats()),
        st.builds(lambda sc, js: pb.Record(config=pb.Config(scope=sc, json=js)),
                  st.sampled_from(["s1", "", "z"]),
                  st.one_of(text, st.sampled_from(["{", "[1]", "null", "1e999", '"s"', "{}"]))),
        st.builds(lambda sc, nm: pb.Record(delete=pb.Delete(scope=sc, name=nm)),
                  st.sampled_from(["s1", "s3", "", "z"]), st.sampled_from(["", "loss", "w"])),
        st.builds(lambda n: pb.Record(commit=pb.Commit(record_count=n)), st.integers(0, 2**32 - 1)),
        st.builds(lambda v, g: pb.Record(header=pb.Header(format_version=v, generation=g)),
                  st.integers(0, 5), u64),
        st.just(pb.Record()),
    )
    return st.builds(
        lambda r, w, seq: _with(r, w, seq), body, st.sampled_from([b"", b"w" * 8, b"\x00" * 16]), u64
    )


def _with(r: pb.Record, writer: bytes, seq: int) -> pb.Record:
    r.writer_id, r.seq = writer, seq
    return r


def _payload_op() -> st.SearchStrategy:
    pos = st.integers(0, 2**16)
    return st.one_of(
        st.tuples(st.just("payload-bytes"), pos, st.lists(_mutation(), min_size=1, max_size=3)),
        st.tuples(st.just("replace"), pos, _record()),
        st.tuples(st.just("insert-before"), pos, _record()),
        st.tuples(st.just("raw"), pos, st.binary(max_size=80)),
    )


def reframe(data: bytes, frames: list[tuple[int, int]], ops: list[tuple]) -> bytes:
    """Mutate payloads (not the header frame) and frame them again with valid CRCs."""
    payloads = [bytes(f.payload) for f in scan_frames(data)]
    for op in ops:
        i = 1 + op[1] % (len(payloads) - 1)
        if op[0] == "payload-bytes":
            p = payloads[i]
            payloads[i] = apply_mutations(p, [(0, len(p))], op[2]) if p else p
        elif op[0] == "replace":
            payloads[i] = op[2].SerializeToString()
        elif op[0] == "insert-before":
            payloads.insert(i, op[2].SerializeToString())
        elif op[0] == "raw":
            payloads[i] = op[2]
    return b"".join(encode_frame(p) for p in payloads)


@pytest.mark.timeout(300)
def test_mutated_record_payloads(base, tmp_path) -> None:
    path = str(tmp_path / "p.log")

    @_settings(500)
    @given(st.lists(_payload_op(), min_size=1, max_size=3))
    def run(ops: list[tuple]) -> None:
        exercise_log(reframe(base["log"], base["frames"], ops), path)

    run()
# -- 4. forged lengths: no huge allocation -------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("length", [2**32 - 1, 2**31 + 5, MAX_PAYLOAD + 1, MAX_PAYLOAD])
@pytest.mark.parametrize("fix_crc", [True, False])
def test_forged_length_allocates_little(base, tmp_path, length: int, fix_crc: bool) -> None:
    path = str(tmp_path / "f.log")
    for frame in range(1, len(base["frames"]), 2):
        data = apply_mutations(base["log"], base["frames"], [("forge", frame, length, fix_crc)])
        tracemalloc.start()
        try:
            exercise_log(data, path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 32 << 20, f"forged length {length} at frame {frame}: peak {peak >> 20} MB"


# -- 6. regressions: CRC-valid forged records ----------------------------------------
def _col(name: str, dtype: int, enc: int, length: int, data: bytes) -> pb.Column:
    return pb.Column(name=name, dtype=dtype, encoding=enc, length=length, data=data)


_F8 = np.arange(4, dtype=np.float64).tobytes()
FORGED_RECORDS = {
    # json.loads raised JSONDecodeError out of Store.open
    "config_not_json": pb.Record(config=pb.Config(scope="s1", json="{")),
    # a config that is not an object broke configs() with TypeError
    "config_not_object": pb.Record(config=pb.Config(scope="s1", json="1e999")),
    "config_deeply_nested": pb.Record(config=pb.Config(scope="s1", json="[" * 100_000)),
    # a points record without columns: StopIteration from the group cache
    "points_no_columns": pb.Record(points=pb.Points(scope="s1", name="loss", index=0, count=0)),
    # a forged count: read() tried to allocate 32 GiB (MemoryError / ValueError / OverflowError)
    "points_count_2_32": pb.Record(points=pb.Points(
        scope="s1", name="w", index=3, count=2**32, columns=[_col("x", pb.FLOAT64, pb.RAW, 4, _F8)])),
    "points_count_2_64": pb.Record(points=pb.Points(
        scope="s1", name="w", index=3, count=2**64 - 1,
        columns=[_col("x", pb.FLOAT64, pb.RAW, 4, _F8)])),
    # a forged column length: verify() allocated 8 TiB (MemoryError)
    "column_length_2_40": pb.Record(points=pb.Points(
        scope="s9", name="w", index=0, count=4,
        columns=[_col("x", pb.INT64, pb.LINEAR, 2**40, bytes(16))])),
    "zstd_column_huge_length": pb.Record(points=pb.Points(
        scope="s9", name="w", index=0, count=4,
        columns=[_col("x", pb.FLOAT64, pb.ZSTD, 2**40, b"\x28\xb5\x2f\xfd" + bytes(8))])),
    # damaged zstd bytes: pyarrow's OSError escaped from read() and verify()
    "zstd_garbage": pb.Record(points=pb.Points(
        scope="s9", name="w", index=0, count=4,
        columns=[_col("x", pb.FLOAT64, pb.ZSTD, 4, b"\x28\xb5\x2f\xfd" + bytes(12))])),
    "unknown_encoding": pb.Record(points=pb.Points(
        scope="s9", name="w", index=0, count=4,
        columns=[_col("x", pb.FLOAT64, 9, 2**40, _F8)])),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", sorted(FORGED_RECORDS))
def test_regression_forged_record(base, tmp_path, case: str) -> None:
    """One CRC-valid batch holding a forged record after a valid log: only
    StreamvisErrors, small allocations, and the valid batches stay readable."""
    rec = FORGED_RECORDS[case]
    rec.writer_id, rec.seq = b"f" * 8, 99
    commit = pb.Record(writer_id=b"f" * 8, seq=99, commit=pb.Commit(record_count=1))
    data = base["log"] + encode_frame(rec.SerializeToString()) + encode_frame(commit.SerializeToString())
    path = str(tmp_path / "r.log")
    tracemalloc.start()
    try:
        exercise_log(data, path, writer=False)
        with open(path, "wb") as f:
            f.write(data)
        report = verify(path)  # never raises: reports the forged record as damage
        with Store.open(path, skip_damaged=True) as s:  # the valid batches all read back
            loss = s.read("s1", "loss").tables
            configs = s.configs()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak >> 20} MB"
    assert not report.ok, "verify reports the forged record"
    assert {k: t.to_pydict() for k, t in loss.items()} == {
        k: t for k, t in base["ref"]["tables"].items() if k == ("s1", "loss")}
    assert configs == base["ref"]["configs"]
