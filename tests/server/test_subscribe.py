"""Subscribe delivers every appended point exactly once: live, across a client
reconnect, across a server kill -9 and restart, and after a compaction (reset)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from streamvis.errors import UnavailableError
from streamvis.server.client import DataClient, Update
from streamvis.storage import Points
from streamvis.storage.compaction import compact


def _batch(start: int, n: int, scope: str = "live") -> list[Points]:
    xs = np.arange(start, start + n, dtype=np.int64)
    return [Points(scope, "y", int(start % 3), {"x": xs, "y": xs * 0.5})]


def _xs(update: Update) -> list[int]:
    return [x for t in update.tables.values() for x in t.column("x").to_pylist()]


def _collect_until(updates: Iterator[Update], total: int, seen: list[int]) -> str:
    """Consume updates until ``seen`` holds ``total`` points; return the last cursor."""
    cursor = ""
    for update in updates:
        seen.extend(_xs(update))
        cursor = update.cursor
        if len(seen) >= total:
            return cursor
    raise AssertionError("subscription ended early")


def test_live_points_arrive_once_across_client_reconnect(start_server) -> None:
    srv = start_server()
    seen: list[int] = []
    with DataClient(srv.uri) as writer, DataClient(srv.uri) as reader:
        writer.append(_batch(0, 100))
        updates = reader.subscribe("live")
        cursor = _collect_until(updates, 100, seen)
        done = threading.Event()

        def write() -> None:
            for i in range(1, 41):
                writer.append(_batch(i * 100, 100), writer_id=b"w", seq=i)
            done.set()

        t = threading.Thread(target=write)
        t.start()
        cursor = _collect_until(updates, 1500, seen)
        updates.close()  # drop the stream mid-way, come back from the cursor
        with DataClient(srv.uri) as reader2:
            _collect_until(reader2.subscribe("live", since=cursor), 4100, seen)
        t.join(30)
    assert done.is_set()
    assert sorted(seen) == list(range(4100))  # all of them, none twice


def test_exactly_once_across_server_kill_and_restart(start_server) -> None:
    srv = start_server()
    seen: list[int] = []
    with DataClient(srv.uri) as writer:
        for i in range(10):
            writer.append(_batch(i * 10, 10), writer_id=b"w", seq=i)
        reader = DataClient(srv.uri)
        updates = reader.subscribe("live", reconnect_timeout=30)
        _collect_until(updates, 100, seen)

        srv.kill()  # kill -9
        with pytest.raises(UnavailableError):
            writer.append(_batch(100, 10), writer_id=b"w", seq=10)  # a logger keeps this batch
        srv.start()  # same PATH, same port
        writer.wait_ready(30)
        # the logger retries its batch and goes on; a replayed batch is stored once
        assert not writer.append(_batch(100, 10), writer_id=b"w", seq=10).duplicate
        assert writer.append(_batch(90, 10), writer_id=b"w", seq=9).duplicate
        for i in range(11, 20):
            writer.append(_batch(i * 10, 10), writer_id=b"w", seq=i)
        _collect_until(updates, 200, seen)
        updates.close()
        reader.close()
        assert writer.fetch("live").num_points == 200
    assert sorted(seen) == list(range(200))


def test_cursor_from_before_compaction_gets_reset(start_server) -> None:
    srv = start_server()
    with DataClient(srv.uri) as client:
        client.append(_batch(0, 50))
        client.append(_batch(50, 50, scope="gone"))
        old_cursor = client.fetch().cursor
        client.delete("gone")
    code, _, _ = srv.terminate()
    assert code == 0
    compact(srv.path)
    srv.start()
    with DataClient(srv.uri) as client:
        updates = client.subscribe(since=old_cursor)
        first = next(updates)
        assert first.reset  # drop what you hold: a full read follows in this batch
        assert sorted(_xs(first)) == list(range(50))
        client.append(_batch(50, 5))
        second = next(updates)
        assert not second.reset and sorted(_xs(second)) == list(range(50, 55))
        updates.close()
        from streamvis.errors import CursorResetError

        with pytest.raises(CursorResetError):
            client.fetch(since=old_cursor)


def test_logger_keeps_its_data_across_a_server_kill(start_server) -> None:
    """A DataLogger whose server is killed -9 buffers, retries, and delivers every
    point once after the restart; a subscriber sees each point once."""
    from streamvis import DataLogger

    srv = start_server()
    lg = DataLogger("train", delete_existing=False).init(grpc_uri=srv.uri, flush_every=0.02)
    reader = DataClient(srv.uri)
    updates = reader.subscribe("train", reconnect_timeout=30)
    seen: list[int] = []
    for step in range(100):
        lg.write("loss", x=step, y=0.5 * step)
    assert lg.flush(timeout=30)
    _collect_until(updates, 100, seen)
    srv.kill()
    for step in range(100, 200):  # the server is gone: buffered, write never raises
        lg.write("loss", x=step, y=0.5 * step)
    srv.start()
    lg.close(timeout=30)
    assert lg.stats()["undelivered_points"] == 0
    _collect_until(updates, 200, seen)
    updates.close()
    with DataClient(srv.uri) as client:
        stored = client.fetch("train", "loss").tables[("train", "loss")]
    reader.close()
    assert stored.column("x").to_pylist() == list(range(200))
    assert sorted(seen) == list(range(200))
