"""Online compaction of object-store logs (issue 12): nothing lost, nothing twice, and
followers' cursors carry over (compaction moves batches, never changes them).

Races the emulators cannot time go through ``FaultyFS`` hooks: two compactions at
once, a writer and a follower racing the switch, a reader in the middle of it, and a
crash between publishing the new generation and deleting the old objects.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest
from click.testing import CliRunner

from streamvis.errors import CursorResetError
from streamvis.storage import Points, Store
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.records import header_payload
from streamvis.storage.objects import compact as object_compact
from streamvis.storage.objects.compact import compact_store
from streamvis.storage.objects.segments import SegmentLog
from tests.storage.faulty_fs import FaultyFS

pytestmark = pytest.mark.timeout(120)
MS = 10**6
_TICKS = itertools.count(1_700_000_000 * 10**9, 10 * MS)  # names 10 ms apart, in order


def _clock() -> int:
    return next(_TICKS)


@pytest.fixture(params=["memory", "gs", "s3"])
def log(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    if request.param == "memory":
        return f"memory://cmp-{uuid.uuid4().hex}/runs.log", {}
    emu = request.getfixturevalue("gcs_emulator" if request.param == "gs" else "s3_emulator")
    return f"{request.param}://{emu['bucket']}/{uuid.uuid4().hex}/runs.log", emu["storage_options"]


def _store(
    log, mode: str = "a", *, auto: int | None = None, lookback: int = 50 * MS
) -> tuple[Store, FaultyFS]:
    """A Store over its own FaultyFS with a clock naming segments 10 ms apart and
    listings looking back 50 ms, so compaction merges all but the newest ~5 segments."""
    url, options = log
    fs = fsspec.filesystem(url.split("://")[0], skip_instance_cache=True, **options)
    faulty = FaultyFS(fs)
    backend = SegmentLog(url, fs=faulty, lookback_ns=lookback, clock=_clock)
    backend.auto_compact_at = auto
    if not backend.exists():
        backend.create(encode_frame(header_payload(os.urandom(16), 1)))
    return Store(backend, mode), faulty  # type: ignore[arg-type]


def _pts(start: int, n: int, name: str = "loss") -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points("run", name, 0, {"x": x, "y": x.astype(np.float32)})


def _xs(res: Any, name: str = "loss") -> list[int]:
    t = res.tables.get(("run", name))
    return t.column("x").to_pylist() if t is not None else []


def _objects(log) -> list[str]:
    url, options = log
    fs = fsspec.filesystem(url.split("://")[0], skip_instance_cache=True, **options)
    root = fs._strip_protocol(url)
    return sorted(p[len(root) + 1 :] for p in fs.find(root))


class Follower:
    """A live reader: new points since its cursor; on a reset, everything again."""

    def __init__(self, store: Store) -> None:
        self.store, self.cursor, self.points = store, None, []  # type: ignore[var-annotated]
        self.resets = 0

    def poll(self) -> None:
        try:
            res = self.store.read("run", "loss", since=self.cursor)
        except CursorResetError:
            self.resets += 1
            self.points = []
            res = self.store.read("run", "loss")
        self.cursor = res.cursor
        self.points.extend(_xs(res))


def test_compaction_merges_segments_and_readers_follow(log) -> None:
    a, _ = _store(log)
    b, _ = _store(log)
    follower = Follower(_store(log, "r")[0])
    a.write_config("run", {"lr": 0.1})
    for i in range(20):
        (a if i % 2 else b).append([_pts(10 * i, 10)])
    a.append([_pts(0, 3, name="gone")])
    b.delete("run", "gone")
    follower.poll()
    before = [o for o in _objects(log) if o.startswith("segments/")]
    stats = compact_store(a)
    assert stats is not None and stats.generation == 2 and stats.segments_merged >= 10
    for i in range(20, 25):  # writers go on; the follower goes on
        (a if i % 2 else b).append([_pts(10 * i, 10)])
        follower.poll()
    assert sorted(follower.points) == list(range(250))
    assert follower.resets == 0  # its cursor carried over into the new generation
    fresh = Store.open(log[0], storage_options=log[1] or None)
    assert sorted(_xs(fresh.read())) == list(range(250))
    assert fresh.config("run") == {"lr": 0.1} and fresh.names("run") == ["loss"]
    assert fresh.generation == 2
    # a second compaction retires what the first made redundant
    assert compact_store(b) is not None
    after = [o for o in _objects(log) if o.startswith("segments/0")]
    assert len(after) <= 16 and len(set(before) & set(after)) <= 6  # gen 2's merged: gone
    follower.poll()
    with Store.open(log[0], storage_options=log[1] or None) as again:
        assert sorted(_xs(again.read())) == list(range(250))
    for s in (a, b, follower.store, fresh):
        s.close()


def test_two_compactions_at_once_publish_one_generation(log) -> None:
    a, fa = _store(log)
    b, _ = _store(log)
    for i in range(10):
        a.append([_pts(10 * i, 10)])
    b.refresh()
    results = []
    fa.before_create = lambda path, data: results.append(compact_store(b))  # b wins the race
    assert compact_store(a) is None  # a lost: its manifest create was refused
    assert results[0] is not None and results[0].generation == 2
    bases = [o for o in _objects(log) if o.startswith("bases/") and not o.endswith(".retire")]
    assert len(bases) == 1  # the loser removed its base
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert sorted(_xs(r.read())) == list(range(100)) and r.generation == 2


def test_a_writer_and_a_follower_racing_the_switch_lose_nothing(log) -> None:
    compactor, fc = _store(log)
    writer, _ = _store(log)
    follower = Follower(_store(log, "r")[0])
    for i in range(10):
        writer.append([_pts(10 * i, 10)])
    follower.poll()

    def race(path: str, data: bytes) -> None:  # just before the manifest appears
        writer.append([_pts(100, 10)])
        follower.poll()

    compactor.refresh()
    fc.before_create = race
    assert compact_store(compactor) is not None
    writer.append([_pts(110, 10)])
    follower.poll()
    follower.poll()
    assert sorted(follower.points) == list(range(120))
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert sorted(_xs(r.read())) == list(range(120))


def test_a_reader_in_the_middle_of_the_switch_reads_everything_once(log) -> None:
    writer, _ = _store(log)
    for i in range(10):
        writer.append([_pts(10 * i, 10)])
    reader, fr = _store(log, "r")
    other, _ = _store(log)

    def switch_and_retire() -> None:  # between the read's plan and its bytes
        assert compact_store(other) is not None
        other.append([_pts(100, 1)])
        assert compact_store(other) is not None  # the first generation's objects go

    fr.before_read = switch_and_retire
    reader.backend.cache = type(reader.backend.cache)(0)  # read the objects, not a cache
    assert sorted(_xs(reader.read())) == list(range(101))
    assert reader.generation == 3


def test_a_crash_between_publishing_and_retiring_loses_nothing(log, monkeypatch) -> None:
    writer, _ = _store(log)
    for i in range(10):
        writer.append([_pts(10 * i, 10)])

    def crash(backend: Any, generation: int) -> int:
        raise SystemExit("killed")

    monkeypatch.setattr(object_compact, "retire", crash)
    with pytest.raises(SystemExit):
        compact_store(writer)
    monkeypatch.undo()
    with Store.open(log[0], storage_options=log[1] or None) as r:  # old objects still there
        assert sorted(_xs(r.read())) == list(range(100)) and r.generation == 2
    redundant = writer.backend.read_json(writer.backend.manifest["retire"])
    assert redundant and all(f"segments/{n}" in _objects(log) for n in redundant)
    writer2, _ = _store(log)
    writer2.append([_pts(100, 5)])
    assert compact_store(writer2) is not None  # retires the leftovers of generation 2
    left = set(_objects(log))
    assert not [n for n in redundant if f"segments/{n}" in left]
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert sorted(_xs(r.read())) == list(range(105))


def test_writers_compact_automatically_and_followers_see_each_point_once(log) -> None:
    a, _ = _store(log, auto=12)
    b, _ = _store(log, auto=12)
    follower = Follower(_store(log, "r")[0])
    opened = stored = 0
    for i in range(60):
        w = a if i % 3 else b
        w.append([_pts(10 * i, 10)])
        assert w.backend.wait_compaction(30)  # compactions run in the background
        if i % 7 == 0:
            follower.poll()
            back = follower.store.backend
            opened = max(opened, len(back.bases) + back.live_segments())
            stored = max(stored, len(_objects(log)))
    follower.poll()
    assert sorted(follower.points) == list(range(600))
    assert follower.store.generation >= 3
    assert opened <= 35  # what a reader opens: bases and the segments above the frontier
    assert stored <= 90  # plus one generation of grace, never the 60+ segments
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert sorted(_xs(r.read())) == list(range(600))


def test_compact_command_on_object_stores(gcs_emulator, monkeypatch) -> None:
    from streamvis.storage_cli import compact_cmd

    url = f"gs://{gcs_emulator['bucket']}/{uuid.uuid4().hex}/runs.log"
    w, _ = _store((url, gcs_emulator["storage_options"]))
    for i in range(30):
        w.append([_pts(10 * i, 10)])
    w.close()
    import streamvis.storage.objects.segments as segments

    monkeypatch.setattr(segments, "LOOKBACK_NS", 50 * MS)
    result = CliRunner().invoke(compact_cmd, [url, "--grace", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "generation 2" in result.output and "objects a reader opens: 30 -> " in result.output
    with Store.open(url, storage_options=gcs_emulator["storage_options"]) as r:
        assert sorted(_xs(r.read())) == list(range(300))


def test_a_writer_that_missed_the_switch_keeps_the_new_index(log) -> None:
    from streamvis.storage.format.index_file import load_index

    stale, _ = _store(log)
    compactor, _ = _store(log)
    for i in range(10):
        stale.append([_pts(10 * i, 10)])
    assert compact_store(compactor) is not None
    stale.close()  # it never looked again: its generation-1 state must not be saved
    _, meta = load_index(compactor.backend.read_index())
    assert meta.generation == 2


def test_a_lagging_cursor_reads_what_was_merged_exactly_once(log, monkeypatch) -> None:
    """The cursor predates batches now inside bases (also after bases were merged)."""
    monkeypatch.setattr(object_compact, "MAX_BASES", 2)
    writer, _ = _store(log)
    other, _ = _store(log)
    reader, _ = _store(log, "r")
    writer.append([_pts(0, 10)])
    lagging = reader.read("run", "loss")
    seen = _xs(lagging)
    for round_ in range(4):  # four compactions: bases appended, then merged into one
        for i in range(10):  # 100 ms of names: compaction merges all but the last 50 ms
            (writer if i % 2 else other).append([_pts(10 + 50 * round_ + 5 * i, 5)])
        assert compact_store(writer) is not None
    assert len(writer.backend.bases) <= 2
    res = reader.read("run", "loss", since=lagging.cursor)
    seen += _xs(res)
    assert sorted(seen) == list(range(210)) and len(seen) == 210
    assert _xs(reader.read("run", "loss", since=res.cursor)) == []


def test_no_flush_waits_for_a_compaction(log) -> None:
    """The background compaction is held midway (reading the segments it merges) while
    the writer flushes: every flush completes meanwhile; then the compaction publishes."""
    writer, faulty = _store(log, auto=8)
    follower = Follower(_store(log, "r")[0])
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(30)

    for i in range(8):
        writer.append([_pts(10 * i, 10)])
    faulty.before_read = hold  # the compaction's first segment read (writers read nothing)
    i = 8
    while writer.backend.compaction is None:
        writer.append([_pts(10 * i, 10)])
        i += 1
    assert held.wait(30)
    for _ in range(5):  # flushes while the compaction is held
        writer.append([_pts(10 * i, 10)])
        i += 1
    assert writer.backend.compaction.is_alive() and writer.generation == 1
    release.set()
    assert writer.backend.wait_compaction(30)
    assert writer.backend.generation == 2  # the writer adopted the published generation
    for _ in range(3):
        writer.append([_pts(10 * i, 10)])
        i += 1
    follower.poll()
    assert sorted(follower.points) == list(range(10 * i))
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert r.generation == 2 and sorted(_xs(r.read())) == list(range(10 * i))


def test_a_compaction_killed_midway_leaves_nothing_to_trip_on(log, monkeypatch) -> None:
    """Killed after uploading its base, before publishing the manifest: readers and
    writers go on; the next compaction publishes and retires the orphan."""
    from streamvis.storage.objects.prefix import ObjectPrefix

    writer, _ = _store(log)
    follower = Follower(_store(log, "r")[0])
    for i in range(10):
        writer.append([_pts(10 * i, 10)])
    follower.poll()
    create = ObjectPrefix.create_object

    def killed(self: Any, key: str, data: bytes) -> bool:
        if key.startswith("~gen-"):
            raise SystemExit("killed")  # the process dies here
        return create(self, key, data)

    monkeypatch.setattr(ObjectPrefix, "create_object", killed)
    with pytest.raises(SystemExit):
        compact_store(writer)
    monkeypatch.undo()
    orphans = [o for o in _objects(log) if o.startswith("bases/")]
    assert len(orphans) == 2  # a base and its retire list, named by no manifest
    for i in range(10, 15):
        writer.append([_pts(10 * i, 10)])
    follower.poll()
    assert sorted(follower.points) == list(range(150)) and follower.resets == 0
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert r.generation == 1 and sorted(_xs(r.read())) == list(range(150))
    for _ in range(2):  # the orphans go when a generation after theirs is retired
        writer.append([_pts(150 + _, 1)])
        assert compact_store(writer) is not None
    assert not set(orphans) & set(_objects(log))
    follower.poll()
    assert sorted(follower.points) == list(range(150)) + [150, 151]


def test_writers_that_each_wrote_few_segments_count_everyones_and_compact(log) -> None:
    """Writers do not follow each other: six writers of four segments each know only
    their own, so a writer counts every writer's live segments now and then."""
    writers = [_store(log, auto=12)[0] for _ in range(6)]
    for w in writers:
        w.backend.auto_compact_at = 12  # no random share: each knows 4 < 12 of its own
        w.backend.count_every = 3
    for round_ in range(4):
        for k, w in enumerate(writers):
            w.append([_pts(1000 * k + 10 * round_, 10)])
            assert w.backend.wait_compaction(30)
    assert max(w.backend.generation or 1 for w in writers) >= 2
    with Store.open(log[0], storage_options=log[1] or None) as r:
        assert r.generation >= 2
        want = sorted(1000 * k + x for k in range(6) for x in range(40))
        assert sorted(_xs(r.read())) == want
