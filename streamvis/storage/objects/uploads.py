"""``Uploads``: the segments one ``SegmentLog`` stores, named in order and confirmed.

A segment is named above every name seen (the writer's clock plus a skew lifted to the
names listings showed: ``KnownSegments``), created exclusively (``pipe_file(...,
mode="create")``), and kept "unchecked" until a listing confirms that no follower may
have listed past it; a late one is stored again above everything (readers take the
first copy of a (writer, seq)). See ``segments`` for the whole protocol.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass

from streamvis.errors import ConflictError, InvalidArgumentError
from streamvis.storage.objects.known import KnownSegments
from streamvis.storage.objects.prefix import ObjectPrefix, parse_segment_name, segment_name

__all__ = ["Uploads", "Unchecked"]


@dataclass
class Unchecked:
    """A segment we wrote whose order no listing has confirmed yet (see the docstring)."""

    name: str
    t: int
    writer: str
    seq: int
    data: bytes
    written_at: float  # time.monotonic() when its PUT returned
    took: float  # seconds from naming it to its PUT's return


class Uploads:
    """Naming, creating and confirming the segments of one writer process."""

    def __init__(
        self,
        prefix: ObjectPrefix,
        known: KnownSegments,
        *,
        lookback_ns: int,
        relist_depth: int,
        slow_upload_s: float,
        relist_after_s: float,
    ) -> None:
        self.prefix = prefix
        self.known = known
        self.lookback_ns = lookback_ns
        self.relist_depth = relist_depth
        self.slow_upload_s = slow_upload_s
        self.relist_after_s = relist_after_s
        self.republished = 0  # copies stored because a segment may have been listed past
        self.written: set[str] = set()  # names we created (not foreign to our probes)
        self.failed: dict[tuple[str, int], tuple[str, bytes]] = {}  # unconfirmed uploads
        self.unchecked: list[Unchecked] = []

    def take_due(self, started: float, start_t: int) -> list[Unchecked]:
        """The unchecked segments written before a listing that started at ``started``
        (monotonic) from time ``start_t`` (under the mutex): that listing confirms those
        named at or above ``start_t`` (``confirm``); the rest wait for our probe, which
        lists every name above them."""
        due: list[Unchecked] = []
        kept: list[Unchecked] = []
        for u in self.unchecked:
            (due if u.written_at <= started and u.t >= start_t else kept).append(u)
        self.unchecked = kept
        return due

    def confirm(self, due: list[Unchecked], listed: list[str]) -> None:
        """Re-store those of ``due`` that ``listed`` shows may have been listed past."""
        for u in due:
            if self.late(u, listed):
                self.restore(u)

    def late(self, u: Unchecked, listed: list[str]) -> bool:
        """May a follower have listed past ``u``? ``listed``: every name above it. Yes
        when its upload was slow, or when names of other writers were visible above it:
        one more than ``lookback`` above, or ``relist_depth`` of them (a follower may have
        started its listing above them all). Our own names do not count: our uploads are
        made one after another, so none of ours above it was visible before it was."""
        if u.took > self.slow_upload_s:
            return True
        limit = u.t + self.lookback_ns
        above = 0
        for name in listed:
            parsed = parse_segment_name(name)
            if parsed is None or parsed[0] <= u.t or name in self.written:
                continue
            if parsed[0] > limit:
                return True
            above += 1
        return above >= self.relist_depth

    def restore(self, u: Unchecked) -> None:  # a copy above all (readers take the first)
        self.republished += 1
        self.put(u.data, u.writer, u.seq)

    def probe(self, depth: int = 0) -> None:
        """One listing of the names above our oldest unconfirmed segment (empty when clocks
        agree): lifts the clock, re-stores late ones; if it fails: at the next ``sync``."""
        with self.known.mutex:
            pending, self.unchecked = self.unchecked, []
        if not pending:
            return
        oldest = min(u.t for u in pending)
        try:
            names = self.prefix.list_segments(oldest + 1, "probing segments")
        except Exception:
            with self.known.mutex:
                self.unchecked = pending + self.unchecked
            return
        with self.known.mutex:  # lift; forget our names no probe will look at again
            self.known.lift(names)
            self.written = {n for n in self.written if n > f"{oldest:020d}"}
        late = [u for u in pending if self.late(u, names)]
        for u in late:
            self.restore(u)
        if late and depth < 3:  # a copy that is late again is copied again, a few times
            self.probe(depth + 1)

    def order(self) -> None:
        """Before a batch that ordering needs (a deletion, a config, a name's first
        write): lift the clock above every name visible now (one listing of the names
        above the one we would take now), so the batch sorts after all of them."""
        names = self.prefix.list_segments(max(self.known.clock, self.known.now() + self.known.skew) + 1, "listing")
        with self.known.mutex:
            self.known.lift(names)

    def append(self, data: bytes, *, writer: str, seq: int) -> tuple[str, int]:
        if not re.fullmatch(r"[0-9a-f]*", writer) or seq < 0:
            raise InvalidArgumentError(
                f"writer must be lowercase hex and seq >= 0: {writer!r}, {seq}"
            )
        earlier = self.failed.pop((writer, seq), None)
        if earlier is not None:  # a retry of an upload whose outcome we could not read
            landed = self.prefix.peek(self.prefix.path_of(earlier[0]))
            if landed == earlier[1]:
                return earlier[0], -1  # it landed: stored once (the Store answers duplicate)
            if landed is not None:
                with contextlib.suppress(Exception):
                    self.prefix.fs.rm_file(self.prefix.path_of(earlier[0]))
        return self.put(data, writer, seq), 0

    def put(self, data: bytes, writer: str, seq: int) -> str:
        """Create one segment under a fresh name above everything seen (``sync``, after
        the group, probes); its name."""
        if self.known.lifted_at is None or time.monotonic() - self.known.lifted_at > self.relist_after_s:
            self.order()  # our clock may lag names that appeared since we last listed
        named_at = time.monotonic()
        with self.known.mutex:
            self.known.clock = max(self.known.clock + 1, self.known.now() + self.known.skew)
            t = self.known.clock
            name = segment_name(t, writer, seq)
            self.written.add(name)
        path = self.prefix.path_of(name)
        try:
            self.prefix.fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            if self.prefix.peek(path) != data:
                raise ConflictError(
                    f"segment {name} of {self.prefix.url} was created by another writer with other "
                    "bytes (same writer id and seq): this batch was not stored"
                ) from None
            # the same bytes: our own earlier attempt (a transport retry) stored it
        except Exception as exc:
            landed = self.prefix.peek(path)
            if landed != data:  # nothing, or a damaged upload (checksum failed): remove it
                if landed is not None:
                    with contextlib.suppress(Exception):
                        self.prefix.fs.rm_file(path)
                else:  # unreadable: a retry of this batch looks again (``append``)
                    self.failed[(writer, seq)] = (name, data)
                raise self.prefix.io_error(exc, f"writing segment {name}") from exc
            # the write landed whole; only its answer was lost
        done = time.monotonic()
        self.prefix.cache.put(name, data, whole=True)
        with self.known.mutex:
            entry = self.known.note(name)
            if entry is not None:
                self.known.insert([entry])
            self.unchecked.append(Unchecked(name, t, writer, seq, data, done, done - named_at))
        return name
