"""Fuzz the index loader: a mutated or forged ``.idx`` beside a valid log is never
trusted over the log (the store answers exactly as a fresh rebuild does, or refuses to
replace a file without our marks, leaving its bytes as they were). Shared parts:
``fuzz_support``; the record decoder: ``test_fuzz_storage``.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.errors import ForeignFileError, StreamvisError
from streamvis.storage import Store
from streamvis.storage.format.framing import MAX_PAYLOAD
from streamvis.storage.format.index_file import load_index
from streamvis.storage.format.ownership import SNIFF_BYTES, is_our_index
from tests.hardening.fuzz_support import (
    COUNTS,
    _answers,
    _mutation,
    _settings,
    apply_mutations,
    only_streamvis_errors,
)

pytestmark = pytest.mark.usefixtures("fuzz_report")  # inputs counted, RSS bounded


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


# -- 5. regressions: damaged or forged indexes ---------------------------------------
_IDX_FLIP_SCRIPT = r"""
import sys
from streamvis.storage.format.framing import checksum
from streamvis.storage.format.index_file import _TRAILER_SIZE, load_index
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
    from streamvis.storage.format.index_file import dump_index

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
