"""Fuzz the record decoder and the index loader with mutated logs and indexes.

Inputs are valid logs and sidecar indexes with byte mutations (flips, inserts,
deletes, duplicated ranges, truncations, forged length prefixes up to 2**32-1 with or
without a matching length checksum), and logs whose record payloads were mutated or
replaced by arbitrary protobuf messages and then re-framed with valid checksums (so
the fuzz reaches protobuf decoding, the state and the column decoders, past the CRCs).

Every entry point may only raise a ``StreamvisError``: ``scan_frames`` (nothing at
all), ``scan_chunks``, ``Store.open`` (skip_damaged False and True) and the reads
after it, ``verify``, and the next writer's append. A mutated ``.idx`` beside a valid
log is never trusted over the log: the store opens and answers exactly as a fresh
rebuild does (or, when the mutation left none of our marks on it, refuses to replace
it with ``ForeignFileError``, leaving its bytes as they were). pytest-timeout bounds every test (no hang); peak allocation is checked
with tracemalloc for forged lengths and max RSS for the whole run.

The number of inputs is printed at the end (``[fuzz-storage] inputs fuzzed: ...``).
``STREAMVIS_SOAK=1`` multiplies the example counts.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import struct
import tracemalloc
from collections import Counter
from typing import Any

import crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.errors import ForeignFileError, StreamvisError
from streamvis.proto import data_pb2 as pb
from streamvis.storage import ConfigUpdate, Deletion, Points, Store
from streamvis.storage.backend import Chunk
from streamvis.storage.framing import MAX_PAYLOAD, ScanResult, encode_frame, scan_frames
from streamvis.storage.index_file import load_index
from streamvis.storage.ownership import SNIFF_BYTES, is_our_index
from streamvis.storage.scan import scan_chunks
from streamvis.storage.verify import verify

SOAK = os.environ.get("STREAMVIS_SOAK") == "1"
SCALE = 10 if SOAK else 1
COUNTS: Counter[str] = Counter()
RSS_LIMIT_MB = 400  # max RSS growth allowed over the whole module


def _settings(n: int) -> settings:
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
    )


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module", autouse=True)
def _report():
    # The high-water mark when this module's tests start (not at import: in a full run,
    # tests of other modules run between collection and here and raise it on their own).
    rss0 = _max_rss_mb()
    yield
    grown = _max_rss_mb() - rss0
    print(f"\n[fuzz-storage] inputs fuzzed: {sum(COUNTS.values())} {dict(COUNTS)}; "
          f"max RSS grew {grown:.0f} MB")
    assert grown < RSS_LIMIT_MB, f"max RSS grew by {grown:.0f} MB while fuzzing"


# -- the valid inputs ----------------------------------------------------------------
def _write_base(path: str) -> None:
    rng = np.random.default_rng(1)
    with Store.open(path, "a") as s:
        s.append([
            Points("s1", "loss", 0, {"x": np.arange(40, dtype=np.int64),
                                     "y": rng.random(40).astype(np.float32)}),
            ConfigUpdate("s1", {"lr": 0.1, "tags": ["a", "b"]}),
        ])
        s.append([
            Points("s1", "loss", 1, {"x": np.cumsum(rng.integers(0, 3, 300)).astype(np.int64),
                                     "y": np.zeros(300, np.float32)}),
            Points("s2", "acc", 0, {"v": rng.integers(0, 9, 200).astype(np.int32)}),
        ])
        s.append([Deletion("s2")])
        s.append([Points("s1", "loss", 0, {"x": np.arange(40, 60, dtype=np.int64),
                                           "y": rng.random(20).astype(np.float32)})])
        s.append([Points("s3", "w", 5, {"a": rng.random(64), "b": np.arange(64) * 7})])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("fuzzbase")
    path = str(d / "base.log")
    _write_base(path)
    log = open(path, "rb").read()
    idx = open(path + ".idx", "rb").read()
    frames = [(f.offset, f.end) for f in scan_frames(log)]
    ref_dir = d / "ref"
    ref_dir.mkdir()
    shutil.copy(path, ref_dir / "ref.log")
    with Store.open(str(ref_dir / "ref.log")) as s:  # a rebuild: no index beside it
        ref = _answers(s)
    return {"log": log, "idx": idx, "frames": frames, "ref": ref, "dir": d}


def _answers(s: Store) -> dict[str, Any]:
    """Everything a reader can ask, in comparable form."""
    tables = s.read().tables
    return {
        "scopes": s.scopes(),
        "names": {sc: s.names(sc) for sc in s.scopes()},
        "configs": s.configs(),
        "schemas": {sc: {n: {c: str(d) for c, d in sch.items()} for n, sch in s.schemas(sc).items()}
                    for sc in s.scopes()},
        "groups": [(g.scope, g.name, g.index, g.count, _nan(g.x_min), _nan(g.x_max))
                   for g in s.groups()],
        "tables": {k: t.to_pydict() for k, t in tables.items()},
        "writers": dict(s._state.writers),  # noqa: SLF001 - the dedup state must match too
    }


def _nan(v: float) -> Any:
    return "nan" if isinstance(v, float) and math.isnan(v) else v


# -- mutations -----------------------------------------------------------------------
U32 = struct.Struct("<I")
FORGED = st.sampled_from([2**32 - 1, 2**31, MAX_PAYLOAD + 1, MAX_PAYLOAD, 2**20, 0, 1, 7])


def _mutation() -> st.SearchStrategy:
    pos = st.integers(0, 2**20)
    return st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(0, 7)),
        st.tuples(st.just("set"), pos, st.integers(0, 255)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=24)),
        st.tuples(st.just("delete"), pos, st.integers(1, 40)),
        st.tuples(st.just("dup"), pos, st.integers(1, 200)),
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("forge"), pos, st.one_of(FORGED, st.integers(0, 2**32 - 1)), st.booleans()),
        st.tuples(st.just("dupframe"), pos),
        st.tuples(st.just("dropframe"), pos),
    )


def apply_mutations(data: bytes, frames: list[tuple[int, int]], ops: list[tuple]) -> bytes:
    buf = bytearray(data)
    for op in ops:
        kind = op[0]
        if not buf:
            break
        p = op[1] % len(buf)
        if kind == "flip":
            buf[p] ^= 1 << op[2]
        elif kind == "set":
            buf[p] = op[2]
        elif kind == "insert":
            buf[p:p] = op[2]
        elif kind == "delete":
            del buf[p : p + op[2]]
        elif kind == "dup":
            buf[p:p] = buf[p : p + op[2]]
        elif kind == "truncate":
            del buf[p:]
        elif kind == "forge":  # a forged length prefix at a frame start, its CRC fixed or not
            start = frames[op[1] % len(frames)][0]
            if start + 8 <= len(buf):
                length = U32.pack(op[2])
                buf[start : start + 4] = length
                if op[3]:
                    buf[start + 4 : start + 8] = U32.pack(crc32c.crc32c(length))
        elif kind in ("dupframe", "dropframe"):  # replay or lose a whole (valid) frame
            a, b = frames[op[1] % len(frames)]
            if b <= len(buf):
                if kind == "dupframe":
                    buf[b:b] = buf[a:b]
                else:
                    del buf[a:b]
    return bytes(buf)


# -- the entry points under test -----------------------------------------------------
def only_streamvis_errors(fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except StreamvisError:
        return None


def exercise_log(data: bytes, path: str, *, writer: bool = True) -> None:
    """Feed ``data`` to every reader of a log; only StreamvisError may escape."""
    COUNTS["log inputs"] += 1
    res = ScanResult()
    for _ in scan_frames(data, 0, res):  # never raises at all
        pass
    for complete in (False, True):
        for skip in (False, True):
            only_streamvis_errors(
                scan_chunks, [Chunk("", 0, data, complete)], lambda b: None,
                lambda k, e: None, skip_damaged=skip,
            )
    for f in os.listdir(os.path.dirname(path)):
        if f.startswith(os.path.basename(path)):
            os.unlink(os.path.join(os.path.dirname(path), f))
    with open(path, "wb") as f:
        f.write(data)
    only_streamvis_errors(verify, path)
    opened_ok = False
    for skip in (False, True):
        s = only_streamvis_errors(Store.open, path, skip_damaged=skip)
        if s is None:
            continue
        opened_ok = opened_ok or not skip
        with s:
            only_streamvis_errors(_read_everything, s)
    if writer and opened_ok:
        # the next writer: cuts the tail, appends, and the batch reads back
        s = only_streamvis_errors(Store.open, path, "a", index_interval=1e9)
        if s is not None:
            with s:
                only_streamvis_errors(s.append, [Points("new", "n", 0, {"x": np.arange(3)})])
            with Store.open(path) as r:
                assert r.read("new", "n").tables[("new", "n")].num_rows == 3
    with open(path, "wb"):
        pass


def _read_everything(s: Store) -> None:
    s.scopes()
    s.configs()
    for sc in s.scopes():
        s.schemas(sc)
        for n in only_streamvis_errors(s.names, sc) or []:
            only_streamvis_errors(s.schema, sc, n)
    s.read()
    c = s.cursor()
    s.read(since=c)
    for g in s.groups():
        s.read_range(g.scope, g.name, g.index, max_points=8)
    s.read_arrays()


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


# -- 3. the index loader -------------------------------------------------------------
@pytest.mark.timeout(300)
def test_mutated_index_never_trusted_over_the_log(base, tmp_path) -> None:
    path = str(tmp_path / "i.log")
    with open(path, "wb") as f:
        f.write(base["log"])
    idx_frames = [(0, len(base["idx"]))]

    @_settings(300)
    @given(st.lists(_mutation(), min_size=1, max_size=3))
    def run(ops: list[tuple]) -> None:
        COUNTS["index inputs"] += 1
        data = apply_mutations(base["idx"], idx_frames, ops)
        only_streamvis_errors(_load_index_only_arrow_or_value_errors, data)
        with open(path + ".idx", "wb") as f:
            f.write(data)
        try:
            s = Store.open(path)  # a valid log opens whatever an index of ours holds
        except ForeignFileError:  # bytes without our marks: never replaced, left as they are
            assert not is_our_index(data[:SNIFF_BYTES], data[-8:])
            with open(path + ".idx", "rb") as f:
                assert f.read() == data
            return
        with s:
            assert _answers(s) == base["ref"]

    run()


def _load_index_only_arrow_or_value_errors(data: bytes) -> None:
    """load_index's own contract: it may refuse bytes (the store then rebuilds), but
    only with ValueError/Arrow errors/StreamvisError, never a crash."""
    import pyarrow as pa

    try:
        load_index(data)
    except (ValueError, KeyError, TypeError, pa.ArrowException, StreamvisError):
        pass


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


# -- 5. regressions: damaged or forged indexes ---------------------------------------
_IDX_FLIP_SCRIPT = r"""
import sys
from streamvis.storage.framing import checksum
from streamvis.storage.index_file import _TRAILER_SIZE, load_index
idx = open(sys.argv[1], "rb").read()
body, magic = idx[:-_TRAILER_SIZE], idx[-8:]
n = 0
for pos in range(len(body)):
    for bit in (0, 3, 7):
        b = bytearray(body)
        b[pos] ^= 1 << bit
        b = bytes(b)
        n += 1
        try:
            state, meta = load_index(b + checksum(b).to_bytes(4, "little") + magic)
            for st in state.scopes.values():
                for ns in st.names.values():
                    pass
        except Exception:
            pass
