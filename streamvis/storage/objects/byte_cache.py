"""A small LRU of object bytes, bounded in bytes, so one fetch serves several readers.

Object stores charge per request: a follower's refresh fetches each new segment once
to index it, and the read since a cursor that follows wants the very same bytes; a
writer has the bytes of what it just wrote. ``ByteCache`` keeps pieces of objects
(``key -> (start offset, bytes, whole?)``) until ``max_bytes`` are held, dropping the least
recently used. Objects are immutable, so a cached piece never goes stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["ByteCache"]


class ByteCache:
    """LRU of ``key -> (offset, bytes)`` holding at most ``max_bytes``."""

    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[int, bytes, bool]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, offset: int = 0, *, whole: bool = False) -> None:
        """Remember ``data`` found at ``offset`` of object ``key``; ``whole`` when it is
        the entire object. A held piece that covers the new one is kept."""
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old[1])
                if old[2] or (old[0] <= offset and old[0] + len(old[1]) >= offset + len(data)):
                    offset, data, whole = old  # the old piece covers the new one
            self._items[key] = (offset, data, whole)
            self._size += len(data)
            while self._size > self.max_bytes and self._items:
                _, (_, dropped, _) = self._items.popitem(last=False)
                self._size -= len(dropped)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes | None:
        """``length`` bytes (all from ``offset`` when None) of ``key``, if held whole."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            start, data, whole = item
            if length is None:
                if not whole or offset:
                    return None
                self._items.move_to_end(key)
                return data
            if offset < start or offset + length > start + len(data):
                if not (whole and offset >= start):
                    return None  # (a whole object answers a read past its end short)
            self._items.move_to_end(key)
            return data[offset - start : offset - start + length]

    def whole(self, key: str) -> bytes | None:
        """The object's bytes, when the whole object is held."""
        return self.get(key, 0, None)

    def __len__(self) -> int:
        return len(self._items)
