"""Delivery: drained writes -> numbered batches -> the sink, in order, with retries.

One ``Delivery`` per logger. ``drain`` turns queued writes into batches (the host
copies happen here) and numbers them (writer id, seq); ``deliver`` appends them in
order. A transient failure leaves the head batch in place to be retried with the
same (writer id, seq), after a backoff (0.05 s doubling to 5 s); a batch the sink
refuses as invalid is retried name by name and the refused names are dropped. Past
``max_buffer_bytes`` the oldest batches are dropped with one warning. Callers hold
``lock`` around ``drain``/``deliver`` (the flush thread, ``flush()`` and ``close()``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import numpy as np

from streamvis.logger.buffer import Outbox, build_items, split_batches
from streamvis.logger.sinks import Sink, is_permanent

__all__ = ["Delivery"]

log = logging.getLogger("streamvis.logger")

BACKOFF_MIN, BACKOFF_MAX = 0.05, 5.0


class Delivery:
    """The outbox of one logger and the loop that empties it into its sink."""

    def __init__(self, scope: str, sink: Sink, schemas: dict[str, dict[str, np.dtype]],
                 no_wall_time: set[str] | frozenset[str] = frozenset(), *,
                 max_buffer_bytes: int, max_batch_bytes: int) -> None:
        self.scope = scope
        self.sink = sink
        self.schemas = schemas
        self.no_wall_time = no_wall_time
        self.max_batch_bytes = max_batch_bytes
        self.outbox = Outbox(max_buffer_bytes)
        self.writer_id = os.urandom(16)
        self.seq = 0
        self.lock = threading.Lock()
        self.next_try = 0.0
        self._backoff = 0.0
        self._warned_drop = False
        self._warned_down = False
        self.counts = {"queued_points": 0, "delivered_points": 0, "delivered_batches": 0,
                       "refused_points": 0, "retries": 0}

    def drain(self, queued: list[Any]) -> None:
        """Turn drained queue entries into numbered batches in the outbox."""
        if not queued:
            return
        items = build_items(self.scope, queued, self.schemas, on_error=self._unconvertible,
                            no_wall_time=self.no_wall_time)
        for batch in split_batches(items, self.max_batch_bytes):
            self.seq += 1
            b = self.outbox.push(self.seq, batch)
            self.counts["queued_points"] += b.points
        dropped = self.outbox.enforce()
        if dropped and not self._warned_drop:
            self._warned_drop = True
            log.warning("streamvis: scope %r: the sink is behind and the buffer passed "
                        "%d bytes; dropping the oldest data (%d points so far; see stats())",
                        self.scope, self.outbox.max_bytes, self.outbox.dropped_points)

    def _unconvertible(self, name: str, count: int, exc: BaseException) -> None:
        self.counts["refused_points"] += count
        log.error("streamvis: scope %r, name %r: dropped %d points that could not be "
                  "copied to the host: %s", self.scope, name, count, exc)

    def deliver(self) -> bool:
        """Send outbox batches in order; False when the sink failed (retry later)."""
        ob = self.outbox
        while ob.batches:
            b = ob.batches[0]
            b.attempts += 1
            try:
                self.sink.append(b.items, writer_id=self.writer_id, seq=b.seq)
            except Exception as exc:
                if is_permanent(exc):
                    self._refused(exc)
                    continue
                self.counts["retries"] += 1
                self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
                self.next_try = time.monotonic() + self._backoff
                if not self._warned_down:
                    self._warned_down = True
                    log.warning("streamvis: scope %r: sink unavailable (%s); buffering and "
                                "retrying", self.scope, exc)
                return False
            ob.pop()
            self.counts["delivered_points"] += b.points
            self.counts["delivered_batches"] += 1
            if self._warned_down:
                log.warning("streamvis: scope %r: sink is back; delivering", self.scope)
            self._backoff = 0.0
            self._warned_down = False
        return True

    def _refused(self, exc: BaseException) -> None:
        """The head batch was refused as a whole: retry its names one by one, drop the
        refused ones. Later batches were never sent, so they are renumbered."""
        ob = self.outbox
        head = ob.pop()
        names = list(dict.fromkeys(getattr(i, "name", None) for i in head.items))
        if len(names) <= 1:
            self.counts["refused_points"] += head.points
            log.error("streamvis: scope %r: the sink refused %d points of %s: %s",
                      self.scope, head.points, names, exc)
            pieces: list[list[Any]] = []
        else:
            pieces = [[i for i in head.items if getattr(i, "name", None) == n] for n in names]
        rest = ob.take_all()
        seq = head.seq - 1
        for items in pieces + [b.items for b in rest]:
            seq += 1
            ob.push(seq, items)
        self.seq = seq

    def flush_until(self, queued: Any, deadline: float) -> bool:
        """Drain ``queued()`` and deliver, retrying until ``deadline`` (monotonic)."""
        if not self.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False  # the flush thread is stuck in a slow sink call
        try:
            self.drain(queued())
            while not self.deliver():
                now = time.monotonic()
                if now >= deadline:
                    return False
                time.sleep(max(0.0, min(self.next_try, deadline) - now))
            return True
        finally:
            self.lock.release()

    def stats(self) -> dict[str, int]:
        """Counts of points: queued into batches, delivered, refused, dropped, undelivered."""
        return {**self.counts, "dropped_points": self.outbox.dropped_points,
                "undelivered_points": self.outbox.points}
