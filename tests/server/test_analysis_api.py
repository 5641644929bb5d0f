"""``gsummaries`` and ``gaggregate`` through a real data server equal the local API
on the same log."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
