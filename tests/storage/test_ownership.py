"""Never replace a file streamvis did not write (issue 14, "Data safety first").

For each file streamvis creates or replaces (the log, its index, the lock, quarantine
files, compaction's output, an export's part-0.parquet, an object-store log's header
and index), a foreign file at that path is refused with ``ForeignFileError`` naming
it, its bytes stay unchanged, and nothing else is written. Files of ours (our magic)
are still replaced or rebuilt as before.
"""

from __future__ import annotations

import os
import time
import uuid

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamvis.errors import CorruptDataError, ForeignFileError
from streamvis.storage import Points, Store
from streamvis.storage.compaction import compact
from streamvis.storage.export import export_parquet
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.ownership import LOCK_MAGIC

FOREIGN = b"someone else's bytes \x00\x01\x02" + bytes(range(256)) * 4


def _points(i: int = 0) -> Points:
    return Points("run", "loss", 0, {"x": np.arange(i * 10, i * 10 + 10), "y": np.ones(10)})


def _make_log(path: str, batches: int = 3) -> None:
    with Store.open(path, "a") as s:
        for i in range(batches):
            s.append([_points(i)])


def _files(tmp_path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    }


def _refused(excinfo: pytest.ExceptionInfo[ForeignFileError], path: str) -> None:
    msg = str(excinfo.value)
    assert path in msg and "not written by streamvis" in msg
    assert "move that file elsewhere, or choose another PATH" in msg
    assert excinfo.value.path == path


# -- the index ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["a", "r"])
def test_foreign_index_beside_a_new_path_is_refused_and_nothing_is_written(tmp_path, mode):
    """The reported case: random bytes at PATH.idx, then open and append."""
    path = str(tmp_path / "run.svl")
    junk = os.urandom(4096)
    (tmp_path / "run.svl.idx").write_bytes(junk)
    with pytest.raises(ForeignFileError) as exc:
        with Store.open(path, mode) as s:
            s.append([_points()])
    _refused(exc, path + ".idx")
    assert _files(tmp_path) == {"run.svl.idx": junk}  # no log, no lock, idx unchanged


@pytest.mark.parametrize("mode", ["a", "r"])
def test_foreign_index_beside_an_existing_log_is_refused(tmp_path, mode):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    os.unlink(path + ".idx")
    (tmp_path / "run.svl.idx").write_bytes(FOREIGN)
    before = _files(tmp_path)
    with pytest.raises(ForeignFileError) as exc:
        Store.open(path, mode)
    _refused(exc, path + ".idx")
    assert _files(tmp_path) == before


def test_foreign_index_appearing_after_open_is_not_replaced(tmp_path):
    path = str(tmp_path / "run.svl")
    with Store.open(path, "a") as s:
        s.append([_points()])
        if os.path.exists(path + ".idx"):
            os.unlink(path + ".idx")
        (tmp_path / "run.svl.idx").write_bytes(FOREIGN)
        with pytest.raises(ForeignFileError):
            s.save_index()
    # close saved the index quietly: it refused, the foreign bytes stay
    assert (tmp_path / "run.svl.idx").read_bytes() == FOREIGN


