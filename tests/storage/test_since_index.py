"""A read after a cursor (``since=``) on a local log takes the new records from the
in-memory index (``since_index``) instead of scanning the bytes. Whatever was appended,
deleted and re-created, it must answer what the scan answers: the same points for every
(scope, name) and index, and the same tombstones; read as tables (``read``), as columns
(``read_columns``) or as each group's arrays (``read_arrays_since``, a page's poll)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.storage import ConfigUpdate, Deletion, Points, Store
from streamvis.storage.engine import store as store_module
from streamvis.storage.read.cursor import cursor_positions
from streamvis.storage.read.group_columns import ColumnsBuilder
from streamvis.storage.read.tail_reading import read_between, scan_between

SCOPES = ["a", "b", "c"]
NAMES = ["loss", "acc"]

points = st.builds(
    lambda scope, name, index, n, start: Points(
        scope, name, index, {"x": np.arange(start, start + n, dtype=np.int64),
                             "y": np.linspace(0, 1, n, dtype=np.float32) + start}),
    st.sampled_from(SCOPES), st.sampled_from(NAMES), st.sampled_from([0, 1]),
    st.integers(1, 4), st.integers(0, 1000))
deletion = st.builds(Deletion, st.sampled_from(SCOPES), st.sampled_from([None, *NAMES]))
config = st.builds(lambda s, v: ConfigUpdate(s, {"lr": v}), st.sampled_from(SCOPES), st.floats(0, 1))
item = st.one_of(points, points, points, deletion, config)
batches = st.lists(st.lists(item, min_size=1, max_size=3), min_size=1, max_size=10)


def _rows(tables: dict[tuple[str, str], pa.Table]) -> dict[tuple[str, str], list[tuple]]:
    """Each (scope, name)'s rows as (index, x, y), index by index in log order."""
    out = {}
    for key, t in tables.items():
        d = t.to_pydict()
        rows = list(zip(d["index"], d["x"], d["y"], strict=True))
        out[key] = sorted(rows, key=lambda r: r[0])  # a stable sort: log order per index
    return {k: v for k, v in out.items() if v}


def _counting(monkeypatch) -> list[bool]:
    """Which reads the index answered (True) or left to the scan (False)."""
    answered: list[bool] = []
    real = store_module.new_records

    def spy(*args, **kwargs):
        got = real(*args, **kwargs)
        answered.append(got is not None)
        return got

    monkeypatch.setattr(store_module, "new_records", spy)
    return answered


@settings(max_examples=40, deadline=None)
@given(batches=batches)
def test_a_read_after_each_cursor_answers_what_the_scan_answers(batches, tmp_path_factory) -> None:
    import pytest

    monkeypatch = pytest.MonkeyPatch()
    try:
        answered = _counting(monkeypatch)
        path = str(tmp_path_factory.mktemp("si") / "run.svl")
        with Store.open(path, "a", fsync=False) as writer, Store.open(path, "r") as reader:
            cursors = [reader.cursor()]
            for batch in batches:
                writer.append(batch)
                reader.refresh()
                cursors.append(reader.cursor())
            for follower in (reader, writer):  # the state a reader follows; the writer's own
                end = dict(follower.log.positions)
                for since in cursors:
                    _, start = cursor_positions(since, follower.log.log_id)
                    got = follower.read(since=since)
                    want_tables, want_deleted = read_between(
                        follower.backend, start, end, lambda s: True, lambda n: True)
                    assert _rows(got.tables) == _rows(want_tables)
                    assert got.deleted == want_deleted
                    cols = follower.read_columns(("x", "y"), lambda c: c, since=since)
                    builder = ColumnsBuilder(("x", "y"))
                    scan_between(follower.backend, start, end, lambda s: True, lambda n: True, builder)
                    assert _columns(cols.results) == _columns([builder.build()])
                    assert cols.deleted == want_deleted
                    arrays = follower.read_arrays_since(since)
                    assert _groups(arrays.groups) == _split(want_tables)
                    assert not any(a.flags.writeable for c in arrays.groups.values() for a in c.values())
                    assert arrays.deleted == want_deleted and arrays.cursor == got.cursor
        assert answered and all(answered)
    finally:
        monkeypatch.undo()


def _split(tables: dict[tuple[str, str], pa.Table]) -> dict[tuple[str, str, int], tuple]:
    """Each (scope, name, index)'s (dtypes, rows as (x, y) in log order) of read tables."""
    out: dict[tuple[str, str, int], list[tuple]] = {}
    for (scope, name), t in tables.items():
        d = t.to_pydict()
        for i, x, y in zip(d["index"], d["x"], d["y"], strict=True):
            out.setdefault((scope, name, i), []).append((x, y))
    return {k: ((str(tables[k[:2]].schema.field("x").type), str(tables[k[:2]].schema.field("y").type)), v)
            for k, v in out.items()}


