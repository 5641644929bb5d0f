"""Shared parts of the storage fuzz tests (``test_fuzz_storage``, ``test_fuzz_index``):
the valid base log and its reference answers, byte mutations, and the entry points every
input is driven through (each may only raise a ``StreamvisError``).

``STREAMVIS_SOAK=1`` multiplies the example counts. ``fuzz_report`` (each fuzz module
uses it) prints the inputs fuzzed and bounds the module's max RSS growth; conftest.py
makes it and ``base`` fixtures of tests/hardening.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import struct
from collections import Counter
from typing import Any

import crc32c
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from streamvis.errors import StreamvisError
from streamvis.storage import ConfigUpdate, Deletion, Points, Store
from streamvis.storage.backend import Chunk
from streamvis.storage.format.framing import MAX_PAYLOAD, ScanResult, scan_frames
from streamvis.storage.format.scan import scan_chunks
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


@pytest.fixture(scope="module")
def fuzz_report():
    # The high-water mark when this module's tests start (not at import: in a full run,
    # tests of other modules run between collection and here and raise it on their own).
    rss0 = _max_rss_mb()
    COUNTS.clear()
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
