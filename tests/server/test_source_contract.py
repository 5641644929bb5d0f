"""One contract for the ``DataSource`` read interface, run against the in-process
``LocalSource`` and the gRPC ``GrpcSource`` (a real server process)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from streamvis.errors import InvalidArgumentError, NotFoundError
from streamvis.server.client import DataClient, GrpcSource
from streamvis.source import DataSource, LocalSource, open_source
from streamvis.storage import ConfigUpdate, Points, Store


class SourceContract:
    """Subclasses provide ``env``: (a DataSource, a write sink on the same log)."""

    @pytest.fixture
    def env(self, tmp_path, request):  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def filled(self, env):
        src, sink = env
        sink.append([ConfigUpdate("alpha", {"lr": 0.5}), ConfigUpdate("beta", {"lr": 0.1})])
        sink.append([
            Points("alpha", "loss", 0, {"x": np.arange(100), "y": np.sin(np.arange(100.0))}),
            Points("alpha", "loss", 1, {"x": np.arange(10, 20), "y": np.ones(10)}),
            Points("alpha", "acc", 0, {"y": np.arange(5, dtype=np.float32)}),
            Points("beta", "loss", 0, {"x": np.arange(7), "y": np.zeros(7)}),
        ])
        return src, sink

    def test_is_a_data_source(self, env) -> None:
        assert isinstance(env[0], DataSource)

    def test_listings(self, filled) -> None:
        src, _ = filled
        assert src.scopes() == ["alpha", "beta"]
        assert src.names("alpha") == ["loss", "acc"]
        with pytest.raises(NotFoundError):
            src.names("gamma")
        assert src.configs() == {"alpha": {"lr": 0.5}, "beta": {"lr": 0.1}}
        assert src.configs("^b") == {"beta": {"lr": 0.1}}

    def test_groups(self, filled) -> None:
        src, _ = filled
        groups = {(g.scope, g.name, g.index): g for g in src.groups()}
        assert set(groups) == {("alpha", "loss", 0), ("alpha", "loss", 1), ("alpha", "acc", 0),
                               ("beta", "loss", 0)}
        g = groups[("alpha", "loss", 1)]
        assert (g.count, g.x_min, g.x_max) == (10, 10, 19)
        only = src.groups(scope_pattern="alp", name_pattern="acc")
        assert [(g.scope, g.name, g.index) for g in only] == [("alpha", "acc", 0)]
        assert not math.isnan(only[0].x_min)

    def test_media_listed_apart_and_read_one_step(self, filled) -> None:
        from streamvis.logger.images import encode_png
        from streamvis.storage import Image, Text

        src, sink = filled
        pngs = [encode_png(np.full((3, 2, 3), s, np.uint8)) for s in range(3)]
        sink.append([Image("alpha", "img", s, png, 10.0 + s) for s, png in enumerate(pngs)]
                    + [Text("beta", "note", 4, "<b>hi</b>", 1.0)])
        assert [(m.scope, m.name, m.kind, m.steps) for m in src.media()] == [
            ("alpha", "img", "image", (0, 1, 2)), ("beta", "note", "text", (4,))]
        assert [m.name for m in src.media(scope_pattern="^b")] == ["note"]
        assert src.names("alpha") == ["loss", "acc"]  # never among the numeric names
        (one,) = src.read_media("alpha", "img", [1])
        assert (one.step, one.png, one.wall_time) == (1, pngs[1], 11.0)
        assert [it.step for it in src.read_media("alpha", "img")] == [0, 1, 2]
        assert src.read_media("beta", "note")[0].text == "<b>hi</b>"
        with pytest.raises(NotFoundError):
            src.read_media("alpha", "nothing")

    def test_fetch_selections(self, filled) -> None:
        src, _ = filled
        everything = src.fetch()
        assert list(everything.tables) == [("alpha", "loss"), ("alpha", "acc"), ("beta", "loss")]
        t = everything.tables[("alpha", "loss")]
        assert t.column_names == ["index", "x", "y"]
        assert t.column("index").to_pylist() == [0] * 100 + [1] * 10
        # local and gRPC sources alike: int64 values, int8 codes (issue 15: read memory)
        assert t.schema.field("index").type == pa.dictionary(pa.int8(), pa.int64())
        assert everything.num_points == 122
        assert list(src.fetch("alpha", "acc").tables) == [("alpha", "acc")]
        assert list(src.fetch(name_pattern="^lo").tables) == [("alpha", "loss"), ("beta", "loss")]
        assert src.fetch("gamma").tables == {}
        with pytest.raises(InvalidArgumentError):
            src.fetch(scope_pattern="(")

    def test_fetch_since_cursor_and_tombstones(self, filled) -> None:
        src, sink = filled
        cursor = src.fetch().cursor
        assert src.fetch(since=cursor).tables == {}
        sink.append([Points("beta", "loss", 0, {"x": np.array([7, 8]), "y": np.ones(2)})])
        new = src.fetch(since=cursor)
        assert new.num_points == 2 and new.deleted == []
        src.delete("alpha", "acc")
        after = src.fetch(since=new.cursor)
        assert after.deleted == [("alpha", "acc")] and after.tables == {}
        assert src.names("alpha") == ["loss"]
        src.delete("beta")
        assert src.scopes() == ["alpha"]
        assert src.fetch(since=after.cursor).deleted == [("beta", None)]

    def test_read_range(self, filled) -> None:
        src, _ = filled
        full = src.read_range("alpha", "loss", 0)
        assert full.column_names == ["x", "y"] and full.num_rows == 100
        part = src.read_range("alpha", "loss", 0, 10, 19.5)
        assert part.column("x").to_pylist() == list(range(10, 20))
        small = src.read_range("alpha", "loss", 0, max_points=10)
        assert small.num_rows <= 12
        with pytest.raises(NotFoundError):
            src.read_range("alpha", "loss", 7)

    def test_read_ranges_batch_upto_smoothing_and_cursor(self, filled) -> None:
        from streamvis.storage import RangeRequest
        from streamvis.storage.read.smooth import ema

        src, sink = filled
        snap = src.snapshot(name_pattern="^loss$")
        assert {(g.scope, g.index, g.count) for g in snap.groups} == {
            ("alpha", 0, 100), ("alpha", 1, 10), ("beta", 0, 7)}
        reqs = [
            RangeRequest("alpha", "loss", 0, max_points=20),
            RangeRequest("alpha", "loss", 0, 10, 19.5),
            RangeRequest("alpha", "loss", 0, upto=30, smoothing=0.9),
            RangeRequest("gamma", "loss", 0),
            RangeRequest("beta", "loss", 0),
        ]
        r = src.read_ranges(reqs)
        assert r.counts == [100, 100, 100, 0, 7]
        assert r.tables[0].num_rows <= 22
        assert r.tables[1].column("x").to_pylist() == list(range(10, 20))
        want, _ = ema(np.sin(np.arange(30.0)), 0.9)
        np.testing.assert_allclose(r.tables[2].column("y").to_numpy(), want, rtol=1e-12)
        assert r.tables[3] is None
        assert r.tables[4].column("y").to_pylist() == [0.0] * 7
        # the cursor is the state read: what follows it comes next, exactly once
        sink.append([Points("beta", "loss", 0, {"x": np.array([7, 8]), "y": np.ones(2)})])
        assert src.fetch(since=r.cursor).num_points == 2
        assert src.fetch(since=snap.cursor).num_points == 2
        with pytest.raises(InvalidArgumentError, match="upto"):
            src.read_ranges([RangeRequest("alpha", "loss", 0, upto=-1)])
        with pytest.raises(InvalidArgumentError, match="smoothing"):
            src.read_ranges([RangeRequest("alpha", "loss", 0, smoothing=1.0)])


class TestLocalSource(SourceContract):
    @pytest.fixture
    def env(self, tmp_path):
        store = Store.open(str(tmp_path / "local.svl"), "a")
        src = LocalSource(store)
        yield src, store
        src.close()


class TestGrpcSource(SourceContract):
    @pytest.fixture
    def env(self, start_server):
        srv = start_server()
        src = open_source(srv.uri)
        assert isinstance(src, GrpcSource)
        sink = DataClient(srv.uri)
        yield src, sink
        sink.close()
        src.close()