print(n)
"""


@pytest.mark.timeout(180)
def test_regression_index_with_valid_crc_but_damaged_arrow_never_crashes(base, tmp_path) -> None:
    """Bit flips in the Arrow body with the trailer CRC recomputed (so only the Arrow
    validation stands between them and the parser): before the fix, flipping a
    dictionary's bytes segfaulted in ``DictionaryArray.to_pylist``. In a subprocess, so
    a crash fails this test instead of killing the run."""
    import subprocess
    import sys

    idx = tmp_path / "x.idx"
    idx.write_bytes(base["idx"])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", _IDX_FLIP_SCRIPT, str(idx)], cwd=root,
                          capture_output=True, text=True, timeout=170,
                          env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stderr[-3000:]
    COUNTS["index inputs"] += int(proc.stdout.split()[-1])


@pytest.mark.timeout(120)
def test_regression_every_byte_of_the_index_flipped(base, tmp_path) -> None:
    """Before the fix a flipped byte could be trusted: wrong rows, IndexError, NaN counts."""
    path = str(tmp_path / "e.log")
    with open(path, "wb") as f:
        f.write(base["log"])
    for pos in range(0, len(base["idx"]), 3):
        COUNTS["index inputs"] += 1
        data = bytearray(base["idx"])
        data[pos] ^= 0x10
        with open(path + ".idx", "wb") as f:
            f.write(data)
        with Store.open(path) as s:
            assert _answers(s) == base["ref"], pos


def _forge_index(base, path: str, **changes: Any) -> None:
    """A well-formed index (valid checksum) whose metadata says something false."""
    from streamvis.storage.index_file import dump_index

    with open(path, "wb") as f:
        f.write(base["log"])
    state, meta = load_index(base["idx"])
    for k, v in changes.items():
        setattr(meta, k, v)
    with open(path + ".idx", "wb") as f:
        f.write(dump_index(state, meta))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", [
    "last_frame_negative", "last_frame_huge_length", "last_frame_past_end",
    "position_mid_frame", "position_short", "position_past_end",
])
def test_regression_forged_index_metadata_falls_back_to_rebuild(base, tmp_path, case) -> None:
    path = str(tmp_path / "g.log")
    frames = base["frames"]
    key, off, crc = load_index(base["idx"])[1].last_frame
    # a frame start holding a length far above the cap when read at a skewed offset
    huge_at = next(p for p in range(len(base["log"]) - 8)
                   if int.from_bytes(base["log"][p : p + 4], "little") > MAX_PAYLOAD)
    forged = {
        "last_frame_negative": {"last_frame": (key, -5, crc)},
        "last_frame_huge_length": {"last_frame": (key, huge_at, crc)},
        "last_frame_past_end": {"last_frame": (key, 10**12, crc)},
        "position_mid_frame": {"positions": {"": frames[-1][0] + 5}},
        "position_short": {"positions": {"": frames[-2][0]}},
        "position_past_end": {"positions": {"": frames[-1][1] + 100}},
    }[case]
    _forge_index(base, path, **forged)
    COUNTS["index inputs"] += 1
    tracemalloc.start()
    try:
        with Store.open(path) as s:
            got = _answers(s)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == base["ref"]
    assert peak < 32 << 20, f"peak {peak >> 20} MB"


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
