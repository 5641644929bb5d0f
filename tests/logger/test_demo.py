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
            "loss": {"x": "int64", "y": "float32", "wall_time": "float64"},
            "lr": {"x": "int64", "y": "float32", "wall_time": "float64"},
            "weights": {"x": "int64", "y": "float32", "wall_time": "float64"},
            "cloud": {"x": "float32", "y": "float32", "t": "int64", "wall_time": "float64"},
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


def test_demo_without_a_server_exits_1_saying_what_was_not_delivered():
    """The seed's `streamvis demo run25 10 --grpc-uri localhost:8099` with nothing there."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.server.conftest import free_port

    root = Path(__file__).resolve().parents[2]
    uri = f"localhost:{free_port()}"
    r = subprocess.run(
        [sys.executable, "-m", "streamvis.cli", "demo", "run25", "10", "--grpc-uri", uri,
         "--wait", "0.5"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(root)),
    )
    assert r.returncode == 1, (r.stdout, r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error: ")]
    assert len(errors) == 1, r.stderr
    # 10 steps: loss 10 + 2 (two held-out writes) + lr 10 + weights 80 + cloud 4000 = 4102
    assert f"4102 of 4102 points were not delivered to the data server at {uri}" in errors[0]
    assert "grpc-serve" in errors[0] and "Traceback" not in r.stderr
    assert "demo: done" not in r.stdout


def test_run_demo_returns_the_delivery_counts(log_path):
    stats = run_demo("counted", 3, path=log_path)
    # loss 3 + held-out 2 (step 0) + lr 3 + weights 24 + cloud 1200
    assert stats["delivered_points"] == 3 + 2 + 3 + 24 + 1200 and stats["undelivered_points"] == 0
