"""Automatic garbage collection held off around a bounded, allocation-heavy computation.

A summaries poll of 10,000 runs x 5 names makes hundreds of thousands of short-lived
containers (a plan, a decoded record's views, a summary per group), all freed by
reference counting as it goes, none in a cycle. CPython's collector still runs a full
collection whenever the objects that survived its young generations pass a quarter of
the long-lived ones: two or three per poll, each walking every live object (300-600
ms of a 1 s poll, measured; the poll's own work was 600 ms). With the collector paused
for the poll, those objects are gone before any collection sees them.

A live page's poll into arrays (``web/page/polls.fetch_groups``) is paused the same way.

The collector is process-wide: while a pause lasts, cyclic garbage other threads make
waits for the next collection after it (a poll is bounded, so is what waits). Pauses
nest and overlap across threads (a count); the collector is switched back on when the
last one ends, and only if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off automatic collection for the ``with`` block (see the module docstring)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
