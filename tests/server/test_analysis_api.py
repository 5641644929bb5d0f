"""``gsummaries`` and ``gaggregate`` through a real data server equal the local API
on the same log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis import script
from tests.analysis.test_run_analysis import _sweep


def test_remote_summaries_and_aggregates_equal_local(start_server, tmp_path: Path) -> None:
    path = str(tmp_path / "s.svl")
    _sweep(Path(path))
    srv = start_server(path)
    local = script.summaries(path, ["loss", "acc"], stats=("min", "last", "argmax"))
    remote = script.gsummaries(srv.uri, ["loss", "acc"], stats=("min", "last", "argmax"))
    assert remote.equals(local)
    local_g = script.aggregate(path, "loss", ["optim.lr"], band="stderr")
    remote_g = script.gaggregate(srv.uri, "loss", ["optim.lr"], band="stderr")
    assert list(remote_g) == list(local_g) == [(0.01,), (0.1,)]
    for key, table in local_g.items():
        for col in table.column_names:
            np.testing.assert_array_equal(remote_g[key].column(col), table.column(col))


def test_grids_notes_errors_and_large_tables_cross_the_wire(start_server, tmp_path: Path) -> None:
    from streamvis.errors import InvalidArgumentError
    from streamvis.server.client import GrpcSource
    from streamvis.storage import ConfigUpdate, Points, Store

    path = str(tmp_path / "g.svl")
    with Store.open(path, mode="a") as st:
        for r in range(300):  # runs on steps of their own: bucketed
            st.append([ConfigUpdate(f"r{r}", {"seed": r, "width": r % 3}),
                       Points(f"r{r}", "loss", 0, {"x": np.arange(r % 7, 2000, 7),
                                                   "y": np.full(len(range(r % 7, 2000, 7)), float(r))})])
    srv = start_server(path, "--max-message-bytes", "4096")  # tables span many replies
    with GrpcSource(srv.uri) as remote:
        got = remote.aggregate("loss", "-seed", band="std")
        assert got.keys == ("width",) and any("width" in n for n in got.notes)
        assert len(got.aggregates) == 3
        for (width,), agg in got.aggregates.items():
            assert agg.grid is not None and agg.grid.width == 7.0
            assert (agg.n[:-1] == 100).all() and agg.n[-1] < 100  # the last bucket: runs that reach it
            assert np.allclose(agg.y[:-1], np.mean([r for r in range(300) if r % 3 == width]))
        stats = ("min", "max", "first", "last", "mean", "count", "argmin", "argmax")
        table = remote.summaries(["loss"], stats=stats)
        assert table.num_rows == 300
        assert table.equals(script.summaries(path, ["loss"], stats=stats))
        with pytest.raises(InvalidArgumentError) as e:
            remote.aggregate("loss", "seed", agg="avg")
        assert "'avg'" in str(e.value) and "\n" not in str(e.value)


def test_x_by_another_name_locally_and_remotely(start_server, tmp_path: Path) -> None:
    from streamvis.storage import ConfigUpdate, Points, Store

    path = str(tmp_path / "t.svl")
    with Store.open(path, mode="a") as st:
        for r, rate in enumerate((1000.0, 2000.0)):  # tokens per step differ by run
            st.append([ConfigUpdate(f"r{r}", {"seed": r}),
                       Points(f"r{r}", "loss", 0, {"x": np.arange(10), "y": np.full(10, float(r))}),
                       Points(f"r{r}", "tokens", 0, {"x": np.arange(0, 10, 3), "y": np.arange(0, 10, 3) * rate})])
        st.append([Points("r9", "loss", 0, {"x": np.arange(3), "y": np.zeros(3)})])  # no tokens
    srv = start_server(path)
    local = script.aggregate(path, "loss", ["seed"], x_name="tokens")
    remote = script.gaggregate(srv.uri, "loss", ["seed"], x_name="tokens")
    assert list(local) == list(remote) == [(0,), (1,)]  # r9 lacks tokens: left out
    # steps 0..9, tokens logged at 0, 3, 6, 9: every step has an x, linear between
    assert local[(0,)].column("x").to_pylist() == [i * 1000.0 for i in range(10)]
    assert local[(1,)].column("x").to_pylist() == [i * 2000.0 for i in range(10)]
    for key in local:
        assert remote[key].equals(local[key])
    from streamvis.source import open_source

    with open_source(path) as src:
        notes = src.aggregate("loss", ["seed"], x_name="tokens").notes
    assert any("without 'tokens'" in n for n in notes)


def test_smoothing_and_shown_runs_locally_and_remotely(start_server, tmp_path: Path) -> None:
    """``smoothing``: each run's EMA (the page's) before aggregating; ``scopes``: only
    those runs (a page's ticked runs); the same through the data server."""
    from streamvis.server.client import GrpcSource
    from streamvis.source import open_source
    from streamvis.storage import ConfigUpdate, Points, Store
    from streamvis.storage.read.smooth import ema

    path = str(tmp_path / "sm.svl")
    rng = np.random.default_rng(3)
    ys = {f"r{r}": rng.normal(size=50) for r in range(4)}
    with Store.open(path, mode="a") as st:
        for r, (scope, y) in enumerate(ys.items()):
            st.append([ConfigUpdate(scope, {"lr": 0.1 * (r % 2), "seed": r}),
                       Points(scope, "loss", 0, {"x": np.arange(50), "y": y})])
    srv = start_server(path)
    with open_source(path) as local, GrpcSource(srv.uri) as remote:
        for src in (local, remote):
            got = src.aggregate("loss", "lr", smoothing=0.6, scopes=["r0", "r1", "r3"])
            assert sorted(got.aggregates) == [(0.0,), (0.1,)]
            want0 = ema(ys["r0"], 0.6)[0]  # lr=0: r0 (r2 not shown)
            np.testing.assert_allclose(got.aggregates[(0.0,)].y, want0)
            want1 = (ema(ys["r1"], 0.6)[0] + ema(ys["r3"], 0.6)[0]) / 2
            np.testing.assert_allclose(got.aggregates[(0.1,)].y, want1)
            assert (got.aggregates[(0.1,)].n == 2).all()
            assert src.aggregate("loss", "lr", scopes=[]).aggregates == {}


@pytest.mark.parametrize("follow", [False, True])
def test_a_query_asked_again_follows_appends_through_the_server(start_server, tmp_path: Path,
                                                                follow: bool) -> None:
    """The server keeps a query asked again (or asked with ``follow``, as pages do) current,
    folding in the new points: after appends, deletions and a config written again it
    still equals the local full answer."""
    from streamvis.server.client import DataClient, GrpcSource
    from streamvis.source import LocalSource
    from streamvis.storage import ConfigUpdate, Points

    path = str(tmp_path / "live.svl")
    srv = start_server(path)
    rng = np.random.default_rng(3)
    runs = [f"run{i}" for i in range(6)]

    def append(x: np.ndarray) -> None:
        writer.append([Points(r, "loss", 0, {"x": x, "y": rng.normal(size=x.size)}) for r in runs])

    with DataClient(srv.uri) as writer, GrpcSource(srv.uri) as remote:
        writer.append([ConfigUpdate(r, {"lr": [0.1, 0.01][i % 2], "seed": i}) for i, r in enumerate(runs)])
        append(np.arange(50.0))
        for k in range(5):
            if k == 3:
                writer.write_config("run0", {"lr": 0.5, "seed": 0})
            if k == 4:
                writer.delete("run1")
            got = remote.aggregate("loss", "lr", agg="median", band="std", smoothing=0.3,
                                   follow=follow)
            with LocalSource.open(path) as local:
                want = local.aggregate("loss", "lr", agg="median", band="std", smoothing=0.3)
            assert list(got.aggregates) == list(want.aggregates)
            for key, a in want.aggregates.items():
                np.testing.assert_array_equal(got.aggregates[key].x, a.x)
                np.testing.assert_allclose(got.aggregates[key].y, a.y, rtol=1e-9, atol=1e-12)
                np.testing.assert_allclose(got.aggregates[key].hi, a.hi, rtol=1e-9, atol=1e-12)
            append(np.arange(50.0 + 10 * k, 60.0 + 10 * k))
        assert (0.5,) in got.aggregates and int(got.aggregates[(0.01,)].n.max()) == 2
