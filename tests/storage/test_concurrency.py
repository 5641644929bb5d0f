"""Several processes on one local log: writers append, a reader follows, nothing torn."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np

from streamvis.storage import Points, Store

BATCH = 257  # points per batch: a reader must only ever see whole multiples
BATCHES = 60


def _writer(path: str, scope: str) -> None:
    with Store.open(path, "a", fsync=False) as s:
        for b in range(BATCHES):
            x = np.arange(b * BATCH, (b + 1) * BATCH, dtype=np.int64)
            s.append([Points(scope, "loss", 0, {"x": x, "y": np.full(BATCH, b, np.float32)}),
                      Points(scope, "loss", 1, {"x": x, "y": np.full(BATCH, -b, np.float32)})])


def test_reader_follows_two_writers_and_never_sees_a_partial_batch(tmp_path) -> None:
    path = str(tmp_path / "shared.log")
    Store.open(path, "a").close()
    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_writer, args=(path, f"w{i}")) for i in range(2)]
    for w in writers:
        w.start()
    seen: dict[tuple[str, int], list[np.ndarray]] = {}
    with Store.open(path) as reader:
        cursor = None
        reads = 0
        while True:
            done = all(not w.is_alive() for w in writers)
            res = reader.read(since=cursor)
            cursor = res.cursor
            reads += 1
            for (scope, _name), table in res.tables.items():
                index = table.column("index").to_numpy()
                x = table.column("x").to_numpy()
                for i in (0, 1):
                    part = x[index == i]
                    assert part.size % BATCH == 0, "a partial batch became visible"
                    seen.setdefault((scope, i), []).append(part)
            if done:
                break
    for w in writers:
        w.join(timeout=60)
        assert w.exitcode == 0
    for scope in ("w0", "w1"):
        for i in (0, 1):
            x = np.concatenate(seen[(scope, i)])
            assert np.array_equal(x, np.arange(BATCH * BATCHES)), (scope, i)
    assert reads > 1
