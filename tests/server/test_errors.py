"""Bad requests get the right status codes; the client maps them back to the same
error types; an unreachable server, a busy port and a missing token fail clearly."""

from __future__ import annotations

import subprocess
import sys

import grpc
import numpy as np
import pytest

from streamvis import errors as E
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server.client import DataClient, GrpcSource
from streamvis.server.status import ERROR_CODE_KEY, error_from_rpc, status_for
from streamvis.storage import Points, Store
from tests.server.conftest import ROOT, free_port


def _raw_error(uri: str, call: str, request: object) -> grpc.RpcError:
    with grpc.insecure_channel(uri) as channel:
        stub = spb_grpc.DataServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            result = getattr(stub, call)(request, timeout=10)
            if not isinstance(result, spb.ScopesReply | spb.NamesReply):
                list(result)
        return info.value


def _metadata_code(exc: grpc.RpcError) -> str:
    return dict(exc.trailing_metadata())[ERROR_CODE_KEY]


def test_status_codes_on_the_wire(shared_server) -> None:
    uri = shared_server.uri
    with DataClient(uri) as client:
        client.append([Points("err", "y", 0, {"y": np.arange(3.0)})])
    bad_regex = _raw_error(uri, "Fetch", spb.FetchRequest(scope_pattern="(unclosed"))
    assert bad_regex.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "scope_pattern" in bad_regex.details()
    unknown = _raw_error(uri, "Names", spb.NamesRequest(scope="no-such-scope"))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-scope" in unknown.details() and _metadata_code(unknown) == "not_found"
    bad_index = _raw_error(uri, "ReadRange", spb.ReadRangeRequest(scope="err", name="y", index=9))
    assert bad_index.code() == grpc.StatusCode.NOT_FOUND
    bad_cursor = _raw_error(uri, "Fetch", spb.FetchRequest(since="garbage"))
    assert bad_cursor.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_client_raises_the_same_error_types(shared_server) -> None:
    with DataClient(shared_server.uri) as client:
        client.append([Points("types", "y", 0, {"y": np.arange(3.0)})])
        with pytest.raises(E.InvalidArgumentError, match="regular expression"):
            client.fetch(name_pattern="[")
        with pytest.raises(E.NotFoundError):
            client.names("missing")
        with pytest.raises(E.SchemaMismatchError):
            client.append([Points("types", "y", 0, {"y": np.arange(3, dtype=np.int32)})])
        with pytest.raises(E.ReservedNameError):
            client.append([Points("types", "z", 0, {"index": np.arange(3.0)})])
        with pytest.raises(E.InvalidArgumentError):
            client.read_range("types", "y", 0, max_points=1)
        with pytest.raises(E.InvalidArgumentError):  # refused by the client, nothing sent
            client.write_config("types", {"f": object()})
        assert client.fetch("types").num_points == 3  # the refused batches wrote nothing


def test_mapping_is_one_table_both_ways() -> None:
    """Every error class survives server -> status -> client unchanged."""
    classes = [E.StreamvisError, E.InvalidArgumentError, E.SchemaMismatchError,
               E.ReservedNameError, E.NotFoundError, E.LogNotFoundError, E.CorruptDataError,
               E.CursorResetError, E.StorageIOError, E.ConflictError, E.UnavailableError,
               E.UnauthenticatedError]

    class FakeRpcError(grpc.RpcError):
        def __init__(self, exc: E.StreamvisError, with_metadata: bool) -> None:
            self.exc, self.with_metadata = exc, with_metadata

        def code(self) -> grpc.StatusCode:
            return status_for(self.exc)

        def details(self) -> str:
            return str(self.exc)

        def trailing_metadata(self) -> tuple:
            return ((ERROR_CODE_KEY, self.exc.code),) if self.with_metadata else ()

    for cls in classes:
        back = error_from_rpc(FakeRpcError(cls("boom"), True))
        assert type(back) is cls and "boom" in str(back)
        # without the metadata, the status code alone picks the nearest base class
        assert isinstance(cls("x"), type(error_from_rpc(FakeRpcError(cls("x"), False))))


