"""What every browser session of one web server shares: the source, the schema, the
poll interval, the plot limits, the worker pool that runs blocking reads, and the set
of live sessions (the server's status and shutdown walk it)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from streamvis.source import DataSource

from ..plots.line_state import PlotLimits
from ..schema import Schema

__all__ = ["AppConfig", "OpenSession"]

log = logging.getLogger("streamvis.web")


class OpenSession(Protocol):
    """What the server's shared state knows of a browser session (``session.LiveSession``)."""

    closed: bool

    def close(self) -> None: ...


@dataclass
class AppConfig:
    """What every session of one server shares."""

    source: DataSource
    schema: Schema
    refresh: float = 1.0  # seconds between polls
    limits: PlotLimits = field(default_factory=PlotLimits)
    webgl: str = "auto"  # the default of the page's webgl= parameter
    log_name: str = "streamvis"  # what the pages' headers call the data (DATA)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="streamvis-web"
        )
    )
    sessions: set[OpenSession] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release_cache_if_idle(self) -> None:
        """Drop the source's decoded groups of range reads when no plot page is open
        (run in a worker: the last page's close, the index page's last-update read)."""
        with self.lock:
            if self.sessions:
                return  # a page is open (or opened meanwhile)
        try:
            self.source.release_cache()
        except Exception as exc:  # a hint only; never fail a closing session
            log.warning("streamvis web: releasing the read cache failed: %s", exc)
