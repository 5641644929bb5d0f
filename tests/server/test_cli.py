"""The CLI commands against a log path and against a server: click's CliRunner
in-process, and the real command in a subprocess (one-line errors, exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from streamvis.server.cli import configs_cmd, names_cmd, scopes_cmd, tail_cmd
from streamvis.server.client import DataClient
from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.storage_cli import delete_cmd
from tests.server.conftest import ROOT, free_port


def _fill(sink) -> None:
    sink.append([ConfigUpdate("run1", {"lr": 0.1}), Points("run1", "loss", 0, {"x": np.arange(3), "y": np.ones(3)})])
    sink.append([Points("run1", "acc", 0, {"y": np.arange(2.0)}), Points("run2", "loss", 1, {"x": np.arange(2), "y": np.zeros(2)})])


@pytest.fixture
def log_path(tmp_path) -> str:
    path = str(tmp_path / "cli.svl")
    with Store.open(path, "a") as store:
        _fill(store)
    return path


@pytest.fixture
def server(start_server):
    srv = start_server()
    with DataClient(srv.uri) as client:
        _fill(client)
    return srv


def _run(cmd, *args: str) -> str:
    result = CliRunner().invoke(cmd, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("kind", ["path", "server"])
def test_listing_commands(kind: str, log_path: str, request) -> None:
    target = log_path if kind == "path" else request.getfixturevalue("server").uri
    assert _run(scopes_cmd, target) == "run1\nrun2\n"
    assert _run(names_cmd, target, "run1") == "loss\nacc\n"
    assert json.loads(_run(configs_cmd, target, "run1")) == {"lr": 0.1}
    assert _run(configs_cmd, target) == 'run1\t{"lr": 0.1}\n'
    assert _run(tail_cmd, target, "--from-start", "--count", "2", "--name", "acc") == (
        "run1 acc 0 y=0.0\nrun1 acc 0 y=1.0\n"
    )
    assert _run(delete_cmd, target, "run1", "acc", "--yes") == "deleted run1/acc\n"
    assert _run(names_cmd, target, "run1") == "loss\n"
    assert _run(delete_cmd, target, "run2", "--yes") == "deleted run2\n"
    assert _run(scopes_cmd, target) == "run1\n"


@pytest.mark.parametrize("kind", ["path", "server"])
def test_errors_are_one_line(kind: str, log_path: str, request) -> None:
    target = log_path if kind == "path" else request.getfixturevalue("server").uri
    for cmd, args in [(names_cmd, ["nope"]), (configs_cmd, ["nope"]), (delete_cmd, ["run1", "nope"])]:
        result = CliRunner().invoke(cmd, [target, *args])
        assert result.exit_code == 1
        assert result.output.strip().count("\n") == 0 and "not found" in result.output


def test_tail_follows_a_server(server) -> None:
    stop = threading.Event()

    def write() -> None:
        with DataClient(server.uri) as client:
            step = 0
            while not stop.is_set():
                client.append([Points("live", "y", 0, {"x": np.array([step]), "y": np.array([step * 2.0])})])
                step += 1
                stop.wait(0.02)

    t = threading.Thread(target=write)
    t.start()
    try:
        out = _run(tail_cmd, server.uri, "--scope", "live", "--count", "3")
    finally:
        stop.set()
        t.join(10)
    lines = out.splitlines()
    assert len(lines) == 3
    steps = [int(line.split()[3].removeprefix("x=")) for line in lines]
    assert steps == list(range(steps[0], steps[0] + 3))  # consecutive: nothing skipped


def _streamvis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamvis.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )


def test_real_command_in_a_subprocess(server, tmp_path) -> None:
    ok = _streamvis("scopes", server.uri)
    assert ok.returncode == 0 and ok.stdout == "run1\nrun2\n"
    cases = [
        ("names", server.uri, "missing"),                       # NOT_FOUND from the server
        ("scopes", f"127.0.0.1:{free_port()}"),                 # nobody listening
        ("scopes", str(tmp_path / "no-such.log")),               # a path that is not a log
        ("grpc-serve", str(tmp_path / "x.svl"), str(server.port)),  # busy port
    ]
    for args in cases:
        proc = _streamvis(*args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
