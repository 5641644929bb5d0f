"""The data server's one gate: every call but the health service's passes here.

``ServiceGuard`` is a grpc.aio server interceptor, installed where the server is
built, so a new RPC gets all of this without a line of its own:

- the token (when the server has one) is checked before the request is even parsed,
  in constant time; a call without it is answered UNAUTHENTICATED and nothing else;
- a request that is not valid protobuf (or holds a string that is not UTF-8) is
  answered INVALID_ARGUMENT naming the call and its message type;
- what a handler raises becomes a status code, in this one place: a
  ``StreamvisError`` by its code (``status.status_for``), a ``RecursionError``
  INVALID_ARGUMENT (a request nested too deeply), anything else INTERNAL with one line
  (the traceback goes to the server's log, never to the client).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from streamvis.errors import InvalidArgumentError, StreamvisError, UnauthenticatedError
from streamvis.server.status import status_for, trailing_metadata

__all__ = ["ServiceGuard", "EXEMPT_PREFIXES"]

log = logging.getLogger("streamvis.server")

# services that answer without the token: health checks (load balancers, our own
# readiness waits) and reflection, should a server ever add it
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class _Undecodable:
    """Stands in for a request whose bytes did not parse (raised in the handler's place)."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgumentError) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any] | None, call: str) -> Callable[[bytes], Any]:
    """``deserializer``, returning an ``_Undecodable`` instead of raising: gRPC would
    answer a raising deserializer with UNKNOWN and the exception's class."""
    owner = getattr(deserializer, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    type_name = getattr(descriptor, "full_name", "request")

    def parse(data: bytes) -> Any:
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except (DecodeError, ValueError):
            return _Undecodable(
                InvalidArgumentError(
                    f"the {call} request is not a valid {type_name} message ({len(data)} bytes: "
                    "corrupt protobuf, or a string field that is not UTF-8)"
                )
            )

    return parse


def _skip(data: bytes) -> None:
    """The deserializer of a refused call: its bytes are never parsed."""
    return None


class ServiceGuard(grpc.aio.ServerInterceptor):
    """Token check, request decoding and error translation for every guarded call."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    def refusal(self, metadata: Any) -> str | None:
        """Why a call with ``metadata`` is refused (None: it may proceed)."""
        if self._token is None:
            return None
        sent = False
        for item in metadata or ():
            key, value = (item.key, item.value) if hasattr(item, "key") else item
            if key != "authorization":
                continue
            sent = True
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            given = value.removeprefix("Bearer ").strip().encode("utf-8", "replace")
            if hmac.compare_digest(given, self._token):
                return None
        what = "the token sent is wrong" if sent else "no token was sent"
        return (
            f"the data server requires a token and {what} "
            "(give token= / --token, or set STREAMVIS_TOKEN)"
        )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(EXEMPT_PREFIXES):
            return handler
        call = method.rsplit("/", 1)[-1]
        refusal = self.refusal(handler_call_details.invocation_metadata)
        return _guarded(handler, call, refusal)


def _guarded(handler: grpc.RpcMethodHandler, call: str, refusal: str | None) -> Any:
    """``handler`` with the same shape and serializers, its behaviour wrapped."""
    parse = _skip if refusal else _tolerant(handler.request_deserializer, call)
    out = handler.response_serializer

    async def admit(request: Any, context: grpc.aio.ServicerContext) -> None:
        if refusal is not None:
            exc = UnauthenticatedError(refusal)
            await context.abort(status_for(exc), str(exc), trailing_metadata(exc))
        if isinstance(request, _Undecodable):
            await _fail(context, call, request.error)

    if not handler.request_streaming and not handler.response_streaming:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await admit(request, context)
            try:
                return await inner_uu(request, context)
            except Exception as exc:  # noqa: BLE001 - every error leaves as a status
                await _fail(context, call, exc)

        return grpc.unary_unary_rpc_method_handler(unary_unary, parse, out)

    if not handler.request_streaming:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await admit(request, context)
            try:
                async for msg in inner_us(request, context):
                    yield msg
            except Exception as exc:  # noqa: BLE001
                await _fail(context, call, exc)

        return grpc.unary_stream_rpc_method_handler(unary_stream, parse, out)

    if not handler.response_streaming:
        inner_su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            await admit(None, context)
            try:
                return await inner_su(_decoded(requests), context)
            except Exception as exc:  # noqa: BLE001
                await _fail(context, call, exc)

        return grpc.stream_unary_rpc_method_handler(stream_unary, parse, out)

    inner_ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
        await admit(None, context)
        try:
            async for msg in inner_ss(_decoded(requests), context):
                yield msg
        except Exception as exc:  # noqa: BLE001
            await _fail(context, call, exc)

    return grpc.stream_stream_rpc_method_handler(stream_stream, parse, out)


async def _decoded(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream that raises where a message did not parse."""
    async for req in requests:
        if isinstance(req, _Undecodable):
            raise req.error
        yield req


async def _fail(context: grpc.aio.ServicerContext, call: str, exc: BaseException) -> None:
    """End the call with the status ``exc`` stands for (always raises)."""
    if isinstance(exc, asyncio.CancelledError | grpc.aio.AbortError):
        raise exc
    if isinstance(exc, RecursionError):
        exc = InvalidArgumentError(f"the {call} request is nested too deeply to read")
    elif not isinstance(exc, StreamvisError):
        log.error("internal error in a data server %s call", call, exc_info=exc)
        exc = StreamvisError(
            f"internal error in the data server's {call} call (its log has the details)"
        )
    await context.abort(status_for(exc), str(exc), trailing_metadata(exc))
