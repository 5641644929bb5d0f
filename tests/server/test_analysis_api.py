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