def test_unreachable_server_raises_unavailable() -> None:
    port = free_port()
    with DataClient(f"127.0.0.1:{port}", timeout=5) as client:
        with pytest.raises(E.UnavailableError, match=f"127.0.0.1:{port}"):
            client.append([Points("s", "y", 0, {"y": np.ones(2)})], writer_id=b"w", seq=1)
        with pytest.raises(ConnectionError):  # still a built-in, too
            client.scopes()


def test_second_server_on_the_same_port_fails_clearly(shared_server, tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamvis.grpc_server", str(tmp_path / "other.svl"),
         str(shared_server.port)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert shared_server.proc.poll() is None  # the first one still serves
    with GrpcSource(shared_server.uri) as src:
        src.scopes()


def test_token_is_required_when_configured(start_server) -> None:
    srv = start_server(None, "--token", "s3cret")
    with DataClient(srv.uri) as anonymous:
        with pytest.raises(E.UnauthenticatedError):
            anonymous.scopes()
    with DataClient(srv.uri, token="wrong") as wrong:
        with pytest.raises(PermissionError):
            wrong.append([Points("s", "y", 0, {"y": np.ones(2)})])
    with DataClient(srv.uri, token="s3cret") as client:
        client.append([Points("s", "y", 0, {"y": np.ones(2)})])
        assert client.scopes() == ["s"]


def test_sigterm_shuts_down_cleanly(start_server) -> None:
    srv = start_server()
    with DataClient(srv.uri) as client:
        client.append([Points("s", "y", 0, {"y": np.arange(4.0)})])
        updates = client.subscribe("s")
        next(updates)
        code, out, err = srv.terminate()
        with pytest.raises(E.UnavailableError):
            next(updates)  # the subscription ends with UNAVAILABLE: reconnect later
    assert code == 0, err
    assert f"serving {srv.path} on 127.0.0.1:{srv.port}" in out
    assert out.strip().endswith("stopped") and "Traceback" not in err
    with Store.open(srv.path, "r") as store:
        assert store.read("s").num_points == 4


def test_the_guard_answers_unexpected_errors_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """What no handler expected (a bug) leaves as INTERNAL with one line naming the call,
    no class name or traceback; the traceback goes to the server's log. A RecursionError
    (a request nested too deeply) is INVALID_ARGUMENT. Handlers of every shape, behind
    the same interceptor the data server installs, on a real grpc.aio server."""
    import asyncio
    import logging

    from streamvis.server.guard import ServiceGuard

    async def boom(request: bytes, context: object) -> bytes:
        raise KeyError("a bug")

    async def boom_stream(request: bytes, context: object):  # type: ignore[no-untyped-def]
        yield b"first"
        raise ZeroDivisionError("another bug")

    async def deep(request: bytes, context: object) -> bytes:
        raise RecursionError("maximum recursion depth exceeded")

    async def main() -> list[tuple[grpc.StatusCode, str, int]]:
        server = grpc.aio.server(interceptors=[ServiceGuard(None)])
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", {
            "Boom": grpc.unary_unary_rpc_method_handler(boom),
            "BoomStream": grpc.unary_stream_rpc_method_handler(boom_stream),
            "Deep": grpc.unary_unary_rpc_method_handler(deep),
        }),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        out = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                for name, streaming in (("Boom", False), ("BoomStream", True), ("Deep", False)):
                    got = 0
                    try:
                        if streaming:
                            async for _ in channel.unary_stream(f"/t.T/{name}")(b"", timeout=10):
                                got += 1
                        else:
                            await channel.unary_unary(f"/t.T/{name}")(b"", timeout=10)
                    except grpc.aio.AioRpcError as exc:
                        out.append((exc.code(), exc.details() or "", got))
        finally:
            await server.stop(None)
        return out

    with caplog.at_level(logging.ERROR, logger="streamvis.server"):
        (c1, d1, _), (c2, d2, got2), (c3, d3, _) = asyncio.run(main())
    assert c1 == c2 == grpc.StatusCode.INTERNAL, (c1, c2)
    assert d1 == "internal error in the data server's Boom call (its log has the details)"
    assert "BoomStream" in d2 and got2 == 1
    for details in (d1, d2, d3):
        assert "Error" not in details and "bug" not in details and "\n" not in details, details
    assert c3 == grpc.StatusCode.INVALID_ARGUMENT and "nested too deeply" in d3
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "KeyError" in logged and "ZeroDivisionError" in logged
