"""The live loggers of this process, closed at exit and disowned in a forked child.

``LIVE`` holds every started logger (weakly); at interpreter exit each is closed
(flushed) once, and in a child forked from a logging process each is marked forked so
the child never flushes or duplicates the parent's buffer.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import Any

__all__ = ["LIVE", "close_all_at_exit", "after_fork_child"]

log = logging.getLogger("streamvis.logger")

LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def close_all_at_exit() -> None:
    """Close every live logger of this process (what atexit runs)."""
    for lg in list(LIVE):
        if getattr(lg, "_pid", None) == os.getpid() and not lg._forked:
            lg._at_exit = True
            try:
                lg.close()
            except Exception:  # pragma: no cover - best effort at exit
                log.exception("streamvis: closing logger %r at exit failed", lg.scope)


def after_fork_child() -> None:
    """In a forked child: disown every logger inherited from the parent."""
    for lg in list(LIVE):
        lg._after_fork_in_child()
    LIVE.clear()


atexit.register(close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_child)
