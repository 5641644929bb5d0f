"""The demo stream: the names, columns and indices the demo schema plots."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from streamvis.logger.demo import demo_cmd, run_demo
from streamvis.storage import Store


def test_run_demo_names_columns_indices(log_path):
    run_demo("demo", 30, path=log_path)
    with Store.open(log_path, mode="r") as st:
        schemas = {n: {c: str(d) for c, d in s.items()} for n, s in st.schemas("demo").items()}
        assert schemas == {
            "loss": {"x": "int64", "y": "float32"},
            "lr": {"x": "int64", "y": "float32"},
            "weights": {"x": "int64", "y": "float32"},
            "cloud": {"x": "float32", "y": "float32", "t": "int64"},
        }
        groups = {(g.name, g.index): g.count for g in st.groups(scope_pattern="^demo$")}
        assert groups[("loss", 0)] == 30 and groups[("loss", 1)] == groups[("loss", 2)] == 3
        assert [i for n, i in groups if n == "weights"] == list(range(8))
        assert "start-time" in st.config("demo")
        cloud = st.read(scope="demo", name="cloud").tables[("demo", "cloud")]
        assert np.unique(cloud.column("t").to_numpy()).tolist() == list(range(30))


def test_demo_command_with_path(log_path):
    result = CliRunner().invoke(demo_cmd, ["run24", "5", "--path", log_path])
    assert result.exit_code == 0, result.output
    assert log_path in result.output
    with Store.open(log_path, mode="r") as st:
        assert st.names("run24") == ["loss", "lr", "weights", "cloud"]
    bad = CliRunner().invoke(demo_cmd, ["s", "5", "--path", log_path, "--grpc-uri", "h:1"])
    assert bad.exit_code != 0
