"""Synchronous clients of the data server.

``DataClient`` is the logger's write sink (``append``/``schemas``/``close``) and can
read too; ``GrpcSource`` is the ``DataSource`` read interface over the server (what
``streamvis.source.open_source("host:port")`` returns). Failed calls raise the same
``StreamvisError`` classes as the local store; an unreachable server raises
``UnavailableError``. Message building and decoding live in ``wire`` (shared with
the async client).

Access control lives here once for every client (sync, async, logger, CLI, web app,
script): ``open_channel`` makes the channel (TLS when given a CA, ``tls_ca=`` or
``$STREAMVIS_TLS_CA``), ``call_metadata`` what every call sends: the bearer token
(``token=`` or ``$STREAMVIS_TOKEN``) and the data protocol's version; a refused token
raises ``UnauthenticatedError``, a server of another version ``VersionMismatchError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError, UnavailableError
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.run_analysis import GroupAggregates
from streamvis.server import analysis_messages as amsgs
from streamvis.server import messages as msgs
from streamvis.server import wire
from streamvis.server.protocol import (
    LISTINGS,
    MAX_RANGES,
    PROTOCOL,
    PROTOCOL_KEY,
    older_server_error,
)
from streamvis.server.reach import unavailable_message
from streamvis.server.status import error_from_rpc
from streamvis.storage.format.media import media_from_body
from streamvis.storage.format.model import (
    AppendResult,
    GroupInfo,
    GroupSnapshot,
    Image,
    Item,
    MediaInfo,
    ReadResult,
    Text,
)
from streamvis.storage.read.ranges import RangeRequest, RangesResult, check_requests

__all__ = [
    "DataClient",
    "GrpcSource",
    "Update",
    "Retry",
    "read_range_request",
    "TOKEN_ENV",
    "TLS_CA_ENV",
    "resolve_token",
    "resolve_tls_ca",
    "auth_metadata",
    "call_metadata",
    "open_channel",
    "rpc_error",
    "stub_call_name",
]

TOKEN_ENV = "STREAMVIS_TOKEN"
TLS_CA_ENV = "STREAMVIS_TLS_CA"


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$STREAMVIS_TOKEN``; None when neither is set (or empty)."""
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    return token or None


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    """Call metadata carrying ``token`` (resolved with ``resolve_token``)."""
    token = resolve_token(token)
    return (("authorization", f"Bearer {token}"),) if token else None


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """What every call sends: the data protocol's version, and ``token`` (resolved with
    ``resolve_token``) when there is one."""
    return ((PROTOCOL_KEY, str(PROTOCOL)), *(auth_metadata(token) or ()))


def resolve_tls_ca(tls_ca: str | None) -> str | None:
    """``tls_ca``, else ``$STREAMVIS_TLS_CA``; None (plaintext) when neither is set."""
    if tls_ca is None:
        tls_ca = os.environ.get(TLS_CA_ENV)
    return tls_ca or None


def _read_ca(path: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot read the TLS CA certificate {path!r}: {exc.strerror or exc}"
        ) from None


def open_channel(
    uri: str,
    *,
    tls_ca: str | None = None,
    max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
    aio: bool = False,
) -> Any:
    """The one place channels to a data server are made (sync, or grpc.aio with ``aio``).

    With ``tls_ca`` (a PEM file of the CA that signed the server's certificate; else
    ``$STREAMVIS_TLS_CA``) the channel is TLS, otherwise plaintext.
    """
    options = wire.channel_options(max_message_bytes)
    path = resolve_tls_ca(tls_ca)
    mod: Any = grpc.aio if aio else grpc
    if path is None:
        return mod.insecure_channel(uri, options=options)
    ca = _read_ca(path)
    return mod.secure_channel(uri, grpc.ssl_channel_credentials(root_certificates=ca), options)


_TLS_MISMATCH = ("socket closed", "handshake", "ssl", "tls", "wrong_version_number")


