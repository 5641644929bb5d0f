"""The read interface used by everything above storage (web app, CLI, script).

``DataSource`` is the contract; ``LocalSource`` implements it in-process over a
``Store``, and ``streamvis.server.client.GrpcSource`` over the data server. Callers
never care which one they hold (``open_source`` picks from a string). Cursors are
opaque strings. Patterns are RE2 regexes matched anywhere in the string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import pyarrow as pa

from streamvis.addresses import is_loopback, is_server_address, reach_note
from streamvis.run_analysis import AggregateBooks, GroupAggregates, summaries_table
from streamvis.storage import (
    ArraysRead,
    GroupInfo,
    GroupSnapshot,
    Image,
    MediaInfo,
    RangeRequest,
    RangesResult,
    ReadResult,
    Store,
    Text,
)
from streamvis.storage.read.group_columns import ColumnsRead, GroupColumns
from streamvis.storage.read.last_read import LastRead

_T = TypeVar("_T")

__all__ = [
    "DataSource",
    "LocalSource",
    "open_source",
    "is_server_address",
    "is_loopback",
    "reach_note",
]


@runtime_checkable
class DataSource(Protocol):
    """What a reader of streamvis data can ask, wherever the data lives."""

    def scopes(self) -> list[str]:
        """Scopes in order of first appearance (deleted ones hidden)."""
        ...

    def names(self, scope: str) -> list[str]:
        """Names of ``scope`` in order of first appearance; NotFoundError if unknown."""
        ...

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        """Config of every (matching) scope that has one."""
        ...

    def groups(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> list[GroupInfo]:
        """Every live (scope, name, index) group with its point count and x range."""
        ...

    def snapshot(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> GroupSnapshot:
        """``groups(...)`` and the cursor of the same state (follow on with ``fetch``)."""
        ...

    def cursor(self) -> str:
        """A cursor at the current end of the log (``fetch(since=...)`` from there)."""
        ...

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
        ...

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
        ...

    def read_ranges(self, requests: Sequence[RangeRequest]) -> RangesResult:
        """Many groups' ranges in one call, from one state of the log (its cursor returned)."""
        ...

    def release_cache(self) -> None:
        """Drop decoded data kept for range reads (when no page needs it any more)."""
        ...

    def summaries(self, names: Sequence[str], *, stats: Sequence[str] = ("min", "max", "last"),
                  scope_pattern: str | None = None) -> pa.Table:
        """One row per run: ``scope``, its config flattened, ``NAME.STAT`` columns; computed
        where the data is, over every point (``streamvis.run_analysis``)."""
        ...

    def aggregate(self, name: str, group_by: str | Sequence[str], *, agg: str = "mean",
                  band: str = "minmax", scope_pattern: str | None = None,
                  x_name: str | None = None, smoothing: float = 0.0,
                  scopes: Sequence[str] | None = None, follow: bool = False) -> GroupAggregates:
        """One aggregate line and band of ``name`` per group of runs (``group_by``: config
        keys, or ``-KEY``s to leave out), computed where the data is, over every point;
        with ``x_name``, against that name's value at the same step; ``smoothing``: each
        run's EMA first; ``scopes``: only these runs. ``follow``: the caller will ask again
        as the log grows (a page), so the query is kept current from this first call on
        (else from its second: a script's single call keeps nothing)."""
        ...

    def media(self, *, scope_pattern: str | None = None) -> list[MediaInfo]:
        """Image and text names (never among ``names``) with their steps."""
        ...

    def read_media(self, scope: str, name: str, steps: Sequence[int] | None = None) -> list[Image | Text]:
        """The images (PNG bytes as stored) or texts of (scope, name) at ``steps`` (every
        step when None), in step order: the page asks for the one step it shows."""
        ...

    def delete(self, scope: str, name: str | None = None) -> None:
        """Hide a scope or a (scope, name)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class LocalSource:
    """``DataSource`` over a ``Store`` opened in this process."""

    def __init__(
        self,
        store: Store,
        *,
        owns_store: bool = True,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self._owns_store = owns_store
        self._storage_options = storage_options
        self.books = AggregateBooks(self)  # aggregate queries asked again: kept current
        self.last_read = LastRead()  # a poll's read, for the books that follow it

    @classmethod
    def open(cls, path: str, **store_options: Any) -> LocalSource:
        """Open the log at ``path`` for reading (deleting opens a writer briefly)."""
        store = Store.open(path, mode="r", **store_options)
        return cls(store, storage_options=store_options.get("storage_options"))

    def scopes(self) -> list[str]:
        self.store.refresh()
        return self.store.scopes()

    def names(self, scope: str) -> list[str]:
        self.store.refresh()
        return self.store.names(scope)

    def configs(self, scope_pattern: str | None = None) -> dict[str, dict[str, Any]]:
        self.store.refresh()
        return self.store.configs(scope_pattern=scope_pattern)

    def groups(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> list[GroupInfo]:
        self.store.refresh()
        return self.store.groups(scope_pattern=scope_pattern, name_pattern=name_pattern)

    def snapshot(
        self, *, scope_pattern: str | None = None, name_pattern: str | None = None
    ) -> GroupSnapshot:
        self.store.refresh()
        return self.store.snapshot(scope_pattern=scope_pattern, name_pattern=name_pattern)

    def cursor(self) -> str:
        self.store.refresh()
        return self.store.cursor()

    def fetch(
        self,
        scope: str | None = None,
        name: str | None = None,
        *,
        scope_pattern: str | None = None,
        name_pattern: str | None = None,
        since: str | None = None,
    ) -> ReadResult:
        if since is not None and name is not None and scope is None and name_pattern is None:
            hit = self.last_read.answer(since, scope_pattern, name, self.cursor())
            if hit is not None:  # a page's poll read it a moment ago
                return hit
        res = self.store.read(
            scope, name, scope_pattern=scope_pattern, name_pattern=name_pattern, since=since
        )
        self.last_read.remember(since, scope, scope_pattern, name, name_pattern, res)
        return res

    def fetch_arrays(self, since: str, name: str | None = None, *, scope_pattern: str | None = None,
                     name_pattern: str | None = None) -> ArraysRead:
        """``fetch(since=...)`` as each group's arrays (``Store.read_arrays_since``): what a
        live page's poll and its aggregate books read, without a table per run."""
        if name is not None and name_pattern is None:
            hit = self.last_read.answer_arrays(since, scope_pattern, name, self.cursor())
            if hit is not None:  # a page's poll read it a moment ago
                return hit
        res = self.store.read_arrays_since(since, name, scope_pattern=scope_pattern, name_pattern=name_pattern)
        self.last_read.remember(since, None, scope_pattern, name, name_pattern, res)
        return res

    def read_columns(self, columns: Sequence[str], each: Callable[[GroupColumns], _T], *,
                     scope_pattern: str | None = None, name_pattern: str | None = None,
                     since: str | None = None) -> ColumnsRead[_T]:
        """``each`` over many groups' ``columns`` at once (``Store.read_columns``)."""
        return self.store.read_columns(columns, each, scope_pattern=scope_pattern,
                                       name_pattern=name_pattern, since=since)

    def read_range(
        self,
        scope: str,
        name: str,
        index: int,
        x_min: float | None = None,
        x_max: float | None = None,
        max_points: int | None = None,
    ) -> pa.Table:
        self.store.refresh()
        return self.store.read_range(scope, name, index, x_min, x_max, max_points)

    def read_ranges(self, requests: Sequence[RangeRequest]) -> RangesResult:
        return self.store.read_ranges(requests)

    def summaries(self, names: Sequence[str], *, stats: Sequence[str] = ("min", "max", "last"),
                  scope_pattern: str | None = None) -> pa.Table:
        return summaries_table(self, names, stats=stats, scope_pattern=scope_pattern)

    def aggregate(self, name: str, group_by: str | Sequence[str], *, agg: str = "mean",
                  band: str = "minmax", scope_pattern: str | None = None,
                  x_name: str | None = None, smoothing: float = 0.0,
                  scopes: Sequence[str] | None = None, follow: bool = False) -> GroupAggregates:
        return self.books.aggregate(name, group_by, agg=agg, band=band, scope_pattern=scope_pattern,
                                    x_name=x_name, smoothing=smoothing, scopes=scopes, follow=follow)

    def release_cache(self) -> None:
        self.store.release_cache()
        self.books.drop()

    def media(self, *, scope_pattern: str | None = None) -> list[MediaInfo]:
        self.store.refresh()
        return self.store.media(scope_pattern=scope_pattern)

    def read_media(self, scope: str, name: str, steps: Sequence[int] | None = None) -> list[Image | Text]:
        self.store.refresh()
        return self.store.read_media(scope, name, steps)

    def delete(self, scope: str, name: str | None = None) -> None:
        if self.store.mode == "a":
            self.store.delete(scope, name)
            return
        # A reader deletes through a short-lived writer on the same log.
        with Store.open(self.store.backend.url, "a", storage_options=self._storage_options) as writer:
            writer.delete(scope, name)
        self.store.refresh()

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> LocalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(target: str, **options: Any) -> DataSource:
    """A ``DataSource`` for a log path/URL or a data server's ``host:port``."""
    if is_server_address(target):
        from streamvis.server.client import GrpcSource  # gRPC stack only when needed

        return GrpcSource(target, **options)
    return LocalSource.open(target, **options)