def _groups(groups: dict[tuple[str, str, int], dict[str, np.ndarray]]) -> dict[tuple[str, str, int], tuple]:
    """``_split`` of a read into arrays (numpy dtypes named as Arrow names them)."""
    arrow = {"int64": "int64", "float32": "float", "float64": "double"}
    return {k: ((arrow[str(c["x"].dtype)], arrow[str(c["y"].dtype)]),
                list(zip(c["x"].tolist(), c["y"].tolist(), strict=True)))
            for k, c in groups.items()}


def _columns(parts) -> dict[tuple[str, str], list[tuple[float, float]]]:
    out: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for part in parts:
        for k, key in enumerate(part.keys):
            lo, hi = part.offsets[k], part.offsets[k + 1]
            out.setdefault(key, []).extend(zip(part.columns["x"][lo:hi].tolist(),
                                               part.columns["y"][lo:hi].tolist(), strict=True))
    return {k: sorted(v) for k, v in out.items() if v}


def test_a_cursor_older_than_the_loaded_index_is_scanned_and_keeps_its_tombstones(
        tmp_path, monkeypatch) -> None:
    """A state loaded from the index file knows no tombstone before the index's
    positions: a cursor from before them must be answered by the scan, which sees the
    deletion (the index alone would report nothing deleted)."""
    answered = _counting(monkeypatch)
    path = str(tmp_path / "run.svl")
    with Store.open(path, "a", fsync=False) as writer:
        writer.append([Points("a", "loss", 0, {"x": np.arange(3), "y": np.zeros(3)})])
        old = writer.cursor()
        writer.append([Deletion("a")])
        writer.append([Points("b", "loss", 0, {"x": np.arange(2), "y": np.ones(2)})])
    with Store.open(path, "r") as reader:  # from the index the writer saved on close
        got = reader.read(since=old)
        assert got.deleted == [("a", None)]
        assert list(got.tables) == [("b", "loss")]
        arrays = reader.read_arrays_since(old)  # a page's poll: the same scan
        assert list(arrays.groups) == [("b", "loss", 0)] and arrays.deleted == [("a", None)]
        assert arrays.groups[("b", "loss", 0)]["y"].tolist() == [1.0, 1.0]
        assert answered == [False, False]
        now = reader.cursor()
        with Store.open(path, "a", fsync=False) as writer:
            writer.append([Deletion("b", "loss")])
        reader.refresh()
        assert reader.read(since=now).deleted == [("b", "loss")]
        assert answered == [False, False, True]


def _found(new) -> list[tuple[str, str, int, list[int]]]:
    return [(s, n, i, [e.offset for e in entries]) for s, n, i, _, entries in new.groups]


def _visiting_every_group(state, *args):
    """``new_records`` with no scope or name skipped for its last record's offset."""
    from streamvis.storage.read.since_index import new_records

    saved = [(st, st.last, [(ns, ns.last) for ns in st.names.values()]) for st in state.scopes.values()]
    try:
        for st, _, names in saved:
            st.last = 2**62
            for ns, _ in names:
                ns.last = 2**62
        return new_records(state, *args)
    finally:
        for st, last, names in saved:
            st.last = last
            for ns, ns_last in names:
                ns.last = ns_last


@settings(max_examples=60, deadline=None)
@given(batches=batches, loaded_after=st.integers(0, 10))
def test_skipping_scopes_and_names_by_their_last_record_finds_what_every_group_holds(
        batches, loaded_after, tmp_path_factory) -> None:
    """``new_records`` skips a scope or name whose last record is before the cursor: it
    finds the same records, in the same order, as visiting every group, after appends,
    deletions and re-creations; also for a reader that loaded the index file part way
    (the cursors from before it load nothing from the index: the scan answers them)."""
    from streamvis.storage.read.since_index import new_records

    path = str(tmp_path_factory.mktemp("last") / "run.svl")
    with Store.open(path, "a", fsync=False) as writer, Store.open(path, "r") as reader:
        cursors = [reader.cursor()]
        loaded = None
        for k, batch in enumerate(batches):
            if k == loaded_after:
                writer.save_index()
                loaded = Store.open(path, "r")
            writer.append(batch)
            reader.refresh()
            cursors.append(reader.cursor())
        try:
            for follower in (reader, writer, loaded):
                if follower is None:
                    continue
                follower.refresh()
                state, end = follower.log.state, dict(follower.log.positions)
                for since in cursors:
                    _, start = cursor_positions(since, follower.log.log_id)
                    for match_scope in (lambda s: True, lambda s: s != "b"):
                        args = (start, end, match_scope, lambda n: n != "acc")
                        got, want = new_records(state, *args), _visiting_every_group(state, *args)
                        assert (got is None) == (want is None)
                        if got is not None and want is not None:
                            assert _found(got) == _found(want) and got.deleted == want.deleted
        finally:
            if loaded is not None:
                loaded.close()
