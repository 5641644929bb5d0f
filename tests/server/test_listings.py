"""Listings of any number of runs through a real data server (issue 20, finding 7).

Regression: 3 MB of scopes made ``Scopes`` fail with RESOURCE_EXHAUSTED (one reply over
the message size) and the index page said "cannot list runs". Every listing now streams
its entries in replies under the limit; a client of another version gets one line
naming both sides' data protocol instead of a hang or a raw status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from streamvis.errors import InvalidArgumentError, VersionMismatchError
from streamvis.proto import service_pb2 as spb
from streamvis.server import wire
from streamvis.server.aio_client import AsyncDataClient
from streamvis.server.client import DataClient
from streamvis.server.status import ERROR_CODE_KEY
from streamvis.storage import ConfigUpdate, Points, RangeRequest, Store

RUNS = 3_000
LONG = 1_000  # bytes per scope, name and column: 3,000 of them are over 3 MB


def _scope(i: int) -> str:
    return f"run-{i:05d}-".ljust(LONG, "s")


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """3,000 scopes of 1,000 bytes with a config each; one scope with 3,000 names of
    1,000 bytes; one name with 300 columns of 1,000 bytes."""
    path = str(tmp_path_factory.mktemp("listings") / "log.svl")
    one = np.arange(1.0)
    items: list[Any] = []
    for i in range(RUNS):
        items.append(Points(_scope(i), "loss", 0, {"x": one, "y": one}))
        items.append(ConfigUpdate(_scope(i), {"lr": i, "note": "n" * 200}))
    for i in range(RUNS):
        items.append(Points("many-names", f"name-{i:05d}-".ljust(LONG, "n"), 0, {"y": one}))
    wide = {f"col-{i:04d}-".ljust(LONG, "c"): one for i in range(300)}
    items.append(Points("wide", "cols", 0, wide))
    with Store.open(path, mode="a") as store:
        store.append(items)
    return path


def test_every_listing_of_3mb_comes_through(start_server: Any, big_log: str) -> None:
    srv = start_server(big_log, "--max-message-bytes", str(1 << 20))
    with Store.open(big_log, mode="r") as store:
        scopes = store.scopes()
        names = store.names("many-names")
        configs = store.configs()
        schemas = store.schemas("wide")
        groups = store.snapshot().groups
    assert sum(len(s) for s in scopes) > 3_000_000
    with DataClient(srv.uri) as client:
        assert client.scopes() == scopes
        assert client.names("many-names") == names
        assert client.configs() == configs
        assert client.schemas("wide") == schemas
        assert client.groups() == groups
        assert client.configs(scope_pattern="^run-0000") == {
            s: c for s, c in configs.items() if s.startswith("run-0000")
        }

    async def aio() -> tuple[list[str], dict[str, Any], list[str]]:
        async with AsyncDataClient(srv.uri) as client:
            return await client.scopes(), await client.configs(), await client.names("many-names")

    assert asyncio.run(aio()) == (scopes, configs, names)


def _old_client_call(uri: str, call: str, request: Any, reply: Any) -> Any:
    """A call as an older client makes it: unary, without the protocol header."""
    with grpc.insecure_channel(uri, options=wire.channel_options(64 << 20)) as channel:
        fn = channel.unary_unary(
            f"/streamvis.DataService/{call}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=reply.FromString,
        )
        return fn(request, timeout=30)


def test_an_older_client_gets_small_listings_and_one_line_for_large(
    start_server: Any, big_log: str
) -> None:
    srv = start_server(big_log, "--max-message-bytes", str(1 << 20))
    small = _old_client_call(srv.uri, "Names", spb.NamesRequest(scope="wide"), spb.NamesReply)
    assert list(small.names) == ["cols"]
    schemas = _old_client_call(
        srv.uri, "Schemas", spb.SchemasRequest(scope="wide"), spb.SchemasReply
    )
    assert len(schemas.schemas[0].columns) == 300
    with pytest.raises(grpc.RpcError) as info:
        _old_client_call(srv.uri, "Scopes", spb.ScopesRequest(), spb.ScopesReply)
    exc = info.value
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc
    details = exc.details() or ""
    assert "protocol 2" in details and "protocol 1" in details and "upgrade" in details
    assert "\n" not in details and "Error" not in details
    assert dict(exc.trailing_metadata())[ERROR_CODE_KEY] == "version_mismatch"


@pytest.fixture
def older_server() -> Iterator[str]:
    """A data server of protocol 1 as far as the listings go: ``Scopes`` answers in one
    message (over its 1 MiB limit here), and ``ReadRanges`` does not exist yet."""
    scopes = [_scope(i) for i in range(RUNS)]

    def scopes_call(request: bytes, context: Any) -> spb.ScopesReply:
        return spb.ScopesReply(scopes=scopes)

    handler = grpc.method_handlers_generic_handler(
        "streamvis.DataService",
        {
            "Scopes": grpc.unary_unary_rpc_method_handler(
                scopes_call, spb.ScopesRequest.FromString, spb.ScopesReply.SerializeToString
            )
        },
    )
    server = grpc.server(
        ThreadPoolExecutor(max_workers=2), options=wire.server_options(1 << 20)
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_a_client_of_an_older_server_says_so(older_server: str) -> None:
    with DataClient(older_server) as client:
        with pytest.raises(VersionMismatchError) as info:
            client.scopes()
        text = str(info.value)
        assert "older streamvis" in text and "protocol 2" in text and "Scopes" in text, text
        assert older_server in text and "\n" not in text
        with pytest.raises(VersionMismatchError, match="older streamvis.*it has no ReadRanges call"):
            client.read_ranges([RangeRequest("s", "y", 0)])


def test_an_entry_larger_than_a_message_is_named(start_server: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "big-config.svl")
    with Store.open(path, mode="a") as store:
        store.append([ConfigUpdate("fat", {"blob": "b" * 100_000}), ConfigUpdate("thin", {"a": 1})])
    srv = start_server(path, "--max-message-bytes", "65536")
    with DataClient(srv.uri) as client:
        with pytest.raises(InvalidArgumentError) as info:
            client.configs()
        text = str(info.value)
        assert "config of scope 'fat'" in text and "65,536" in text, text
        assert client.configs(scope_pattern="^thin$") == {"thin": {"a": 1}}
        assert json.dumps(client.scopes()) == '["fat", "thin"]'
