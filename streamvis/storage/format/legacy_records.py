"""The record format of the original streamvis (its 2025 Bokeh + gRPC era, e.g. commit
daeda73 of github.com/hrbigelow/streamvis): reading records and recognising files.

That streamvis kept a data prefix as two files, ``PREFIX.log`` (Data and Config
records) and ``PREFIX.idx`` (Scope, Name, Control, DataEntry and ConfigEntry
records). Each record is ``u8 kind | u32 big-endian length | protobuf payload``
(its ``util.pack_message``), with no checksum; a reader stops at an incomplete last
record (its ``util.unpack``). The messages are vendored in
``streamvis/proto/legacy_data.proto``.

This module only reads and recognises; ``streamvis.legacy`` converts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from streamvis.proto import legacy_data_pb2 as lpb

__all__ = [
    "INDEX_KINDS",
    "LOG_KINDS",
    "LegacyRecord",
    "iter_records",
    "looks_legacy",
    "legacy_files",
]

_HEAD = struct.Struct(">BI")
HEAD_SIZE = _HEAD.size  # 5

MESSAGE_OF_KIND: dict[int, type[Message]] = {
    lpb.SCOPE: lpb.Scope,
    lpb.NAME: lpb.Name,
    lpb.DATA_ENTRY: lpb.DataEntry,
    lpb.CONFIG_ENTRY: lpb.ConfigEntry,
    lpb.DATA: lpb.Data,
    lpb.CONFIG: lpb.Config,
    lpb.CONTROL: lpb.Control,
}
INDEX_KINDS = frozenset({lpb.SCOPE, lpb.NAME, lpb.DATA_ENTRY, lpb.CONFIG_ENTRY, lpb.CONTROL})
LOG_KINDS = frozenset({lpb.DATA, lpb.CONFIG})
_MAX_RECORD = 1 << 30  # the original's gRPC messages were capped far below this


@dataclass(frozen=True, slots=True)
class LegacyRecord:
    kind: int
    message: Message
    offset: int  # of the kind byte, in the file
    end: int


class LegacyFormatProblem(ValueError):
    """Bytes that are not records of the original format (the reason is the message)."""


def iter_records(
    data: bytes | memoryview, base: int = 0, kinds: frozenset[int] | None = None
) -> Iterator[LegacyRecord]:
    """The complete records in ``data`` (which starts at file offset ``base``), as the
    original's ``util.unpack`` read them: an incomplete last record ends the walk.
    Raises LegacyFormatProblem for an unknown kind or an undecodable payload."""
    view = memoryview(data)
    off, end = 0, len(view)
    while off + HEAD_SIZE <= end:
        kind, length = _HEAD.unpack_from(view, off)
        if kind not in MESSAGE_OF_KIND or (kinds is not None and kind not in kinds):
            raise LegacyFormatProblem(f"unknown record kind {kind} at offset {base + off}")
        if length > _MAX_RECORD:
            raise LegacyFormatProblem(f"record of {length} bytes at offset {base + off}")
        stop = off + HEAD_SIZE + length
        if stop > end:
            return
        msg = MESSAGE_OF_KIND[kind]()
        try:
            msg.ParseFromString(view[off + HEAD_SIZE : stop])
        except DecodeError as exc:
            raise LegacyFormatProblem(
                f"record at offset {base + off} does not decode: {exc}"
            ) from None
        yield LegacyRecord(kind, msg, base + off, base + stop)
        off = stop


def complete_prefix(data: bytes | memoryview) -> int:
    """Bytes of ``data`` taken by complete records (the rest is an incomplete record)."""
    view = memoryview(data)
    off = 0
    while off + HEAD_SIZE <= len(view):
        _, length = _HEAD.unpack_from(view, off)
        if off + HEAD_SIZE + length > len(view):
            break
        off += HEAD_SIZE + length
    return off


def looks_legacy(head: bytes, size: int, kinds: frozenset[int] | None = None) -> bool:
    """Does a file of ``size`` bytes starting with ``head`` hold the original's records?

    The first record must be whole within the file, of a known kind (of ``kinds``
    when given), and decode; every other record wholly within ``head`` too. Random
    bytes pass with a vanishing chance (a kind byte of 7 values, then a length no
    larger than the file, then a payload that decodes)."""
    if size < HEAD_SIZE or len(head) < HEAD_SIZE:
        return False
    kind, length = _HEAD.unpack_from(head, 0)
    if kind not in MESSAGE_OF_KIND or (kinds is not None and kind not in kinds):
        return False
    if HEAD_SIZE + length > size:
        return False
    if HEAD_SIZE + length > len(head):
        return True  # a first record larger than what we read: kind and length fit
    try:
        return any(True for _ in iter_records(head, 0, kinds))
    except LegacyFormatProblem:
        return False


def legacy_files(prefix: str) -> tuple[str, str]:
    """(``PREFIX.log``, ``PREFIX.idx``): the original's two files of a data prefix."""
    return f"{prefix}.log", f"{prefix}.idx"
