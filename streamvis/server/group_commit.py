"""Group commit: appends that arrive while a commit is in flight share the next fsync.

Every ``Append`` call of the data server hands its decoded batch to one
``GroupCommit``. At most one commit runs at a time (``Store.append_many`` in the
server's thread pool: one writer lock, one write per batch, one fsync); the batches
that arrive meanwhile wait and form the next group. Each call is answered only when
the commit holding its batch returned, i.e. after the fsync that made it durable, so
the guarantee of a lone append (acknowledged = durable) holds for every member. With
N concurrent writers a group holds up to N batches, and the cost of one fsync is
shared by all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamvis.storage import Store
    from streamvis.storage.format.model import AppendResult, Item

__all__ = ["GroupCommit"]

Batch = tuple["Sequence[Item]", "bytes | None", "int | None"]


class GroupCommit:
    """Queue batches from concurrent calls; commit them in groups, one fsync each."""

    def __init__(
        self,
        store: Store,
        run: Callable[..., Awaitable[Any]],
        max_group: int = 1024,
        interval: float = 0.0,
    ) -> None:
        """``interval`` > 0 (a log on an object store): groups start at most once per
        ``interval`` seconds and each is stored as one object (``one_object``)."""
        self.store = store
        self._run = run  # runs a blocking function in the server's thread pool
        self.max_group = max_group
        self.interval = interval
        self._last_start = -float("inf")
        self._pending: list[tuple[Batch, asyncio.Future[AppendResult]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.commits = 0  # groups committed (each one writer lock and one fsync)
        self.batches = 0  # batches committed in them

    async def append(
        self, items: Sequence[Item], writer_id: bytes | None, seq: int | None
    ) -> AppendResult:
        """Append one batch; returns once the group holding it is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()
        self._pending.append(((items, writer_id, seq), future))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_pending())
        # shield: a caller that goes away does not cancel the commit of the others
        return await asyncio.shield(future)

    async def _commit_pending(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            if self.interval > 0:  # at most one object per interval: the group gathers
                await asyncio.sleep(max(0.0, self._last_start + self.interval - loop.time()))
                self._last_start = loop.time()
            group = self._pending[: self.max_group]
            del self._pending[: self.max_group]
            try:
                outcomes = await self._run(
                    self.store.append_many, [b for b, _ in group], one_object=self.interval > 0
                )
            except BaseException as exc:  # noqa: BLE001 - every member gets the error
                outcomes = [exc] * len(group)
                if isinstance(exc, asyncio.CancelledError):
                    for _, future in group + self._pending:
                        if not future.done():
                            future.set_exception(exc)
                    self._pending.clear()
                    raise
            self.commits += 1
            self.batches += len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
