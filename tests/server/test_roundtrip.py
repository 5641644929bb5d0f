"""Round trips through a real server process equal the local export."""

from __future__ import annotations

import numpy as np
import pytest

from streamvis import script
from streamvis.errors import NotFoundError
from streamvis.server.client import DataClient, GrpcSource
from streamvis.storage import ConfigUpdate, Points, Store


def _log_some(client: DataClient, scope: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    client.write_config(scope, {"lr": 0.01, "layers": [2, 3], "name": scope})
    for step in range(5):
        items = [
            Points(scope, "loss", 0, {"x": np.arange(step * 10, step * 10 + 10), "y": rng.random(10)}),
            Points(scope, "loss", 1, {"x": np.arange(3), "y": rng.random(3)}),
            Points(scope, "acc", 0, {"t": rng.random(4), "v": rng.integers(0, 9, 4).astype(np.int32)}),
        ]
        client.append(items, writer_id=b"writer-" + scope.encode(), seq=step)


def _assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key, cols in want.items():
        assert list(got[key]) == list(cols)
        for c, a in cols.items():
            np.testing.assert_array_equal(got[key][c], a)
            assert got[key][c].dtype == a.dtype


def test_round_trip_equals_local_export(start_server) -> None:
    srv = start_server()
    with DataClient(srv.uri) as client:
        _log_some(client, "run-a", 1)
        _log_some(client, "run-b", 2)
        client.append([Points("run-a", "loss", 0, {"x": np.arange(3), "y": np.ones(3)})])
        client.delete("run-b", "acc")
    uri = srv.uri

    remote_all = script.gfetch_sync(uri=uri)
    remote_scope = script.gfetch_sync(uri, "run-a")
    remote_name = script.gfetch_sync(uri, "run-a", "loss")
    remote_pattern = script.gfetch_pattern(uri, scope_pattern="run-[ab]", name_pattern="^acc$")
    remote_arrow = script.gfetch_arrow(uri, name_pattern="loss")
    assert script.gscopes(uri=uri) == ["run-a", "run-b"]
    assert script.gnames(uri=uri, scope="run-a") == ["loss", "acc"]
    remote_configs = script.gconfigs(uri)

    with GrpcSource(uri) as src:
        groups = src.groups()
        ranges = [src.read_range(g.scope, g.name, g.index, 5, 30, max_points=8) for g in groups]
        schemas = src.schemas("run-a")

    # the same log, read in this process while the server still runs
    path = srv.path
    _assert_same(remote_all, script.export(path))
    _assert_same(remote_scope, script.export(path, "run-a"))
    _assert_same(remote_name, script.export(path, "run-a", "loss"))
    _assert_same(remote_pattern, script.export(path, scope_pattern="run-[ab]", name_pattern="^acc$"))
    assert ("run-b", "acc", 0) not in remote_all
    local_arrow = script.export_arrow(path, name_pattern="loss")
    assert list(remote_arrow) == list(local_arrow)
    for key, table in local_arrow.items():
        assert remote_arrow[key].equals(table)
    assert remote_configs == script.configs(path)
    with Store.open(path, "r") as store:
        assert groups == store.groups()
        assert schemas == store.schemas("run-a")
        for g, got in zip(groups, ranges, strict=True):
            assert got.equals(store.read_range(g.scope, g.name, g.index, 5, 30, max_points=8))
    with pytest.raises(NotFoundError):
        script.gnames(uri=uri, scope="run-zzz")


def test_retried_batch_is_stored_once(shared_server) -> None:
    with DataClient(shared_server.uri) as client:
        batch = [Points("retry", "y", 0, {"y": np.arange(5.0)}), ConfigUpdate("retry", {"a": 1})]
        first = client.append(batch, writer_id=b"w", seq=7)
        again = client.append(batch, writer_id=b"w", seq=7)
        older = client.append(batch, writer_id=b"w", seq=6)
        assert (first.duplicate, again.duplicate, older.duplicate) == (False, True, True)
        result = client.fetch("retry")
    assert result.num_points == 5


def test_async_client_matches_sync(shared_server) -> None:
    import asyncio

    from streamvis.server.aio_client import AsyncDataClient

    with DataClient(shared_server.uri) as client:
        _log_some(client, "async-run", 3)
        want = client.fetch("async-run")

    async def main() -> None:
        async with AsyncDataClient(shared_server.uri) as aclient:
            assert "async-run" in await aclient.scopes()
            assert await aclient.names("async-run") == ["loss", "acc"]
            got = await aclient.fetch("async-run")
            assert list(got.tables) == list(want.tables)
            for key, table in want.tables.items():
                assert got.tables[key].equals(table)
            with pytest.raises(NotFoundError):
                await aclient.names("nope")
            groups = await aclient.groups(scope_pattern="^async-run$")
            assert [(g.name, g.index) for g in groups] == [("loss", 0), ("loss", 1), ("acc", 0)]
            window = await aclient.read_range("async-run", "loss", 0, 10, 30, max_points=8)
            with DataClient(shared_server.uri) as sync_client:
                assert window.equals(sync_client.read_range("async-run", "loss", 0, 10, 30, 8))
            assert (await aclient.schemas("async-run"))["acc"] == {"t": np.float64, "v": np.int32}
            assert (await aclient.configs("^async-run$"))["async-run"]["lr"] == 0.01
            updates = aclient.subscribe("async-run", since=want.cursor)
            await aclient.append([Points("async-run", "loss", 5, {"x": np.arange(2), "y": np.ones(2)})])
            update = await anext(updates)
            assert update.num_points == 2
            await updates.aclose()

    asyncio.run(main())