def test_index_with_our_magic_but_a_bad_checksum_is_ours_and_rebuilt(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    idx = tmp_path / "run.svl.idx"
    damaged = bytearray(idx.read_bytes())
    damaged[len(damaged) // 3] ^= 0xFF
    idx.write_bytes(bytes(damaged))
    with Store.open(path, "a") as s:
        assert s.read("run", "loss").tables[("run", "loss")].num_rows == 30
        s.append([_points(3)])
    assert idx.read_bytes() != bytes(damaged)  # rebuilt and saved
    with Store.open(path) as s:
        assert s.read("run", "loss").tables[("run", "loss")].num_rows == 40


def test_an_empty_index_holds_nothing_and_may_be_replaced(tmp_path):
    path = str(tmp_path / "run.svl")
    (tmp_path / "run.svl.idx").write_bytes(b"")
    _make_log(path)
    assert (tmp_path / "run.svl.idx").read_bytes().endswith(b"SVIDXC1\n")


# -- the log itself -------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["a", "r"])
def test_foreign_file_at_the_log_path_is_refused(tmp_path, mode):
    path = str(tmp_path / "notes.txt")
    (tmp_path / "notes.txt").write_bytes(FOREIGN)
    with pytest.raises(ForeignFileError) as exc:
        with Store.open(path, mode) as s:
            s.append([_points()])
    _refused(exc, path)
    assert _files(tmp_path) == {"notes.txt": FOREIGN}


def test_our_log_with_a_damaged_header_is_reported_as_corruption(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    os.unlink(path + ".idx")
    data = bytearray((tmp_path / "run.svl").read_bytes())
    data[10] ^= 0xFF  # inside the header frame's payload
    (tmp_path / "run.svl").write_bytes(bytes(data))
    with pytest.raises(CorruptDataError):
        Store.open(path, "a")
    assert (tmp_path / "run.svl").read_bytes() == bytes(data)


# -- the lock -------------------------------------------------------------------------
def test_foreign_lock_file_is_refused_before_anything_is_written(tmp_path):
    path = str(tmp_path / "run.svl")
    (tmp_path / "run.svl.lock").write_bytes(FOREIGN)
    with pytest.raises(ForeignFileError) as exc:
        with Store.open(path, "a") as s:
            s.append([_points()])
    _refused(exc, path + ".lock")
    assert _files(tmp_path) == {"run.svl.lock": FOREIGN}


def test_lock_files_are_marked_and_old_empty_ones_still_work(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    assert (tmp_path / "run.svl.lock").read_bytes() == LOCK_MAGIC
    for name, lock in (("old", b""), ("cut", LOCK_MAGIC[:7])):  # earlier versions; a crash
        other = str(tmp_path / f"{name}.svl")
        (tmp_path / f"{name}.svl.lock").write_bytes(lock)
        _make_log(other)
        with Store.open(other) as s:
            assert s.read("run", "loss").tables[("run", "loss")].num_rows == 30
        assert (tmp_path / f"{name}.svl.lock").read_bytes() == lock  # left as it was


# -- quarantine files -----------------------------------------------------------------
def test_quarantine_never_overwrites_a_file_at_its_name(tmp_path, monkeypatch):
    path = str(tmp_path / "run.svl")
    _make_log(path, 1)
    good_size = os.path.getsize(path)
    torn = encode_frame(b"a batch cut short by a crash" * 4)[:60]
    with open(path, "ab") as f:
        f.write(torn)
    monkeypatch.setattr(time, "time_ns", lambda: 1234)
    taken = tmp_path / f"run.svl.quarantine-{good_size}-1234"
    taken.write_bytes(FOREIGN)
    with Store.open(path, "a") as s:
        s.append([_points(1)])
        assert s.quarantined == [str(taken) + ".1"]
    monkeypatch.undo()
    assert taken.read_bytes() == FOREIGN
    assert (tmp_path / f"{taken.name}.1").read_bytes() == torn


# -- compaction's output --------------------------------------------------------------
def test_compaction_refuses_a_foreign_file_at_its_temporary_path(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    tmp = tmp_path / "run.svl.compact-tmp"
    tmp.write_bytes(FOREIGN)
    before = _files(tmp_path)
    with pytest.raises(ForeignFileError) as exc:
        compact(path)
    _refused(exc, str(tmp))
    assert _files(tmp_path) == before


def test_compaction_replaces_the_leftover_of_a_crashed_compaction(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    leftover = (tmp_path / "run.svl").read_bytes()[:100]  # starts with our header
    (tmp_path / "run.svl.compact-tmp").write_bytes(leftover)
    stats = compact(path)
    assert stats.points == 30
    assert not (tmp_path / "run.svl.compact-tmp").exists()


# -- export's part-0.parquet ----------------------------------------------------------
def test_export_refuses_a_foreign_parquet_path_and_writes_nothing(tmp_path):
    path = str(tmp_path / "run.svl")
    with Store.open(path, "a") as s:
        s.append([_points(), Points("run", "acc", 0, {"x": np.arange(3)})])
    out = tmp_path / "out"
    target = out / "scope=run" / "name=loss" / "part-0.parquet"
    target.parent.mkdir(parents=True)
    target.write_bytes(FOREIGN)
    with pytest.raises(ForeignFileError) as exc:
        export_parquet(path, str(out))
    _refused(exc, str(target))
    assert target.read_bytes() == FOREIGN
    assert not (out / "scope=run" / "name=acc").exists()  # nothing else written


def test_export_refuses_someone_elses_parquet_file_and_replaces_its_own(tmp_path):
    path = str(tmp_path / "run.svl")
    _make_log(path)
    out = tmp_path / "out"
    first = export_parquet(path, str(out))
    again = export_parquet(path, str(out))  # our own files: replaced
    assert first.files == again.files and again.points == 30
    target = out / "scope=run" / "name=loss" / "part-0.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), str(target))  # a Parquet file, not ours
    theirs = target.read_bytes()
    with pytest.raises(ForeignFileError):
        export_parquet(path, str(out))
    assert target.read_bytes() == theirs


# -- object stores (memory://) --------------------------------------------------------
def test_object_store_log_refuses_a_foreign_header_or_index():
    fs = fsspec.filesystem("memory")
    root = f"/own-{uuid.uuid4().hex}"
    url = f"memory://{root}"
    fs.pipe_file(f"{root}/header", FOREIGN)
    with pytest.raises(ForeignFileError) as exc:
        Store.open(url, "a")
    assert f"{url}/header" in str(exc.value)
    assert fs.cat_file(f"{root}/header") == FOREIGN
    assert not fs.exists(f"{root}/segments")

    root2 = f"/own-{uuid.uuid4().hex}"
    fs.pipe_file(f"{root2}/index.arrow", FOREIGN)
    with pytest.raises(ForeignFileError):
        Store.open(f"memory://{root2}", "a")
    assert fs.cat_file(f"{root2}/index.arrow") == FOREIGN
    assert not fs.exists(f"{root2}/header")
