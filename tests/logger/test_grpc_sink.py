"""The gRPC sink: logging through a real data server (in-process), down and restarted."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamvis import DataLogger

server_mod = pytest.importorskip(
    "streamvis.server.server", reason="the data server (streamvis.server.server) is not built yet"
)
pytest.importorskip("streamvis.server.client", reason="DataClient is not built yet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A DataServer on its own event loop thread; start/stop on a fixed port."""

    def __init__(self, path: str, port: int) -> None:
        self.path, self.port = path, port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Any = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def start(self) -> str:
        self.server = server_mod.DataServer(self.path, port=self.port)
        return str(self._call(self.server.start()))

    def stop(self) -> None:
        if self.server is not None:
            self._call(self.server.stop(grace=1.0))
            self.server = None

    def shutdown(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server(log_path: str) -> Iterator[ServerThread]:
    srv = ServerThread(log_path, free_port())
    yield srv
    srv.shutdown()


def test_log_through_server(server, log_path, read_points):
    uri = server.start()
    lg = DataLogger("g", delete_existing=True)
    lg.init(grpc_uri=uri, flush_every=0.05)
    with lg:
        lg.write_config({"lr": 0.1})
        for step in range(200):
            lg.write("loss", x=step, y=0.5 * step)
            lg.write("cloud", x=np.arange(20, dtype=np.float32), y=np.ones(20, np.float32), t=step)
    pts = read_points(log_path, "g")
    assert pts[("loss", 0)]["x"].tolist() == list(range(200))
    assert len(pts[("cloud", 0)]["x"]) == 200 * 20
    # a second logger resuming the scope gets the schemas from the server
    lg2 = DataLogger("g", delete_existing=False).init(grpc_uri=uri)
    with lg2:
        from streamvis.errors import SchemaMismatchError

        with pytest.raises(SchemaMismatchError):
            lg2.write("loss", x=0.5, y=1.0)


def test_server_down_then_restarted_nothing_lost(server, log_path, read_points, wait_for):
    uri = f"127.0.0.1:{server.port}"
    lg = DataLogger("g", delete_existing=True).init(grpc_uri=uri, flush_every=0.02)
    for step in range(100):  # nothing listens yet: buffered, write never raises
        lg.write("loss", x=step, y=1.0)
    wait_for(lambda: lg.stats()["retries"] >= 1)
    server.start()
    assert lg.flush(timeout=30)
    server.stop()  # down again mid-run
    retries = lg.stats()["retries"]
    for step in range(100, 200):
        lg.write("loss", x=step, y=1.0)
    wait_for(lambda: lg.stats()["retries"] > retries)
    server.start()
    lg.close(timeout=30)
    assert lg.stats()["undelivered_points"] == 0
    assert read_points(log_path, "g")[("loss", 0)]["x"].tolist() == list(range(200))


def test_demo_through_server_and_detection(server, log_path):
    from streamvis.logger.demo import run_demo, server_answers
    from streamvis.storage import Store

    assert not server_answers(f"127.0.0.1:{server.port}", timeout=0.5)
    uri = server.start()
    assert server_answers(uri)
    run_demo("demo", 5, grpc_uri=uri)
    with Store.open(log_path, mode="r") as st:
        assert st.names("demo") == ["loss", "lr", "weights", "cloud"]
