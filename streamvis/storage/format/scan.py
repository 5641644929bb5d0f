"""Walking a log: frames -> records -> committed batches.

Records become visible only when their batch's commit record is read, so a crash in
the middle of a batch never exposes part of it. What follows the last commit is the
tail: "end for now" for a reader, garbage to quarantine for the next writer (who
holds the lock, so no one else is writing it). A checksum failure before the tail is
corruption: ``CorruptDataError`` naming the offset, or, when the caller asked to
skip damage, a resync to the next valid frame and a count of what was skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from streamvis.errors import CorruptDataError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import Chunk
from streamvis.storage.format.framing import (
    FRAME_OVERHEAD,
    MAX_PAYLOAD,
    ScanResult,
    ScanStop,
    checksum,
    scan_frames,
)
from streamvis.storage.format.media import invalid_media

__all__ = ["ScannedRecord", "ScanOutcome", "scan_chunks", "parse_header"]


@dataclass(slots=True)
class ScannedRecord:
    key: str
    offset: int
    end: int
    crc: int
    record: pb.Record


@dataclass
class ScanOutcome:
    """Where a scan ended and what it found on the way."""

    last_frame: tuple[str, int, int] | None = None  # (key, offset, crc) of the last commit
    tail: tuple[str, int] | None = None  # (key, offset) where uncommitted bytes start
    damaged: list[tuple[str, int, str]] = field(default_factory=list)  # (key, offset, reason)
    bytes_scanned: int = 0


BatchHandler = Callable[[list[ScannedRecord]], None]


def _decode(payload: memoryview, key: str, offset: int) -> pb.Record:
    try:
        rec = pb.Record.FromString(payload)
        problem = _invalid(rec)
    except DecodeError as exc:
        problem = str(exc)
    if problem:
        raise CorruptDataError(
            f"record at offset {offset} of {key or 'the log'} does not decode: {problem}",
            offset=offset,
        ) from None
    return rec


def _invalid(rec: pb.Record) -> str:
    """Why a record that parsed is still not one a writer could have written ("" if it
    could): a CRC-valid but forged record must not reach the state, nor make a reader
    allocate what its count claims (columns are checked when decoded: reading, codec)."""
    kind = rec.WhichOneof("body")
    if kind == "points":
        p = rec.points
        ncols = len(p.columns)
        if not p.scope or not p.name or not ncols:
            return "points record without scope, name or columns"
        if p.count * ncols * 8 > MAX_PAYLOAD:  # writers split records far below this
            return f"points record of {p.count} rows x {ncols} columns above the cap"
    elif kind == "config":
        try:
            config = json.loads(rec.config.json)
        except (ValueError, RecursionError):
            config = None
        if not rec.config.scope or not isinstance(config, dict):
            return "config record without scope or a JSON object"
    elif kind == "delete" and not rec.delete.scope:
        return "delete record without scope"
    elif kind in ("image", "text"):
        return invalid_media(rec, kind)
    return ""


def _resync(data: bytes, start: int) -> int | None:
    """Index in ``data`` of the next position where a valid frame starts, if any."""
    view = memoryview(data)
    for pos in range(start + 1, len(data) - FRAME_OVERHEAD + 1):
        res = ScanResult()
        for _ in scan_frames(view[pos:], 0, res):
            return pos
    return None


def scan_chunks(
    chunks: Iterable[Chunk],
    on_batch: BatchHandler,
    advance: Callable[[str, int], None],
    *,
    skip_damaged: bool = False,
    stop_at_tail: bool = True,
) -> ScanOutcome:
    """Feed every committed batch in ``chunks`` to ``on_batch``; ``advance`` after each."""
    out = ScanOutcome()
    for chunk in chunks:
        out.bytes_scanned += len(chunk.data)
        base = chunk.offset
        data = chunk.data
        pending: list[ScannedRecord] = []
        local = 0  # position within data
        while True:
            res = ScanResult()
            for frame in scan_frames(memoryview(data)[local:], base + local, res):
                try:
                    rec = _decode(frame.payload, chunk.key, frame.offset)
                except CorruptDataError:
                    if not skip_damaged:
                        raise
                    out.damaged.append((chunk.key, frame.offset, "undecodable record"))
                    pending = []
                    continue
                kind = rec.WhichOneof("body")
                if kind == "header":
                    advance(chunk.key, frame.end)
                    continue
                pending.append(ScannedRecord(chunk.key, frame.offset, frame.end, frame.crc, rec))
                if kind == "commit":
                    on_batch(pending)
                    pending = []
                    out.last_frame = (chunk.key, frame.offset, frame.crc)
                    advance(chunk.key, frame.end)
            if res.stop is ScanStop.CORRUPT:
                where = f"offset {res.stop_offset}" + (f" of {chunk.key}" if chunk.key else "")
                if not skip_damaged:
                    raise CorruptDataError(
                        f"corrupt record at {where} ({res.reason}); run `streamvis verify` "
                        "to list the damage, or open with skip_damaged=True",
                        offset=res.stop_offset,
                    )
                nxt = _resync(data, res.stop_offset - base)
                out.damaged.append((chunk.key, res.stop_offset, res.reason))
                pending = []  # a batch cut by damage is not trusted
                if nxt is None:
                    break
                local = nxt
                continue
            break
        if res.stop is ScanStop.TORN or pending:
            tail_at = pending[0].offset if pending else res.stop_offset
            if chunk.complete:
                msg = f"segment {chunk.key} ends inside a batch at offset {tail_at}"
                if not skip_damaged:
                    raise CorruptDataError(msg, offset=tail_at)
                out.damaged.append((chunk.key, tail_at, "incomplete segment"))
            else:
                out.tail = (chunk.key, tail_at)
                if stop_at_tail:
                    break
    return out


def parse_header(data: bytes) -> pb.Header:
    """The header record at the start of ``data``; CorruptDataError if there is none."""
    res = ScanResult()
    for frame in scan_frames(data, 0, res):
        rec = _decode(frame.payload, "", 0)
        if rec.WhichOneof("body") != "header":
            break
        return rec.header
    raise CorruptDataError(
        f"no valid streamvis header at the start of the log ({res.reason or 'not a header'})",
        offset=0,
    )


def frame_crc_at(data: bytes) -> int | None:
    """CRC stored for the frame at the start of ``data`` (None if it is not valid)."""
    for frame in scan_frames(data, 0):
        return frame.crc if checksum(frame.payload) == frame.crc else None
    return None
