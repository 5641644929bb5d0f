"""What the access-control tests share: a data server subprocess (``Server``), the
token, the environment for child processes (their fixtures: tests/hardening/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from streamvis.server.client import open_channel
from streamvis.storage import Store
from streamvis.storage.format.model import Points
from tests.helpers import spawn

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"
CLI = [sys.executable, "-m", "streamvis.cli"]
TIMEOUT = 30.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVIS_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Server:
    """One data server subprocess; ``line`` is what it printed when it started."""

    def __init__(self, path: Path, *args: str, tls_ca: str | None = None) -> None:
        self.path = str(path)
        self.port = _free_port()
        self.uri = f"127.0.0.1:{self.port}"
        self.tls_ca = tls_ca
        self.proc = spawn(
            [sys.executable, "-m", "streamvis.grpc_server", self.path, str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        self._wait_serving()
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline()  # printed right after it started

    def _wait_serving(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        with open_channel(self.uri, tls_ca=self.tls_ca) as channel:  # health stays open
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited: {self.proc.communicate()[0]}")
                try:
                    reply = stub.Check(
                        health_pb2.HealthCheckRequest(), timeout=0.5, wait_for_ready=True
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, f"server at {self.uri} not SERVING"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def _points(scope: str, name: str = "loss", n: int = 5, offset: float = 0.0) -> Points:
    x = np.arange(n, dtype=np.int64)
    return Points(scope, name, 0, {"x": x, "y": x.astype(np.float32) + offset})


def _stored(path: str, scope: str) -> dict[tuple[str, str], object]:
    """What the log holds for ``scope``, read locally (no server involved)."""
    with Store.open(path, mode="r") as store:
        if scope not in store.scopes():
            return {}
        return dict(store.read(scope).tables)
