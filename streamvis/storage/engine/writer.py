"""``StoreWriter``: the writing part of a ``Store``: one batch, or a group of them under one fsync.

It appends to the log a ``LogFollower`` follows, and indexes what it wrote in the
follower's state, under the follower's lock. Durability and the duplicate and schema
checks are described in ``streamvis.storage.engine.store`` and docs/CONTRACTS.md.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from streamvis.errors import ConflictError, InvalidArgumentError, StorageIOError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.engine.follower import LogFollower
from streamvis.storage.format.codec import dtype_name
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.media import MediaEntry
from streamvis.storage.format.model import (
    AppendResult,
    ConfigUpdate,
    Deletion,
    Image,
    Item,
    Text,
)
from streamvis.storage.format.records import (
    EncodedRecord,
    NormalizedPoints,
    encode_batch,
    normalize_items,
)
from streamvis.storage.format.state import Entry

__all__ = ["StoreWriter"]


class StoreWriter:
    """``append``, ``append_many``, ``write_config`` and ``delete`` of a ``Store``."""

    def __init__(self, log: LogFollower, *, fsync: bool, maintain: Callable[[], None]) -> None:
        """``maintain``: called after appends when the backend asks for maintenance
        (object stores: a background compaction; it never raises)."""
        self.log = log
        self.backend = log.backend
        self.fsync = fsync
        self.writer_id = os.urandom(8)
        self.quarantined: list[str] = []  # files holding torn tails this writer cut off
        self._seq = 0
        self._appended: set[tuple[str, str]] = set()  # names this writer wrote
        self._maintain = maintain

    # -- writing -----------------------------------------------------------------------
    def append(
        self, items: Sequence[Item], *, writer_id: bytes | None = None, seq: int | None = None
    ) -> AppendResult:
        """Append ``items`` as one atomic batch; see docs/CONTRACTS.md."""
        outcome = self.append_many([(items, writer_id, seq)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def append_many(
        self,
        batches: Sequence[tuple[Sequence[Item], bytes | None, int | None]],
        *,
        one_object: bool = False,
    ) -> list[AppendResult | Exception]:
        """Append independent batches ``(items, writer_id, seq)`` in order under one
        writer lock and one fsync (group commit). Each batch is atomic and stands alone:
        its outcome is its ``AppendResult`` or the error that refused it (the others go
        on). If the shared fsync fails, every batch written in the group is cut back and
        each gets that error. Nothing returned here as written is undurable.
        ``one_object`` (object stores; a data server's commit interval): the group's
        batches are stored as one object (``_write_group``)."""
        if not self.log.writes:
            raise InvalidArgumentError("this store was opened read-only; open it with mode='a'")
        outcomes: list[AppendResult | Exception | None] = [None] * len(batches)
        norms: list[list[Any] | None] = []
        for i, (items, writer_id, seq) in enumerate(batches):
            try:
                if writer_id is not None and (seq is None or seq < 0):
                    raise InvalidArgumentError(
                        f"a batch with writer_id needs seq >= 0, got {seq!r}"
                    )
                norms.append(normalize_items(items))
            except Exception as exc:  # noqa: BLE001 - the batch's own outcome
                outcomes[i] = exc
                norms.append(None)
        with self.log.lock:
            self.log.check_open()
            written: list[tuple[int, str, int]] = []  # (batch number, key, offset)
            with self.backend.writer_lock():
                if self.backend.appends_follow_log:
                    if self.backend.identity() != self.log.ident:
                        self.log.open()
                    self._cut_torn_tail()
                elif self._needs_order(norms):
                    self.backend.order()  # object stores: one listing, no downloads
                if one_object and not self.backend.appends_follow_log:
                    for i, outcome in self._write_group(norms, batches).items():
                        outcomes[i] = outcome
                        if isinstance(outcome, AppendResult) and not outcome.duplicate:
                            written.append((i, "", 0))
                    norms = []  # written above
                for i, norm in enumerate(norms):
                    if norm is None:
                        continue
                    writer_id, seq = self._identity(batches[i])
                    try:
                        where = self._write_batch(norm, writer_id, seq)
                    except Exception as exc:  # noqa: BLE001 - the batch's own outcome
                        outcomes[i] = exc
                        self._cut_torn_tail()  # a failed write may have left a part
                        continue
                    if where is None:
                        outcomes[i] = AppendResult(True, self.log.cursor())
                    else:
                        written.append((i, *where))
                        outcomes[i] = AppendResult(False, self.log.cursor())
                if written and (self.fsync or not self.backend.appends_follow_log):
                    try:  # object stores: sync is the group's one probe (segments.py)
                        self.backend.sync()
                    except StorageIOError as exc:
                        # Not durable: take the group back, so a retry without a
                        # writer id/seq cannot store it twice, and forget it.
                        for _, key, offset in reversed(written):
                            self.backend.cut_back(key, offset)
                        self.log.open()
                        for i, _, _ in written:
                            outcomes[i] = exc
            self.log.maybe_save_index()
            if self.backend.maintenance_due():
                self._maintain()  # object stores: bounded live objects (never raises)
        return [o for o in outcomes if o is not None]

    def _write_group(
        self,
        norms: list[list[Any] | None],
        batches: Sequence[tuple[Sequence[Item], bytes | None, int | None]],
    ) -> dict[int, AppendResult | Exception]:
        """The group's batches in one object, after a marker batch (this store's writer
        id and a new seq, empty) that the object's name carries: positions, cursors and
        compaction see one batch of this store; each inner batch keeps its own writer id
        and seq (duplicates are recognised, ``SegmentLog.batch_filter`` follows the
        marker). Holds the writer lock."""
        out: dict[int, AppendResult | Exception] = {}
        parts: list[tuple[int, list[EncodedRecord], list[bytes], bytes, int]] = []
        accepted: list[Any] = []
        for i, norm in enumerate(norms):
            if norm is None:
                continue
            writer_id, seq = self._identity(batches[i])
            if self.log.state.is_duplicate(writer_id, seq) or any(
                p[3] == writer_id and p[4] >= seq for p in parts
            ):
                out[i] = AppendResult(True, self.log.cursor())
                continue
            try:
                self.log.state.check_batch(accepted + norm)  # the log's and the group's schemas
            except Exception as exc:  # noqa: BLE001 - the batch's own outcome
                out[i] = exc
                continue
            accepted.extend(norm)
            encoded = encode_batch(norm, writer_id, seq)
            parts.append((i, encoded, [encode_frame(r.payload) for r in encoded], writer_id, seq))
        if not parts:
            return out
        self._seq += 1
        marker = encode_frame(encode_batch([], self.writer_id, self._seq)[0].payload)
        data = b"".join([marker] + [f for p in parts for f in p[2]])
        try:
            key, offset = self.backend.append(data, writer=self.writer_id.hex(), seq=self._seq)
        except Exception as exc:  # noqa: BLE001 - every batch of the group gets it
            return {**out, **{p[0]: exc for p in parts}}
        if offset < 0:  # an earlier attempt of this object is stored
            return {**out, **{p[0]: AppendResult(True, self.log.cursor()) for p in parts}}
        self.log.state.apply_commit(self.writer_id, self._seq)
        pos = len(marker)
        for i, encoded, frames, writer_id, seq in parts:
            self._apply_written(encoded, frames, key, pos, writer_id, seq)
            pos += sum(map(len, frames))
            out[i] = AppendResult(False, self.log.cursor())
        return out

    def _identity(self, batch: tuple[Sequence[Item], bytes | None, int | None]) -> tuple[bytes, int]:
        """The (writer id, seq) a batch is stored under: its own, or this store's next."""
        writer_id, seq = batch[1], batch[2]
        if writer_id is None:
            self._seq += 1
            return self.writer_id, self._seq
        assert seq is not None
        return writer_id, seq

    def _needs_order(self, norms: list[list[Any] | None]) -> bool:
        """Does a batch hold a deletion, a config or a name this store has not written?
        (object stores list first then: docs/CONTRACTS.md, "Object-store logs")"""
        for norm in norms:
            for item in norm or ():
                if isinstance(item, NormalizedPoints):
                    if (item.scope, item.name) not in self._appended:
                        return True
                else:
                    return True
        return False

    def _cut_torn_tail(self) -> None:
        """Catch up with the log and move a torn tail (a crashed or failed write) to a
        quarantine file, so that the next batch follows a whole record."""
        tail = self.log.catch_up().tail
        if tail is not None:
            path = self.backend.discard_tail(*tail)
            if path:
                self.quarantined.append(path)

    def _write_batch(
        self, norm: list[Any], writer_id: bytes, seq: int
    ) -> tuple[str, int] | None:
        """Write one batch (not yet fsynced) and index it; None when it is a duplicate.
        Holds the writer lock, caught up with the log."""
        if self.log.state.is_duplicate(writer_id, seq):
            return None
        self.log.state.check_batch(norm)
        encoded = encode_batch(norm, writer_id, seq)
        frames = [encode_frame(r.payload) for r in encoded]
        try:
            key, offset = self.backend.append(b"".join(frames), writer=writer_id.hex(), seq=seq)
        except ConflictError:  # object stores: a racing copy of this batch won
            self.log.catch_up()
            if self.log.state.is_duplicate(writer_id, seq):
                return None
            raise
        if offset < 0:  # object stores: an attempt whose answer was lost is stored
            return None
        self._apply_written(encoded, frames, key, offset, writer_id, seq)
        return key, offset

    def _apply_written(
        self,
        encoded: list[EncodedRecord],
        frames: list[bytes],
        key: str,
        offset: int,
        writer_id: bytes,
        seq: int,
    ) -> None:
        """Index a batch we just wrote, item by item in batch order (as a reader would)."""
        pos = offset
        for rec, frame in zip(encoded, frames, strict=True):
            p, item = rec.points, rec.other
            if p is not None:
                self._appended.add((p.scope, p.name))
                entry = Entry(key, pos, len(frame), p.count, rec.x_min, rec.x_max)
                schema = functools.partial(_schema_names, p)
                self.log.state.add_entry(p.scope, p.name, p.index, schema, entry)
            elif isinstance(item, ConfigUpdate):
                self.log.state.apply_config(
                    pb.Config(scope=item.scope, json=json.dumps(dict(item.config)))
                )
            elif isinstance(item, Deletion):
                self._appended -= {k for k in self._appended if _deletes(item, k)}
                self.log.state.apply_delete(
                    pb.Delete(scope=item.scope, name=item.name or ""), (key, pos))
            elif isinstance(item, Image | Text):
                kind = "image" if isinstance(item, Image) else "text"
                body = pb.Image(scope=item.scope, name=item.name, step=item.step)
                entry_m = MediaEntry(key, pos, len(frame), float(item.wall_time))
                self.log.state.apply_media(kind, body, entry_m)
            pos += len(frame)
        self.log.state.apply_commit(writer_id, seq)
        self.log.advance(key, pos)
        self.log.last_frame = (key, pos - len(frames[-1]), int.from_bytes(frames[-1][-4:], "little"))
        self.log.mark_dirty()

    def write_config(self, scope: str, config: dict[str, Any]) -> AppendResult:
        """Set the config of ``scope`` (replacing any earlier one)."""
        return self.append([ConfigUpdate(scope, config)])

    def delete(self, scope: str, name: str | None = None) -> AppendResult:
        """Hide ``scope`` (or ``scope``/``name``); later writes start fresh schemas."""
        with self.log.lock:
            self.log.refresh()
            media = self.log.state.media
            if name is None:
                if not any(k[0] == scope for k in media):
                    self.log.state.scope(scope)
            elif (scope, name) not in media:
                self.log.state.name(scope, name)
        return self.append([Deletion(scope, name)])


def _deletes(item: Deletion, key: tuple[str, str]) -> bool:
    return key[0] == item.scope and item.name in (None, key[1])


def _schema_names(p: NormalizedPoints) -> dict[str, str]:
    return {k: dtype_name(v.dtype) for k, v in p.columns.items()}
