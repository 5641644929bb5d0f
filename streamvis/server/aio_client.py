"""Asynchronous client of the data server, for code that runs in an event loop (the web app).

Same calls and errors as ``DataClient``; message building and decoding are shared
through ``wire``. Create it inside the loop that will use it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
import pyarrow as pa

from streamvis.errors import UnavailableError
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server import messages as msgs
from streamvis.server import wire
from streamvis.server.client import (
    Retry,
    Update,
    call_metadata,
    open_channel,
    read_range_request,
    resolve_tls_ca,
    rpc_error,
    stub_call_name,
)
from streamvis.server.reach import unavailable_message
from streamvis.storage.format.model import AppendResult, GroupInfo, Item, ReadResult

__all__ = ["AsyncDataClient"]


class AsyncDataClient:
    """A grpc.aio connection to a data server at ``uri`` ("host:port")."""

    def __init__(
        self,
        uri: str,
        token: str | None = None,
        *,
        tls_ca: str | None = None,
        timeout: float | None = 30.0,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.uri = uri
        self.timeout = timeout
        self.limit = max_message_bytes
        self._metadata = call_metadata(token)
        self.tls = resolve_tls_ca(tls_ca) is not None
        self._channel = open_channel(uri, tls_ca=tls_ca, max_message_bytes=self.limit, aio=True)
        self._stub = spb_grpc.DataServiceStub(self._channel)

    async def _unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.uri, self.tls, stub_call_name(method)) from None

    async def _stream(
        self, method: Any, request: Any, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        call = method(request, timeout=timeout, metadata=self._metadata)
        try:
            async for reply in call:
                yield reply
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.uri, self.tls, stub_call_name(method)) from None
        finally:
            call.cancel()

    async def _listing(self, method: Any, request: Any) -> list[Any]:
        """Every reply of a listing stream (bounded by ``timeout``)."""
        return [r async for r in self._stream(method, request, self.timeout)]

    async def append(
        self, items: Sequence[Item], *, writer_id: bytes | None = None, seq: int | None = None
    ) -> AppendResult:
        """Store ``items`` as one atomic batch (a retried (writer_id, seq) is stored once)."""
        requests = list(wire.append_requests(items, writer_id or b"", seq, self.limit))
        if len(requests) == 1:
            reply = await self._unary(self._stub.AppendBatch, requests[0])
        else:
            reply = await self._unary(self._stub.Append, iter(requests))
        return AppendResult(duplicate=reply.duplicate, cursor=reply.cursor)

    async def schemas(self, scope: str) -> dict[str, dict[str, np.dtype]]:
        replies = await self._listing(self._stub.Schemas, spb.SchemasRequest(scope=scope))
        return msgs.schemas_from_proto(replies)

    async def write_config(self, scope: str, config: Mapping[str, Any]) -> None:
        await self._unary(self._stub.WriteConfig, msgs.config_to_proto(scope, config))

    async def delete(self, scope: str, name: str | None = None) -> None:
        await self._unary(self._stub.Delete, dpb.Delete(scope=scope, name=name or ""))

    async def scopes(self) -> list[str]:
        replies = await self._listing(self._stub.Scopes, spb.ScopesRequest())
        return [s for r in replies for s in r.scopes]

    async def names(self, scope: str) -> list[str]:
        replies = await self._listing(self._stub.Names, spb.NamesRequest(scope=scope))
        return [n for r in replies for n in r.names]

    async def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        req = spb.ConfigsRequest(scope_pattern=scope_pattern) if scope_pattern else None
        replies = await self._listing(self._stub.Configs, req or spb.ConfigsRequest())
        return msgs.configs_from_proto(replies)

    async def cursor(self) -> str:
        return str((await self._unary(self._stub.Cursor, spb.CursorRequest())).cursor)

    async def groups(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> list[GroupInfo]:
        req = spb.GroupsRequest()
        if scope_pattern is not None:
            req.scope_pattern = scope_pattern
        if name_pattern is not None:
            req.name_pattern = name_pattern
        out: list[GroupInfo] = []
        async for reply in self._stream(self._stub.Groups, req, self.timeout):
            out.extend(msgs.group_from_proto(g) for g in reply.groups)
        return out

    async def fetch(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
    ) -> ReadResult:
        req = msgs.fetch_request(scope, name, scope_pattern, name_pattern, since)
        assembler = wire.TableAssembler()
        async for reply in self._stream(self._stub.Fetch, req):
            result = assembler.add(reply)
            if result is not None:
                return result
        raise UnavailableError(f"data server at {self.uri} ended a fetch early")

    async def read_range(
        self,
        scope: str,
        name: str,
        index: int,
        x_min: float | None = None,
        x_max: float | None = None,
        max_points: int | None = None,
    ) -> pa.Table:
        req = read_range_request(scope, name, index, x_min, x_max, max_points)
        replies = [r async for r in self._stream(self._stub.ReadRange, req, self.timeout)]
        return wire.table_from_chunks(replies)

    async def subscribe(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
        reconnect_timeout: float | None = None,
    ) -> AsyncIterator[Update]:
        """Batches as they are appended (see ``DataClient.subscribe``)."""
        cursor = since
        retry = Retry(reconnect_timeout)
        while True:
            req = msgs.fetch_request(scope, name, scope_pattern, name_pattern, cursor)
            assembler = wire.TableAssembler()
            try:
                async for reply in self._stream(self._stub.Subscribe, req):
                    result = assembler.add(reply)
                    if result is not None:
                        cursor = result.cursor
                        retry.succeeded()
                        yield Update(result.tables, result.cursor, result.deleted, assembler.reset)
                        assembler.reset = False
                return
            except UnavailableError as exc:
                pause = retry.failed(exc)  # raises exc when out of time
                await self.wait_ready(retry.left())
                await asyncio.sleep(pause)

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the server answers (UnavailableError after ``timeout`` s)."""
        try:
            limit = None if math.isinf(timeout) else timeout
            await asyncio.wait_for(self._channel.channel_ready(), limit)
        except asyncio.TimeoutError:
            raise UnavailableError(unavailable_message(self.uri)) from None

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncDataClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

