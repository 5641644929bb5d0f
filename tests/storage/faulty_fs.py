"""``FaultyFS``: an fsspec wrapper for the races the emulators cannot show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FaultyFS"]


class FaultyFS:
    """Wraps an fsspec filesystem: enforces ``mode="create"`` and injects faults.

    ``before_create(path, data)`` runs once, just before the next segment create (a
    racing writer); ``fail_after_create`` is raised once after the next create
    succeeded (a lost acknowledgement). Every ranged read is recorded.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before_create: Callable[[str, bytes], None] | None = None
        self.fail_after_create: Exception | None = None
        self.reads: list[tuple[str, int | None, int | None]] = []
        self.listings: list[tuple[str, str]] = []
        self.listed: list[int] = []  # how many names each listing returned
        self.before_read: Callable[[], None] | None = None  # once, before the next read
        # raised by the next operations of a kind ("list", "create", "read"), in turn:
        # a 503 or a timeout of the service
        self.fail_next: dict[str, list[Exception]] = {}

    def _fail(self, kind: str) -> None:
        queue = self.fail_next.get(kind)
        if queue:
            raise queue.pop(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_names(self, directory: str, start: str = "", one_page: bool = False) -> list[str]:
        """The inner filesystem's incremental listing (``object_listing``); counted."""
        from streamvis.storage.objects.listing import list_names

        self.listings.append((directory, start))
        self._fail("list")
        names = list_names(self.inner, directory, start, one_page=one_page)
        self.listed.append(len(names))
        return names

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kw: Any) -> None:
        if mode == "create" and "/segments/" in path:
            self._fail("create")
            hook, self.before_create = self.before_create, None
            if hook is not None:
                hook(path, value)
            self.inner.invalidate_cache(path)
            if self.inner.exists(path):  # the precondition the emulator does not enforce
                raise FileExistsError(path)
        self.inner.pipe_file(path, value, mode=mode, **kw)
        fail, self.fail_after_create = self.fail_after_create, None
        if fail is not None and "/segments/" in path:
            raise fail

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kw: Any
    ) -> bytes:
        self.reads.append((path, start, end))
        if "/segments/" in path:
            self._fail("read")
        self._hook_read(path)
        return self.inner.cat_file(path, start=start, end=end, **kw)

    def _hook_read(self, path: str) -> None:
        if "/segments/" in path or "/bases/" in path:
            hook, self.before_read = self.before_read, None
            if hook is not None:
                hook()

    def cat_ranges(self, paths: list[str], starts: Any, ends: Any, **kw: Any) -> list[bytes]:
        n = len(paths)
        s = starts if isinstance(starts, list) else [starts] * n
        e = ends if isinstance(ends, list) else [ends] * n
        self.reads.extend(zip(paths, s, e, strict=True))
        if paths and "/segments/" in paths[0]:
            self._fail("read")
        if paths:
            self._hook_read(paths[0])
        return self.inner.cat_ranges(paths, starts, ends, **kw)
