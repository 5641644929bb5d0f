"""One contract, every backend: local files, memory://, gs:// (GCS emulator), s3:// (moto)."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamvis import script
from streamvis.errors import (
    CursorResetError,
    InvalidArgumentError,
    LogNotFoundError,
    NotFoundError,
    ReservedNameError,
    SchemaMismatchError,
)
from streamvis.storage import ConfigUpdate, Deletion, Points, Store

BACKENDS = ["local", "memory", "gs", "s3"]


@pytest.fixture(params=BACKENDS)
def log(request, tmp_path):
    """(url, storage_options) of a fresh log on each backend."""
    if request.param == "local":
        return str(tmp_path / "runs.log"), {}
    if request.param == "memory":
        return f"memory://contract-{uuid.uuid4().hex}/runs.log", {}
    options = request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")
    url = f"{request.param}://{options['bucket']}/{uuid.uuid4().hex}/runs.log"
    return url, options["storage_options"]


def _open(log, mode="r", **kw) -> Store:
    url, options = log
    return Store.open(url, mode, storage_options=options or None, **kw)


def _loss(index: int, start: int, n: int) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points("run", "loss", index, {"x": x, "y": (x * 0.5).astype(np.float32)})


_dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64])


@st.composite
def _groups(draw):
    """A batch of points for a few groups, every column of one length per group."""
    n_cols = draw(st.integers(1, 3))
    dtypes = [draw(_dtypes) for _ in range(n_cols)]
    groups = []
    for index in draw(st.sets(st.integers(-3, 3), min_size=1, max_size=3)):
        n = draw(st.integers(0, 40))
        cols = {}
        for c, dt in enumerate(dtypes):
            cols[f"c{c}" if c else "x"] = draw(hnp.arrays(dt, n, elements=hnp.from_dtype(np.dtype(dt), allow_subnormal=True)))
        groups.append((index, cols))
    return groups


class TestStoreContract:
    @settings(max_examples=15)
    @given(batch=_groups())
    def test_round_trip_property(self, log, batch) -> None:
        url, options = log
        url = url.replace("runs.log", f"p{uuid.uuid4().hex[:8]}.log")
        log = (url, options)
        with _open(log, "a") as s:
            s.append([Points("r", "n", i, cols) for i, cols in batch])
        kw = {"storage_options": options} if options else {}
        exported = script.export(url, **kw)
        tables = script.export_arrow(url, **kw)
        with _open(log) as s:
            for index, cols in batch:
                got = exported[("r", "n", index)]
                table = tables[("r", "n")]
                rows = table.filter(pa.compute.equal(table.column("index"), index))
                ranged = s.read_range("r", "n", index)  # no bounds, no budget: every point
                for c, want in cols.items():
                    assert got[c].dtype == want.dtype and got[c].tobytes() == want.tobytes()
                    assert rows.column(c).to_numpy().tobytes() == want.tobytes()
                x = cols["x"]
                keep = ~np.isnan(x) if x.dtype.kind == "f" else np.ones(x.size, bool)
                order = np.argsort(x[keep], kind="stable")
                for c, want in cols.items():
                    assert ranged.column(c).to_numpy().tobytes() == want[keep][order].tobytes()

    def test_missing_log_is_not_found(self, log) -> None:
        with pytest.raises(LogNotFoundError):
            _open(log)

    def test_append_read_round_trip_bit_identical(self, log) -> None:
        special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], np.float32)
        cols = {"x": np.arange(6, dtype=np.int32), "y": special, "z": special.astype(np.float64)}
        with _open(log, "a") as s:
            s.append([Points("run", "odd", 3, cols)])
        with _open(log) as s:
            table = s.read().tables[("run", "odd")]
        assert table.column_names == ["index", "x", "y", "z"]
        assert table.schema.field("x").type == pa.int32()
        for c, want in cols.items():
            got = table.column(c).to_numpy()
            assert got.dtype == want.dtype
            assert got.tobytes() == want.tobytes()
        assert table.column("index").to_pylist() == [3] * 6

    def test_listing_configs_and_schemas(self, log) -> None:
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 5), Points("eval", "acc", 0, {"x": np.arange(2), "y": np.ones(2)})])
            s.write_config("run", {"lr": 0.1, "tags": ["a"]})
        with _open(log) as s:
            assert s.scopes() == ["run", "eval"]
            assert s.names("run") == ["loss"]
            assert s.config("run") == {"lr": 0.1, "tags": ["a"]}
            assert s.config("eval") == {}
            assert s.configs() == {"run": {"lr": 0.1, "tags": ["a"]}}
            assert s.schema("run", "loss") == {"x": np.dtype("int64"), "y": np.dtype("float32")}
            with pytest.raises(NotFoundError):
                s.names("nope")
            [g] = s.groups(scope_pattern="^run$")
            assert (g.count, g.x_min, g.x_max) == (5, 0.0, 4.0)

    def test_read_since_cursor_returns_only_new_points(self, log) -> None:
        with _open(log, "a") as w:
            w.append([_loss(0, 0, 10)])
            with _open(log) as r:
                first = r.read()
                assert first.num_points == 10
                w.append([_loss(0, 10, 5), _loss(1, 0, 3)])
                nxt = r.read(since=first.cursor)
                t = nxt.tables[("run", "loss")]
                assert t.column("x").to_pylist() == [10, 11, 12, 13, 14, 0, 1, 2]
                assert r.read(since=nxt.cursor).num_points == 0

    def test_read_columns_gives_the_rows_of_read_first_and_since(self, log) -> None:
        """Many groups' columns at once (as float64, other columns skipped), in the rows of
        ``read``'s tables; after a cursor too, with the tombstones passed."""

        def same(done, res) -> None:
            cols = [c for c in done.results]
            keys = [k for c in cols for k in c.keys]
            assert keys == [k for k, t in res.tables.items() if t.num_rows]
            for c in cols:
                for i, k in enumerate(c.keys):
                    rows = slice(c.offsets[i], c.offsets[i + 1])
                    for name in ("x", "y"):
                        want = res.tables[k].column(name).to_numpy().astype(np.float64)
                        np.testing.assert_array_equal(c.columns[name][rows], want)
                        assert c.columns[name].dtype == np.float64
            assert done.deleted == res.deleted

        def wall(scope: str, name: str, index: int, x, y) -> Points:
            return Points(scope, name, index, {"x": np.asarray(x), "wall_time": np.ones(len(x)),
                                               "y": np.asarray(y)})

        with _open(log, "a") as w:
            w.append([_loss(1, 0, 4), _loss(0, 5, 3), wall("b", "acc", 0, [3, 1], [0.5, np.nan]),
                      Points("b", "loss", 2, {"x": np.arange(2), "y": np.arange(2)})])
            with _open(log) as r:
                first = r.read_columns(("x", "y"), lambda c: c)
                same(first, r.read())
                w.append([_loss(0, 8, 2), wall("c", "acc", 1, [7], [1.0])])
                w.delete("b", "loss")
                w.append([Points("b", "loss", 0, {"x": np.arange(3), "y": np.ones(3)})])
                nxt = r.read_columns(("x", "y"), lambda c: c, since=first.cursor)
                same(nxt, r.read(since=first.cursor))
                assert nxt.deleted == [("b", "loss")] and nxt.cursor == r.read().cursor

    def test_patterns_are_searches_and_exact_names_are_exact(self, log) -> None:
        with _open(log, "a") as s:
            for name in ("loss", "val_loss", "acc"):
                s.append([Points("run", name, 0, {"x": np.arange(2), "y": np.zeros(2)})])
        with _open(log) as s:
            assert set(s.read(name_pattern="loss").tables) == {("run", "loss"), ("run", "val_loss")}
            assert set(s.read(name="loss").tables) == {("run", "loss")}
            assert set(s.read(name="los").tables) == set()
            with pytest.raises(InvalidArgumentError, match="valid regular expression"):
                s.read(name_pattern="(")

    def test_schema_is_fixed_by_the_first_write(self, log) -> None:
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 3)])
            with pytest.raises(SchemaMismatchError, match="'run'.*'loss'.*received"):
                s.append([Points("run", "loss", 0, {"x": np.arange(2), "y": np.zeros(2)})])
            with pytest.raises(SchemaMismatchError):
                s.append([Points("run", "loss", 1, {"x": np.arange(2)})])
        with _open(log, "a") as s:  # and in a new process too
            with pytest.raises(SchemaMismatchError):
                s.append([Points("run", "loss", 0, {"x": np.zeros(2), "y": np.zeros(2, np.float32)})])
        with _open(log) as s:
            assert s.read().num_points == 3  # nothing of the bad batches was written

    def test_delete_hides_and_resets_the_schema(self, log) -> None:
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 3), Points("run", "acc", 0, {"x": np.arange(2), "y": np.zeros(2)})])
            cursor = s.cursor()
            s.delete("run", "loss")
            assert s.names("run") == ["acc"]
            s.append([Points("run", "loss", 0, {"v": np.ones(4)})])  # fresh schema
            res = s.read(since=cursor)
            assert res.deleted == [("run", "loss")]
            assert res.tables[("run", "loss")].column_names == ["index", "v"]
            s.append([Deletion("run")])
            assert s.scopes() == []
            with pytest.raises(NotFoundError):
                s.delete("run")

    def test_items_of_one_batch_apply_in_order(self, log) -> None:
        # found by the logger: a tombstone first, then fresh points, in one batch
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 3)])
            cursor = s.cursor()
            s.append([Deletion("run"), _loss(0, 100, 2), Points("run", "acc", 0, {"v": np.ones(1)}), Deletion("run", "acc")])
            for reader in (s, _open(log)):
                assert reader.names("run") == ["loss"]
                assert reader.read().tables[("run", "loss")].column("x").to_pylist() == [100, 101]
            res = s.read(since=cursor)
            assert res.deleted == [("run", None), ("run", "acc")]
            assert list(res.tables) == [("run", "loss")]
            assert res.tables[("run", "loss")].column("x").to_pylist() == [100, 101]

    def test_read_range_reads_and_decimates_without_hiding_spikes(self, log) -> None:
        n = 50_000
        x = np.arange(n, dtype=np.int64)
        y = np.sin(x / 500).astype(np.float32)
        y[31_337] = 100.0
        with _open(log, "a") as s:
            for start in range(0, n, 10_000):
                s.append([Points("run", "big", 0, {"x": x[start : start + 10_000], "y": y[start : start + 10_000]})])
        with _open(log) as s:
            exact = s.read_range("run", "big", 0, 100, 299, max_points=1000)
            assert exact.column("x").to_pylist() == list(range(100, 300))
            assert exact.column("y").to_numpy().tobytes() == y[100:300].tobytes()
            small = s.read_range("run", "big", 0, max_points=2000)
            assert small.num_rows <= 2000
            assert 100.0 in small.column("y").to_pylist()
            assert small.column("x")[0].as_py() == 0 and small.column("x")[-1].as_py() == n - 1

    def test_reopen_with_and_without_index(self, log) -> None:
        with _open(log, "a") as s:
            for i in range(5):
                s.append([_loss(i % 2, i * 10, 10)])
        with _open(log) as s:
            want = s.read().tables
        url, options = log
        if url.startswith("/"):
            import os

            os.unlink(url + ".idx")
        with _open(log) as s:
            assert s.read().tables == want

    def test_export_shapes(self, log) -> None:
        url, options = log
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 4), _loss(1, 0, 2)])
        kw = {"storage_options": options} if options else {}
        data = script.export(url, **kw)
        assert list(data) == [("run", "loss", 0), ("run", "loss", 1)]
        assert data[("run", "loss", 1)]["y"].tolist() == [0.0, 0.5]
        assert script.scopes(url, **kw) == ["run"]
        assert script.names(url, "run", **kw) == ["loss"]

    def test_bad_input_writes_nothing(self, log) -> None:
        with _open(log, "a") as s:
            s.append([_loss(0, 0, 1)])
            bad = [
                (Points("run", "n", 0, {"x": np.array(["a", "b"])}), InvalidArgumentError),
                (Points("run", "n", 0, {"x": [object(), object()]}), InvalidArgumentError),
                (Points("run", "n", 0, {"x": np.arange(3), "y": np.arange(2)}), InvalidArgumentError),
                (Points("run", "n", 0, {"index": np.arange(3)}), ReservedNameError),
                (Points("run", "", 0, {"x": np.arange(3)}), InvalidArgumentError),
                (Points("", "n", 0, {"x": np.arange(3)}), InvalidArgumentError),
                (Points("run", "n", 0, {}), InvalidArgumentError),
                (ConfigUpdate("run", {"f": object()}), InvalidArgumentError),
            ]
            for item, err in bad:
                with pytest.raises(err):
                    s.append([_loss(0, 1, 1), item])
        with _open(log) as s:
            assert s.read().num_points == 1
            assert s.scopes() == ["run"]


def test_compaction_keeps_live_data_and_resets_old_cursors(tmp_path) -> None:
    from streamvis.storage.compaction import compact

    path = str(tmp_path / "c.log")
    with Store.open(path, "a") as s:
        for i in range(6):
            s.append([_loss(i % 3, i, 1)], writer_id=b"writer01", seq=i)
        s.append([Points("gone", "x", 0, {"x": np.arange(100)})])
        s.delete("gone")
        s.write_config("run", {"a": 1})
        want = s.read().tables
        cursor = s.cursor()
    reader = Store.open(path)
    stats = compact(path)
    assert stats.generation == 2 and stats.bytes_after < stats.bytes_before
    with Store.open(path, "a") as s:
        assert s.read().tables == want
        assert s.config("run") == {"a": 1}
        assert s.append([_loss(0, 0, 1)], writer_id=b"writer01", seq=5).duplicate
    with pytest.raises(CursorResetError):
        reader.read(since=cursor)
    assert reader.read().tables == want  # the old reader follows the new generation
    assert not math.isnan(reader.groups()[0].x_min)
