"""A connection that takes a while to set up (a loaded machine, a far server) is
waited for: gRPC gives each connection attempt at least ``grpc.min_reconnect_backoff_ms``,
and a client that set it to 100 ms for quick reconnects failed its first call with
"tcp handshaker shutdown" whenever the handshake took longer (seen in CI under load).

The slow link is real: a TCP relay on 127.0.0.1 that holds each new connection's first
bytes for ``DELAY_S`` before passing everything through both ways.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from streamvis.server.aio_client import AsyncDataClient
from streamvis.server.client import DataClient

from .conftest import free_port

DELAY_S = 0.6  # longer than the old 100 ms connect deadline, well inside gRPC's 20 s


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        first = True
        while data := await reader.read(65536):
            if first:
                await asyncio.sleep(delay)  # the slow link under test
                first = False
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class SlowRelay:
    """127.0.0.1:``port`` -> 127.0.0.1:``target``, each direction's first bytes delayed."""

    def __init__(self, target: int, delay: float) -> None:
        self.port = free_port()
        self.target, self.delay = target, delay
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(
            _pipe(reader, up_writer, self.delay), _pipe(up_reader, writer, self.delay)
        )

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()

    def __enter__(self) -> SlowRelay:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture()
def relay(shared_server) -> Iterator[SlowRelay]:
    port = int(shared_server.uri.rsplit(":", 1)[1])
    with SlowRelay(port, DELAY_S) as slow:
        yield slow


def test_first_call_over_a_slow_link_waits_for_the_connection(relay):
    with DataClient(f"127.0.0.1:{relay.port}", timeout=30) as client:
        assert isinstance(client.scopes(), list)


def test_async_first_call_over_a_slow_link_waits_for_the_connection(relay):
    async def main() -> list[str]:
        async with AsyncDataClient(f"127.0.0.1:{relay.port}", timeout=30) as client:
            return await client.scopes()

    assert isinstance(asyncio.run(main()), list)
