"""The seed's Quick Start as written: `grpc-serve $DATA_PREFIX $PORT` where the prefix's
directory does not exist yet, and clients dialling `$IP:$PORT` of a server that
listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from streamvis import errors as E
from streamvis.server.client import DataClient
from streamvis.server.reach import GENERIC, unreachable_hint

from .conftest import ROOT, free_port, wait_serving


def _own_non_loopback_ip() -> str | None:
    """This machine's address on its default route (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.254", 9))
            ip = str(s.getsockname()[0])
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def test_grpc_serve_creates_the_missing_directory_and_says_so(tmp_path, procs):
    prefix = tmp_path / "data" / "deeper" / "test"  # /data/test on a fresh machine
    port = free_port()
    proc = procs.popen(
        [sys.executable, "-m", "streamvis.cli", "grpc-serve", str(prefix), str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    wait_serving(f"127.0.0.1:{port}", proc)
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    assert f"created the directory {prefix.parent} for {prefix}" in out, out
    assert prefix.exists() and proc.returncode == 0


def test_grpc_serve_cannot_create_the_directory_one_error_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = subprocess.run(
        [sys.executable, "-m", "streamvis.cli", "grpc-serve", str(blocker / "sub" / "log"),
         str(free_port())],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot create the directory"), r.stderr
    assert blocker.read_text() == "not a directory"


def test_client_of_a_local_only_server_is_told_host_0000_and_token(start_server):
    ip = _own_non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    srv = start_server()  # listens on 127.0.0.1 only, as grpc-serve does by default
    with DataClient(f"{ip}:{srv.port}", timeout=5) as client:
        with pytest.raises(E.UnavailableError) as info:
            client.scopes()
    msg = str(info.value)
    assert f"listens on 127.0.0.1:{srv.port} only" in msg, msg
    assert "--host 0.0.0.0" in msg and "--token" in msg, msg


def test_nothing_listening_anywhere_gets_the_generic_hint():
    ip = _own_non_loopback_ip()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = free_port()
    assert unreachable_hint(f"{ip}:{port}", "Connection refused") == GENERIC
    assert "--host 0.0.0.0" in GENERIC and "--token" in GENERIC


def test_loopback_targets_and_other_failures_get_no_hint():
    assert unreachable_hint(f"127.0.0.1:{free_port()}", "Connection refused") == ""
    assert unreachable_hint(f"localhost:{free_port()}", "Connection refused") == ""
    assert unreachable_hint("10.1.2.3:8081", "Socket closed") == ""
