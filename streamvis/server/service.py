"""The grpc.aio servicer: the ``DataService`` calls over one ``Store``.

Store calls block, so they run in a thread pool; the event loop only moves
messages. Subscribers wait on a change counter that is bumped by this server's own
writes and by a poller that refreshes the store (appends made by other processes).
The token check and the translation of errors into status codes are not here: the
server's one interceptor (``guard.ServiceGuard``) does both for every call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from streamvis.errors import CursorResetError, InvalidArgumentError, UnavailableError
from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server import analysis_messages as amsgs
from streamvis.server import messages as msgs
from streamvis.server import wire
from streamvis.server.group_commit import GroupCommit
from streamvis.server.protocol import (
    MAX_RANGES,
    PROTOCOL,
    client_protocol,
    older_client_error,
)
from streamvis.source import LocalSource
from streamvis.storage.format.media import media_record_body
from streamvis.storage.format.model import ConfigUpdate, Deletion, Image

if TYPE_CHECKING:
    from streamvis.storage import Store

__all__ = ["DataServicer", "Changes"]

log = logging.getLogger("streamvis.server")
T = TypeVar("T")


class Changes:
    """A counter that subscribers wait on; bumped whenever the log may have grown."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seen: int, timeout: float) -> None:
        """Return once ``version`` differs from ``seen`` (or after ``timeout`` s)."""
        if self.version != seen:
            return
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class DataServicer(spb_grpc.DataServiceServicer):
    """Serves one store. ``close()`` ends the subscriptions (they see UNAVAILABLE)."""

    def __init__(
        self,
        store: Store,
        *,
        max_message_bytes: int = wire.DEFAULT_MAX_MESSAGE_BYTES,
        poll_interval: float = 0.02,
        workers: int = 8,
        commit_interval: float = 0.0,
    ) -> None:
        self.store = store
        self.limit = max_message_bytes
        self._analysis = LocalSource(store, owns_store=False)  # summaries, aggregates
        self.poll_interval = poll_interval
        self.changes = Changes()
        self.closing = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="streamvis-store")
        self._poller: asyncio.Task[None] | None = None
        # STREAMVIS_MAX_GROUP=1 turns group commit off (one fsync per append), so that
        # benchmarks can compare both in one run
        max_group = int(os.environ.get("STREAMVIS_MAX_GROUP", "1024"))
        self.group_commit = GroupCommit(
            store, self._run, max_group=max(1, max_group), interval=commit_interval
        )

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def start(self) -> None:
        """Start polling the store for appends made by other processes."""
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        last = self.store.cursor()
        failing = ""
        while not self.closing:
            await asyncio.sleep(self.poll_interval if not failing else 1.0)
            try:
                cursor = await self._run(self._refresh)
            except Exception as exc:  # noqa: BLE001 - a failed refresh is retried later
                if str(exc) != failing:  # say it once, not every poll
                    log.error("refreshing the store failed (retrying every second): %s", exc)
                failing = str(exc)
                continue
            if failing:
                log.warning("refreshing the store works again")
                failing = ""
            if cursor != last:
                last = cursor
                self.changes.bump()

    def _refresh(self) -> str:
        self.store.refresh()
        return self.store.cursor()

    async def close(self) -> None:
        """Stop the poller, end subscriptions, release the threads."""
        self.closing = True
        self.changes.bump()
        if self._poller is not None:
            self._poller.cancel()
        self._pool.shutdown(wait=True)

    # -- writes -----------------------------------------------------------------------------

    async def Append(
        self, request_iterator: AsyncIterator[spb.AppendRequest], context: grpc.aio.ServicerContext
    ) -> spb.AppendReply:
        return await self._append([req async for req in request_iterator])

    async def AppendBatch(self, request: spb.AppendRequest, context: Any) -> spb.AppendReply:
        return await self._append([request])

    async def _append(self, requests: list[spb.AppendRequest]) -> spb.AppendReply:
        """Decode in the pool, then commit with the appends of concurrent calls (one
        fsync for the group); answered once the batch is durable."""
        items, writer_id, seq = await self._run(wire.items_from_requests, requests)
        result = await self.group_commit.append(items, writer_id, seq)
        if not result.duplicate:
            self.changes.bump()
        return spb.AppendReply(duplicate=result.duplicate, cursor=result.cursor)

    async def WriteConfig(self, request: dpb.Config, context: Any) -> spb.WriteReply:
        item = ConfigUpdate(request.scope, msgs.config_from_json(request))
        result = await self._run(self.store.append, [item])
        self.changes.bump()
        return spb.WriteReply(cursor=result.cursor)

    async def Delete(self, request: dpb.Delete, context: Any) -> spb.WriteReply:
        result = await self._run(self.store.append, [Deletion(request.scope, request.name or None)])
        self.changes.bump()
        return spb.WriteReply(cursor=result.cursor)

    # -- listings ---------------------------------------------------------------------------

    def _listing(self, context: Any, call: str, replies: Iterator[T]) -> list[T]:
        """A listing's replies; an older client (one reply expected) gets them only
        when one suffices (it would wait for a single message forever otherwise)."""
        out = list(replies)
        if len(out) > 1:
            version = client_protocol(context.invocation_metadata())
            if version < PROTOCOL:
                raise older_client_error(call, version, len(out))
        return out

    async def Scopes(self, request: spb.ScopesRequest, context: Any) -> AsyncIterator[Any]:
        scopes = await self._run(self.store.scopes)
        for msg in self._listing(context, "Scopes", msgs.scopes_messages(scopes, self.limit)):
            yield msg

    async def Names(self, request: spb.NamesRequest, context: Any) -> AsyncIterator[Any]:
        names = await self._run(self.store.names, request.scope)
        for msg in self._listing(context, "Names", msgs.names_messages(names, self.limit)):
            yield msg

    async def Configs(self, request: spb.ConfigsRequest, context: Any) -> AsyncIterator[Any]:
        pattern = msgs.opt(request, "scope_pattern")
        configs = await self._run(self.store.configs, scope_pattern=pattern)
        replies: list[spb.ConfigsReply] = await self._run(
            list, msgs.configs_messages(configs, self.limit)
        )
        for msg in self._listing(context, "Configs", iter(replies)):
            yield msg

    async def Schemas(self, request: spb.SchemasRequest, context: Any) -> AsyncIterator[Any]:
        schemas = await self._run(self.store.schemas, request.scope)
        for msg in self._listing(context, "Schemas", msgs.schemas_messages(schemas, self.limit)):
            yield msg

    async def Cursor(self, request: spb.CursorRequest, context: Any) -> spb.CursorReply:
        return spb.CursorReply(cursor=await self._run(self._refresh))

    async def Groups(self, request: spb.GroupsRequest, context: Any) -> AsyncIterator[Any]:
        snap = await self._run(
            self.store.snapshot,
            scope_pattern=msgs.opt(request, "scope_pattern"),
            name_pattern=msgs.opt(request, "name_pattern"),
        )
        replies = list(msgs.groups_messages(snap.groups, self.limit))
        replies[-1].cursor = snap.cursor
        for msg in replies:
            yield msg

    # -- reads ------------------------------------------------------------------------------

    def _read(self, request: spb.FetchRequest, since: str | None) -> Any:
        return self.store.read(
            msgs.opt(request, "scope"),
            msgs.opt(request, "name"),
            scope_pattern=msgs.opt(request, "scope_pattern"),
            name_pattern=msgs.opt(request, "name_pattern"),
            since=since,
        )

    async def _built_in_thread(self, messages: Iterator[T]) -> AsyncIterator[T]:
        """Messages of a generator, each built in the pool (the loop stays free) while
        the previous one is being sent."""
        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(self._pool, next, messages, None)
        while True:
            msg = await pending
            if msg is None:
                return
            pending = loop.run_in_executor(self._pool, next, messages, None)
            yield msg

    async def Fetch(self, request: spb.FetchRequest, context: Any) -> AsyncIterator[Any]:
        result = await self._run(self._read, request, msgs.opt(request, "since"))
        async for msg in self._built_in_thread(wire.read_result_messages(result, self.limit)):
            yield msg

    async def ReadRange(self, request: spb.ReadRangeRequest, context: Any) -> AsyncIterator[Any]:
        max_points = msgs.opt(request, "max_points")
        table = await self._run(
            self.store.read_range,
            request.scope,
            request.name,
            request.index,
            msgs.opt(request, "x_min"),
            msgs.opt(request, "x_max"),
            int(max_points) if max_points is not None else None,
        )
        for msg in wire.table_chunks(request.scope, request.name, table, self.limit):
            yield msg
        yield spb.FetchReply(end_of_batch=True)

    async def ReadRanges(self, request: spb.ReadRangesRequest, context: Any) -> AsyncIterator[Any]:
        if len(request.ranges) > MAX_RANGES:
            raise InvalidArgumentError(
                f"ReadRanges takes at most {MAX_RANGES:,} ranges per call, got "
                f"{len(request.ranges):,}; split the list into several calls"
            )
        reqs = [wire.range_request_from_proto(r) for r in request.ranges]
        result = await self._run(self.store.read_ranges, reqs)
        for msg in wire.ranges_messages(result, self.limit):
            yield msg

    async def Summaries(self, request: spb.SummariesRequest, context: Any) -> AsyncIterator[Any]:
        table = await self._run(self._analysis.summaries, list(request.names),
                                stats=list(request.stats) or ("min", "max", "last"),
                                scope_pattern=msgs.opt(request, "scope_pattern"))
        replies: list[spb.TableReply] = await self._run(list, amsgs.summaries_replies(table, self.limit))
        for msg in replies:
            yield msg

    async def Aggregate(self, request: spb.AggregateRequest, context: Any) -> AsyncIterator[Any]:
        groups = await self._run(self._analysis.aggregate, request.name, request.group_by,
                                 agg=request.agg or "mean", band=request.band or "minmax",
                                 scope_pattern=msgs.opt(request, "scope_pattern"),
                                 x_name=msgs.opt(request, "x_name"), smoothing=request.smoothing,
                                 scopes=list(request.scopes) if request.only_scopes else None,
                                 follow=request.follow)
        replies: list[spb.TableReply] = await self._run(list, amsgs.aggregate_replies(groups, self.limit))
        for msg in replies:
            yield msg

    async def ListMedia(self, request: spb.ListMediaRequest, context: Any) -> spb.ListMediaReply:
        infos = await self._run(self.store.media, scope_pattern=msgs.opt(request, "scope_pattern"))
        return spb.ListMediaReply(names=[spb.MediaName(scope=i.scope, name=i.name, kind=i.kind,
                                                       steps=i.steps) for i in infos])

    async def ReadMedia(self, request: spb.ReadMediaRequest, context: Any) -> AsyncIterator[Any]:
        items = await self._run(self.store.read_media, request.scope, request.name,
                                list(request.steps) if request.steps else None)
        for item in items:
            body = media_record_body(item)
            yield (spb.ReadMediaReply(image=body) if isinstance(item, Image)
                   else spb.ReadMediaReply(text=body))

    async def Subscribe(self, request: spb.FetchRequest, context: Any) -> AsyncIterator[Any]:
        cursor = msgs.opt(request, "since")
        reset, first = False, True
        while True:
            if self.closing:
                raise UnavailableError("the data server is shutting down; reconnect")
            seen = self.changes.version
            try:
                result = await self._run(self._read, request, cursor)
            except CursorResetError:
                if cursor is None:
                    raise
                cursor, reset = None, True
                continue
            if first or reset or result.tables or result.deleted or result.cursor != cursor:
                batch = wire.read_result_messages(result, self.limit, reset=reset)
                if result.num_points > 100_000:
                    async for msg in self._built_in_thread(batch):
                        yield msg
                else:
                    for msg in batch:
                        yield msg
            cursor, reset, first = result.cursor, False, False
            await self.changes.wait(seen, timeout=1.0)