def rpc_error(exc: grpc.RpcError, uri: str, tls: bool, call: str = "") -> Exception:
    """``error_from_rpc``, with a hint when a plaintext client likely met a TLS server
    (or a TLS client a plaintext one): gRPC only says the socket closed; and a line
    naming both versions when an older data server lacks ``call`` or sends a listing
    in one message too large."""
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else None) or ""
    if code == grpc.StatusCode.UNIMPLEMENTED and call:
        return older_server_error(uri, f"it has no {call} call")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and call in LISTINGS and "Sent" in details:
        return older_server_error(uri, f"its {call} listing did not fit one message ({details})")
    err = error_from_rpc(exc, uri)
    text = str(err).lower()
    if not isinstance(err, UnavailableError) or not any(m in text for m in _TLS_MISMATCH):
        return err
    hint = (
        "; if the server uses TLS, give its CA certificate (tls_ca= / --tls-ca / "
        "$STREAMVIS_TLS_CA)"
        if not tls
        else "; check that the server uses TLS (--tls-cert/--tls-key) with a certificate "
        "signed by this CA for this host name"
    )
    return UnavailableError(f"{err}{hint}")


@dataclass
class Update(ReadResult):
    """One subscription batch. ``reset``: drop everything held so far, then apply."""

    reset: bool = False


def read_range_request(
    scope: str,
    name: str,
    index: int,
    x_min: float | None,
    x_max: float | None,
    max_points: int | None,
) -> spb.ReadRangeRequest:
    """A ReadRangeRequest with only the given bounds set."""
    req = spb.ReadRangeRequest(scope=scope, name=name, index=int(index))
    if x_min is not None:
        req.x_min = float(x_min)
    if x_max is not None:
        req.x_max = float(x_max)
    if max_points is not None:
        req.max_points = int(max_points)
    return req


