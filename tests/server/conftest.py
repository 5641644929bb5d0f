"""Fixtures that run the real data server as a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.helpers import ChildProcesses

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(uri: str, proc: subprocess.Popen[str], timeout: float = START_TIMEOUT) -> None:
    """Block until the health service says SERVING (fail if the process dies first)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(uri) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"server exited with {proc.returncode}: {out}{err}")
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service="streamvis.DataService"),
                    timeout=0.5,
                    wait_for_ready=True,
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server at {uri} not SERVING within {timeout} s")


class ServerProc:
    """One ``python -m streamvis.grpc_server PATH PORT`` process (restartable)."""

    def __init__(
        self, path: str, port: int, args: tuple[str, ...] = (), procs: ChildProcesses | None = None
    ) -> None:
        self.procs = procs or ChildProcesses()
        self.path = path
        self.port = port
        self.args = args
        self.uri = f"127.0.0.1:{port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ServerProc:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = self.procs.popen(
            [sys.executable, "-m", "streamvis.grpc_server", self.path, str(self.port), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        wait_serving(self.uri, self.proc)
        return self

    def kill(self) -> None:
        """kill -9: no shutdown, no flush beyond what each write already did."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """SIGTERM and wait; returns (exit code, stdout, stderr)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


@pytest.fixture
def start_server(tmp_path: Path, procs: ChildProcesses) -> Iterator[object]:
    """``start_server(path=None, *args)`` -> a running ServerProc; all stopped afterwards
    (and reaped by ``procs`` on every exit path)."""
    servers: list[ServerProc] = []

    def start(path: str | None = None, *args: str, port: int | None = None) -> ServerProc:
        srv = ServerProc(path or str(tmp_path / "log.svl"), port or free_port(), args, procs)
        servers.append(srv)
        return srv.start()

    yield start
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """One server per test module, for tests that only add their own scopes."""
    path = str(tmp_path_factory.mktemp("shared") / "log.svl")
    children = ChildProcesses()
    try:
        srv = ServerProc(path, free_port(), procs=children).start()
        yield srv
        srv.stop()
    finally:
        children.reap()
