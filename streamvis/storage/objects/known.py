"""``KnownSegments``: the segment names a ``SegmentLog`` has listed or written, and its clock.

The names are kept sorted (so by time, then writer and seq); the list is replaced,
never mutated, so a reader may iterate it without the mutex. The clock is the newest
name time seen or written; the skew, added to the local clock when naming a segment,
is lifted (never lowered) to the highest name a listing showed (see ``segments``).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable

from streamvis.storage.objects.prefix import parse_segment_name

__all__ = ["KnownSegments", "Listed"]

Listed = tuple[str, str, int]  # (name, writer hex, seq)


class KnownSegments:
    """Sorted segment names, the first time of each (writer, seq), the name clock."""

    def __init__(self, now: Callable[[], int]) -> None:
        """``now``: the local clock (ns)."""
        self.now = now
        self.mutex = threading.Lock()  # guards everything below (the owner's state too)
        self.listing: list[Listed] = []  # every segment known, sorted by name
        self.names: set[str] = set()
        self.time_of: dict[tuple[str, int], int] = {}  # (writer, seq) -> t of its first copy
        self.clock = 0  # highest time prefix seen or written
        self.skew = 0  # added to our clock: lifted to the highest name listings showed
        self.lifted_at: float | None = None  # monotonic time of the last complete lift

    def note(self, name: str) -> Listed | None:
        """Add a segment name to what we know (under the mutex); the entry if new."""
        parsed = parse_segment_name(name)
        if parsed is None or name in self.names:
            return None
        t, writer, seq = parsed
        self.names.add(name)
        self.clock = max(self.clock, t)
        self.time_of.setdefault((writer, seq), t)
        return (name, writer, seq)

    def insert(self, entries: Iterable[Listed]) -> None:
        """Put new entries (from ``note``) in the sorted listing (under the mutex)."""
        listing = list(self.listing)  # replaced, never mutated: readers iterate it
        for entry in entries:
            bisect.insort(listing, entry)
        self.listing = listing

    def lift(self, names: list[str]) -> int:
        """Raise our clock and skew to the highest segment name in ``names`` (under the
        mutex); that time (0: none)."""
        top = max((p[0] for p in map(parse_segment_name, names) if p is not None), default=0)
        if top:
            self.clock = max(self.clock, top)
            self.skew = max(self.skew, top - self.now())
        self.lifted_at = time.monotonic()
        return top

    def live(self, frontier: int) -> int:
        """Segments known at or above ``frontier`` (time)."""
        listing = self.listing
        return len(listing) - bisect.bisect_left(listing, (f"{frontier:020d}",))

    def between(self, lo: int, hi: int) -> list[Listed]:
        """The known segments named in [lo, hi) time."""
        listing = self.listing
        a = bisect.bisect_left(listing, (f"{lo:020d}",))
        b = bisect.bisect_left(listing, (f"{hi:020d}",))
        return listing[a:b]

    def forget_below(self, frontier: int) -> None:
        """Forget the names below ``frontier`` (they are in a generation's bases)."""
        with self.mutex:
            cut = bisect.bisect_left(self.listing, (f"{frontier:020d}",))
            if cut:
                for name, writer, seq in self.listing[:cut]:
                    self.names.discard(name)
                    self.time_of.pop((writer, seq), None)
                self.listing = self.listing[cut:]
