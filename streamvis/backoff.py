"""Idle followers back off: poll at the configured rate while data comes, slower while not.

A follower of a log (``streamvis tail``, a web-serve session, any loop over
``fetch(since=cursor)``) that polls an object store every 0.2 s pays for ~430,000
listings a day even when the run has ended. ``IdleBackoff`` lengthens the wait by
``factor`` after each empty poll, up to ``ceiling`` seconds, and returns to the
configured ``interval`` as soon as a poll brings data. Nothing here does I/O or
sleeps: the caller asks how long to wait (``after``) or, when driven by a fixed-rate
timer such as a Bokeh periodic callback, whether a poll is due (``due``/``record``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["IdleBackoff", "DEFAULT_CEILING"]

DEFAULT_CEILING = 10.0  # seconds between polls of an idle log at most


class IdleBackoff:
    """How long an idle follower waits between polls (see the module docstring)."""

    def __init__(
        self,
        interval: float,
        ceiling: float = DEFAULT_CEILING,
        factor: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or factor < 1:
            raise ValueError(f"interval must be > 0 and factor >= 1, got {interval}, {factor}")
        self.interval = interval
        self.ceiling = max(ceiling, interval)
        self.factor = factor
        self.wait = interval  # the current wait between polls
        self._clock = clock
        self._next = 0.0  # when the next poll is due (clock time)

    def after(self, got_data: bool) -> float:
        """The wait before the next poll, given whether this poll brought data."""
        if got_data:
            self.wait = self.interval
        else:
            self.wait = min(self.ceiling, self.wait * self.factor)
        return self.wait

    def record(self, got_data: bool) -> None:
        """A poll happened now (for timer-driven loops): schedule the next one."""
        self._next = self._clock() + self.after(got_data) - self.interval * 0.5

    def due(self) -> bool:
        """Should a timer tick poll now? (ticks come every ``interval`` seconds)"""
        return self._clock() >= self._next

    def wake(self) -> None:
        """Poll at the next tick (the user did something, e.g. opened a new page)."""
        self.wait = self.interval
        self._next = 0.0
