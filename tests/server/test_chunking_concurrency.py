"""Messages above the size limit are split in both directions (64 KiB, 1M points);
many writers and subscribers at once lose nothing; small calls stay responsive
while a large fetch streams."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from streamvis.errors import StreamvisError
from streamvis.server.client import DataClient
from streamvis.storage import Points

LIMIT = 64 * 1024


def test_one_million_points_through_64_kib_messages(start_server) -> None:
    srv = start_server(None, "--max-message-bytes", str(LIMIT))
    n = 1_000_000
    x = np.arange(n, dtype=np.int64)
    y = np.sin(x / 1000.0)
    # both ends refuse any message above the limit, so success proves the chunking
    with DataClient(srv.uri, max_message_bytes=LIMIT, timeout=120) as client:
        result = client.append([Points("big", "wave", 0, {"x": x, "y": y})], writer_id=b"w", seq=1)
        assert not result.duplicate
        got = client.fetch("big").tables[("big", "wave")]
        assert got.num_rows == n
        np.testing.assert_array_equal(got.column("x").to_numpy(), x)
        np.testing.assert_array_equal(got.column("y").to_numpy(), y)
        assert set(got.column("index").to_numpy().tolist()) == {0}
        full = client.read_range("big", "wave", 0)
        assert full.num_rows == n
        small = client.read_range("big", "wave", 0, 1000, 500_000, max_points=2000)
        assert small.num_rows <= 2000 * 1.1
        assert client.groups()[0].count == n
        updates = client.subscribe("big")
        assert next(updates).num_points == n
        updates.close()
    # the limit is enforced: a client that does not split (4 MiB messages) is refused
    with DataClient(srv.uri) as unsplit:
        with pytest.raises(StreamvisError, match="(?i)message|received|larger"):
            unsplit.append([Points("big", "wave", 0, {"x": x, "y": y})])


def test_concurrent_writers_and_subscribers_lose_nothing(start_server) -> None:
    srv = start_server()
    writers, batches, per_batch = 6, 40, 50
    total = writers * batches * per_batch
    with DataClient(srv.uri) as c:
        start_cursor = c.cursor()
    received: list[list[int]] = [[], []]
    subscribed = threading.Barrier(3)

    def subscribe(slot: int) -> None:
        with DataClient(srv.uri) as client:
            updates = client.subscribe(scope_pattern="^w", since=start_cursor)
            first = next(updates)
            received[slot].extend(v for t in first.tables.values() for v in t.column("v").to_pylist())
            subscribed.wait(30)
            for update in updates:
                for t in update.tables.values():
                    received[slot].extend(t.column("v").to_pylist())
                if len(received[slot]) >= total:
                    updates.close()
                    return

    def write(w: int) -> None:
        with DataClient(srv.uri) as client:
            for b in range(batches):
                base = (w * batches + b) * per_batch
                v = np.arange(base, base + per_batch, dtype=np.int64)
                client.append([Points(f"w{w}", "v", b % 2, {"v": v})], writer_id=f"{w}".encode(), seq=b)

    subs = [threading.Thread(target=subscribe, args=(i,)) for i in range(2)]
    for t in subs:
        t.start()
    subscribed.wait(30)
    ws = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in ws:
        t.start()
    for t in ws + subs:
        t.join(60)
    with DataClient(srv.uri) as client:
        stored = client.fetch(scope_pattern="^w")
    values = sorted(v for t in stored.tables.values() for v in t.column("v").to_pylist())
    assert values == list(range(total))
    for got in received:
        assert sorted(got) == list(range(total))


def test_small_calls_stay_responsive_during_a_large_fetch(start_server) -> None:
    srv = start_server()
    n = 4_000_000
    with DataClient(srv.uri, timeout=120) as client:
        x = np.arange(n, dtype=np.int64)
        client.append([Points("huge", "y", 0, {"x": x, "y": x * 1.0})])
        client.append([Points("tiny", "y", 0, {"y": np.ones(3)})])
    done = threading.Event()
    latencies: list[float] = []

    def big_fetch() -> None:
        with DataClient(srv.uri, timeout=120) as c:
            for _ in range(3):
                assert c.fetch("huge").num_points == n
        done.set()

    t = threading.Thread(target=big_fetch)
    t.start()
    with DataClient(srv.uri) as client:
        while not done.is_set():
            t0 = time.perf_counter()
            assert client.names("tiny") == ["y"]
            latencies.append(time.perf_counter() - t0)
    t.join(120)
    assert latencies and float(np.median(latencies)) < 0.1