class Retry:
    """Reconnect pacing for a subscription: growing pauses (up to 1 s), and a deadline
    counted from the first failure since the last batch received."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._deadline: float | None = None
        self._pause = 0.0

    def succeeded(self) -> None:
        self._deadline, self._pause = None, 0.0

    def failed(self, exc: Exception) -> float:
        """The pause before the next attempt; raises ``exc`` when no retry is left."""
        if self.timeout is None:
            raise exc
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.timeout
        if now >= self._deadline:
            raise exc
        pause, self._pause = self._pause, min(1.0, max(0.05, self._pause * 2))
        return pause

    def left(self) -> float:
        """Seconds until the deadline (at least a millisecond)."""
        deadline = self._deadline if self._deadline is not None else time.monotonic()
        return max(0.001, deadline - time.monotonic())


class DataClient:
    """A blocking connection to a data server at ``uri`` ("host:port").

    ``timeout`` bounds every call except streams (``fetch`` of a large selection,
    ``subscribe``); ``max_message_bytes`` must not exceed the server's limit.
    """

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
        self._channel = open_channel(uri, tls_ca=tls_ca, max_message_bytes=self.limit)
        self._stub = spb_grpc.DataServiceStub(self._channel)

    def _unary(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.uri, self.tls, stub_call_name(method)) from None

    def _stream(self, method: Any, request: Any, timeout: float | None = None) -> Iterator[Any]:
        call = method(request, timeout=timeout, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.uri, self.tls, stub_call_name(method)) from None
        finally:
            call.cancel()

    def _listing(self, method: Any, request: Any) -> list[Any]:
        """Every reply of a listing stream (bounded by ``timeout``)."""
        return list(self._stream(method, request, self.timeout))

    # -- write sink -------------------------------------------------------------------------

    def append(
        self, items: Sequence[Item], *, writer_id: bytes | None = None, seq: int | None = None
    ) -> AppendResult:
        """Store ``items`` as one atomic batch (a retried (writer_id, seq) is stored once)."""
        requests = list(wire.append_requests(items, writer_id or b"", seq, self.limit))
        if len(requests) == 1:
            reply = self._unary(self._stub.AppendBatch, requests[0])
        else:
            reply = self._unary(self._stub.Append, iter(requests))
        return AppendResult(duplicate=reply.duplicate, cursor=reply.cursor)

    def schemas(self, scope: str) -> dict[str, dict[str, np.dtype]]:
        """Column dtypes of every name of ``scope`` ({} for an unknown scope)."""
        return msgs.schemas_from_proto(
            self._listing(self._stub.Schemas, spb.SchemasRequest(scope=scope))
        )

    def write_config(self, scope: str, config: Mapping[str, Any]) -> None:
        """Replace the config of ``scope``."""
        self._unary(self._stub.WriteConfig, msgs.config_to_proto(scope, config))

    def delete(self, scope: str, name: str | None = None) -> None:
        """Hide a scope, or one name of it."""
        self._unary(self._stub.Delete, dpb.Delete(scope=scope, name=name or ""))

    # -- reads ------------------------------------------------------------------------------

    def scopes(self) -> list[str]:
        return [s for r in self._listing(self._stub.Scopes, spb.ScopesRequest()) for s in r.scopes]

    def media(self, *, scope_pattern: str | None = None) -> list[MediaInfo]:
        """Image and text names with their steps (``Store.media``)."""
        req = spb.ListMediaRequest(scope_pattern=scope_pattern) if scope_pattern else spb.ListMediaRequest()
        reply = self._unary(self._stub.ListMedia, req)
        return [MediaInfo(m.scope, m.name, m.kind, tuple(m.steps)) for m in reply.names]

    def read_media(self, scope: str, name: str, steps: Sequence[int] | None = None) -> list[Image | Text]:
        """Images (PNG bytes as stored) or texts of (scope, name) at ``steps`` (all when None)."""
        req = spb.ReadMediaRequest(scope=scope, name=name, steps=list(steps or ()))
        out: list[Image | Text] = []
        for r in self._stream(self._stub.ReadMedia, req, self.timeout):
            out.append(media_from_body(r.image if r.WhichOneof("body") == "image" else r.text))
        return out

    def names(self, scope: str) -> list[str]:
        replies = self._listing(self._stub.Names, spb.NamesRequest(scope=scope))
        return [n for r in replies for n in r.names]

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        req = spb.ConfigsRequest(scope_pattern=scope_pattern) if scope_pattern else None
        return msgs.configs_from_proto(self._listing(self._stub.Configs, req or spb.ConfigsRequest()))

    def cursor(self) -> str:
        """The server's current end of the log (start a ``subscribe`` there to tail)."""
        return str(self._unary(self._stub.Cursor, spb.CursorRequest()).cursor)

    def groups(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> list[GroupInfo]:
        req = spb.GroupsRequest()
        if scope_pattern is not None:
            req.scope_pattern = scope_pattern
        if name_pattern is not None:
            req.name_pattern = name_pattern
        replies = self._stream(self._stub.Groups, req, self.timeout)
        return [msgs.group_from_proto(g) for reply in replies for g in reply.groups]

    def fetch(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
    ) -> ReadResult:
        """Points of the matching groups appended after ``since`` (all when None)."""
        req = msgs.fetch_request(scope, name, scope_pattern, name_pattern, since)
        assembler = wire.TableAssembler()
        for reply in self._stream(self._stub.Fetch, req):
            result = assembler.add(reply)
            if result is not None:
                return result
        raise UnavailableError(f"data server at {self.uri} ended a fetch early")

    def read_range(
        self,
        scope: str,
        name: str,
        index: int,
        x_min: float | None = None,
        x_max: float | None = None,
        max_points: int | None = None,
    ) -> pa.Table:
        """One group's points with x in [x_min, x_max], decimated to ``max_points``."""
        req = read_range_request(scope, name, index, x_min, x_max, max_points)
        return wire.table_from_chunks(self._stream(self._stub.ReadRange, req, self.timeout))

    def snapshot(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> GroupSnapshot:
        """Groups and the cursor of the state they were listed at."""
        req = spb.GroupsRequest()
        if scope_pattern is not None:
            req.scope_pattern = scope_pattern
        if name_pattern is not None:
            req.name_pattern = name_pattern
        replies = list(self._stream(self._stub.Groups, req, self.timeout))
        groups = [msgs.group_from_proto(g) for reply in replies for g in reply.groups]
        return GroupSnapshot(groups, replies[-1].cursor if replies else "")

    def release_cache(self) -> None:
        """Nothing to drop here: the data server keeps the decoded groups."""

    def summaries(self, names: Sequence[str], *, stats: Sequence[str] = ("min", "max", "last"),
                  scope_pattern: str | None = None) -> pa.Table:
        """Run summaries, computed by the server over every point."""
        req = spb.SummariesRequest(names=list(names), stats=list(stats))
        if scope_pattern is not None:
            req.scope_pattern = scope_pattern
        return amsgs.summaries_from_replies(self._stream(self._stub.Summaries, req, self.timeout))

    def aggregate(self, name: str, group_by: str | Sequence[str], *, agg: str = "mean",
                  band: str = "minmax", scope_pattern: str | None = None,
                  x_name: str | None = None, smoothing: float = 0.0,
                  scopes: Sequence[str] | None = None, follow: bool = False) -> GroupAggregates:
        """One aggregate line and band per group of runs, computed by the server."""
        text = group_by if isinstance(group_by, str) else ",".join(group_by)
        req = spb.AggregateRequest(name=name, group_by=text, agg=agg, band=band, follow=follow)
        if scope_pattern is not None:
            req.scope_pattern = scope_pattern
        if x_name is not None:
            req.x_name = x_name
        req.smoothing = smoothing
        if scopes is not None:
            req.only_scopes = True
            req.scopes.extend(scopes)
        return amsgs.aggregate_from_replies(self._stream(self._stub.Aggregate, req, self.timeout))

    def read_ranges(self, requests: Sequence[RangeRequest]) -> RangesResult:
        """Many groups' ranges from one state of the log, in one call; more than
        ``MAX_RANGES`` in several calls (each from one state; the cursor is the first
        call's, so reading on from it repeats points rather than missing any)."""
        reqs = check_requests(requests)
        parts = [
            self._read_ranges(reqs[i : i + MAX_RANGES])
            for i in range(0, max(1, len(reqs)), MAX_RANGES)
        ]
        if len(parts) == 1:
            return parts[0]
        tables = [t for p in parts for t in p.tables]
        return RangesResult(tables, [c for p in parts for c in p.counts], parts[0].cursor)

    def _read_ranges(self, reqs: Sequence[RangeRequest]) -> RangesResult:
        req = spb.ReadRangesRequest(ranges=[wire.range_request_to_proto(r) for r in reqs])
        replies = self._stream(self._stub.ReadRanges, req, self.timeout)
        return wire.ranges_from_replies(replies, len(reqs))

    def subscribe(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
        reconnect_timeout: float | None = None,
    ) -> Iterator[Update]:
        """Batches as they are appended: first what follows ``since``, then new ones.

        Each batch's ``cursor`` resumes exactly after it. With ``reconnect_timeout``,
        a lost server is retried from the last cursor for up to that many seconds.
        """
        cursor = since
        retry = Retry(reconnect_timeout)
        while True:
            req = msgs.fetch_request(scope, name, scope_pattern, name_pattern, cursor)
            assembler = wire.TableAssembler()
            try:
                for reply in self._stream(self._stub.Subscribe, req):
                    result = assembler.add(reply)
                    if result is not None:
                        cursor = result.cursor
                        retry.succeeded()
                        yield Update(result.tables, result.cursor, result.deleted, assembler.reset)
                        assembler.reset = False
                return
            except UnavailableError as exc:
                pause = retry.failed(exc)  # raises exc when out of time
                self.wait_ready(retry.left())
                time.sleep(pause)

    def wait_ready(self, timeout: float) -> None:
        """Block until the server answers (UnavailableError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise UnavailableError(unavailable_message(self.uri))
            try:
                grpc.channel_ready_future(self._channel).result(timeout=min(left, 5.0))
                return
            except grpc.FutureTimeoutError:
                continue

    def close(self) -> None:
        """Close the connection."""
        self._channel.close()

    def __enter__(self) -> DataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stub_call_name(method: Any) -> str:
    """A stub method's RPC name ("Scopes"), for messages."""
    path = getattr(method, "_method", b"")
    path = path.decode() if isinstance(path, bytes) else str(path)
    return path.rsplit("/", 1)[-1]


class GrpcSource(DataClient):
    """The ``DataSource`` read interface over a data server (see ``streamvis.source``)."""

    def __enter__(self) -> GrpcSource:
        return self

