"""Group commit in the data server: appends of concurrent clients share fsyncs, and each
is acknowledged only once durable (a SIGKILL right after acknowledgements loses none)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from streamvis.server.client import DataClient
from streamvis.server.server import DataServer
from streamvis.storage import Points, Store
from streamvis.storage.local import log_file as backend_mod
from tests.helpers import wait_for
from tests.server.conftest import free_port

CLIENTS = 24
APPENDS = 15


def _batch(client: int, seq: int) -> list[Points]:
    x = np.arange(seq * 5, seq * 5 + 5, dtype=np.int64)
    return [Points("gc", f"c{client}", 0, {"x": x, "y": np.full(5, seq, np.float32)})]


def _append_from(uri: str, client: int, acked: list[tuple[int, int]], stop: threading.Event,
                 appends: int | None = None) -> None:
    """One client appending (writer c<client>, seq 0, 1, ...); records each ack."""
    try:
        with DataClient(uri) as dc:
            seq = 0
            while not stop.is_set() and (appends is None or seq < appends):
                dc.append(_batch(client, seq), writer_id=f"c{client}".encode(), seq=seq)
                acked.append((client, seq))
                seq += 1
    except Exception:  # noqa: BLE001 - the server was killed under it
        if appends is not None:
            raise


def _stored(path: str) -> set[tuple[int, int]]:
    with Store.open(path) as r:
        tables = r.read().tables
    return {
        (int(name[1:]), int(s))
        for (scope, name), t in tables.items()
        for s in np.unique(t.column("y").to_numpy())
    }


@pytest.mark.timeout(120)
def test_concurrent_appends_share_fsyncs(tmp_path, monkeypatch) -> None:
    fsyncs: list[int] = []
    real = backend_mod.os.fsync

    def counting(fd: int) -> None:  # the real fsync, made as slow as a disk's (tmp may be RAM)
        fsyncs.append(fd)
        real(fd)
        time.sleep(0.005)

    monkeypatch.setattr(backend_mod.os, "fsync", counting)
    path = str(tmp_path / "gc.svl")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server: Any = DataServer(path, free_port())

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    try:
        uri = call(server.start())
        acked: list[tuple[int, int]] = []
        stop = threading.Event()
        before = len(fsyncs)
        threads = [
            threading.Thread(target=_append_from, args=(uri, c, acked, stop, APPENDS))
            for c in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        used = len(fsyncs) - before
        gc = server._servicer.group_commit
        assert len(acked) == CLIENTS * APPENDS
        assert gc.batches == CLIENTS * APPENDS
        assert used == gc.commits  # one fsync per group
        assert used <= CLIENTS * APPENDS // 2, f"{used} fsyncs for {len(acked)} appends"
        assert _stored(path) == set(acked)
    finally:
        call(server.stop(grace=1.0))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.timeout(120)
def test_sigkill_right_after_acks_loses_nothing(tmp_path, start_server) -> None:
    path = str(tmp_path / "kill.svl")
    srv = start_server(path)
    acked: list[tuple[int, int]] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_append_from, args=(srv.uri, c, acked, stop), daemon=True)
        for c in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) >= 150, timeout=60)
        srv.kill()  # SIGKILL while the other clients' appends are in flight
        seen = list(acked)  # every ack a client received before the kill
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    stored = _stored(path)
    assert set(seen) <= stored
    assert set(acked) <= stored
    # each writer's batches form a prefix: nothing after a gap
    for c in range(CLIENTS):
        seqs = sorted(s for w, s in stored if w == c)
        assert seqs == list(range(len(seqs)))
