"""The Listing rule under random interleavings: no follower misses or repeats a point.

Writers with clocks up to 30 s apart append to one prefix (``memory://``); an upload is
"in flight" while a random run of other operations happens inside it (other writers'
appends, with their own uploads in flight, and followers' polls: the fault-injecting
filesystem's hook). The rule's bounds are drawn small, so that every way a segment can
be late happens often: a lookback of 1 ms or a minute, a ``relist_depth`` of 1 to 3.
Each follower must read every writer's points exactly once, in that writer's order.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.storage import Points, Store
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.objects.segments import SegmentLog
from tests.storage.faulty_fs import FaultyFS

pytestmark = pytest.mark.timeout(300)
SECOND = 10**9


class World:
    """Writers, followers and what each follower has read, on one memory prefix."""

    def __init__(self, rng: random.Random, writers: int, followers: int, bounds: dict[str, Any]) -> None:
        self.rng = rng
        self.fs = fsspec.filesystem("memory", skip_instance_cache=True)
        self.url = f"memory://rule-{uuid.uuid4().hex}/runs.log"
        self.writers = []
        for _ in range(writers):
            skew = rng.randint(-30, 30) * SECOND
            self.writers.append(self._store("a", bounds, clock=lambda skew=skew: time.time_ns() + skew))
        self.followers = [self._store("r", bounds)[0] for _ in range(followers)]
        self.cursors = [f.cursor() for f in self.followers]
        self.seen: list[dict[str, list[int]]] = [{} for _ in self.followers]
        self.written = [0] * writers  # points each writer appended
        self.in_flight: set[int] = set()

    def _store(self, mode: str, bounds: dict[str, Any], **kw: Any) -> tuple[Store, FaultyFS]:
        faulty = FaultyFS(self.fs)
        backend = SegmentLog(self.url, fs=faulty, **bounds, **kw)  # type: ignore[arg-type]
        backend.auto_compact_at = None
        if not backend.exists():
            backend.create(encode_frame(header_payload(os.urandom(16), 1)))
        return Store(backend, mode), faulty  # type: ignore[arg-type]

    def poll(self, k: int) -> None:
        res = self.followers[k].read(since=self.cursors[k])
        self.cursors[k] = res.cursor
        for (scope, _), table in res.tables.items():
            self.seen[k].setdefault(scope, []).extend(table.column("x").to_pylist())

    def append(self, w: int, depth: int) -> None:
        store, faulty = self.writers[w]
        if depth < 3 and self.rng.random() < 0.5:  # this upload is slow: others go on meanwhile
            faulty.before_create = lambda path, data: self.meanwhile(depth + 1)
        self.in_flight.add(w)
        x = np.arange(self.written[w], self.written[w] + 3, dtype=np.int64)
        self.written[w] += 3
        try:
            store.append([Points(f"w{w}", "loss", 0, {"x": x, "y": x.astype(np.float32)})])
        finally:
            self.in_flight.discard(w)
            faulty.before_create = None

    def meanwhile(self, depth: int) -> None:
        for _ in range(self.rng.randint(1, 8)):
            self.step(depth)

    def step(self, depth: int = 0) -> None:
        idle = [w for w in range(len(self.writers)) if w not in self.in_flight]
        if idle and self.rng.random() < 0.6:
            self.append(self.rng.choice(idle), depth)
        else:
            self.poll(self.rng.randrange(len(self.followers)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), writers=st.integers(2, 5),
       lookback_ns=st.sampled_from([10**6, 60 * SECOND]), relist_depth=st.integers(1, 3))
def test_followers_read_every_point_once_whatever_the_interleaving(
        seed: int, writers: int, lookback_ns: int, relist_depth: int) -> None:
    world = World(random.Random(seed), writers, 2, {"lookback_ns": lookback_ns, "relist_depth": relist_depth})
    for _ in range(40):
        world.step()
    for k in range(len(world.followers)):
        world.poll(k)
        for w, n in enumerate(world.written):
            assert world.seen[k].get(f"w{w}", []) == list(range(n)), (k, w, world.seen[k].get(f"w{w}"))
    for store, _ in world.writers:
        store.close()
    for f in world.followers:
        f.close()
