"""A reader of TFRecord framing (TensorBoard event files) that says where it stopped.

Each record is: uint64 length (little-endian), uint32 masked CRC-32C of those 8
bytes, ``length`` bytes of payload, uint32 masked CRC-32C of the payload
(tensorboard/summary/writer/record_writer.py). tensorboard's own loader stops
silently at a torn tail and at a bad checksum; this reader yields every whole
record with its end offset and then reports why it stopped: the end of the file,
a torn tail (the file ends inside a record: a writer still running, or a crash), or
a corrupt record (a checksum failed: the bytes were damaged).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import crc32c

__all__ = ["RecordStop", "iter_records", "masked_crc", "frame"]

_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
CHUNK = 8 << 20
MAX_RECORD = 1 << 31  # the protobuf limit; a larger length is damage


def masked_crc(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One framed record (used by tests and benchmarks to build files)."""
    head = struct.pack("<Q", len(payload))
    return head + _CRC.pack(masked_crc(head)) + payload + _CRC.pack(masked_crc(payload))


@dataclass
class RecordStop:
    """Why reading stopped: ``kind`` is "end", "torn" or "corrupt"; ``offset`` is the
    byte where the first unread record starts; ``detail`` says what failed."""

    kind: str = "end"
    offset: int = 0
    detail: str = ""


def iter_records(f: BinaryIO, start: int, stop: RecordStop,
                 chunk: int = CHUNK) -> Iterator[tuple[int, memoryview]]:
    """Yield ``(end_offset, payload)`` for each whole record of ``f`` from byte
    ``start``; on return ``stop`` says why it ended. A payload is valid until the
    next record is requested."""
    f.seek(start)
    buf = b""
    pos = 0  # position in buf
    base = start  # file offset of buf[0]
    stop.kind, stop.offset, stop.detail = "end", start, ""
    eof = False
    while True:
        if len(buf) - pos < _HEADER.size and not eof:
            buf, base, pos, eof = _refill(f, buf, base, pos, _HEADER.size, chunk)
        avail = len(buf) - pos
        if avail == 0:
            return
        if avail < _HEADER.size:
            stop.kind, stop.offset = "torn", base + pos
            stop.detail = f"the file ends {avail} bytes into a record header"
            return
        length, len_crc = _HEADER.unpack_from(buf, pos)
        if masked_crc(memoryview(buf)[pos:pos + 8]) != len_crc:
            stop.kind, stop.offset = "corrupt", base + pos
            stop.detail = "the checksum of the record length does not match"
            return
        if length > MAX_RECORD:
            stop.kind, stop.offset = "corrupt", base + pos
            stop.detail = f"a record length of {length} bytes is impossible"
            return
        need = _HEADER.size + length + _CRC.size
        if len(buf) - pos < need and not eof:
            buf, base, pos, eof = _refill(f, buf, base, pos, need, chunk)
        if len(buf) - pos < need:
            stop.kind, stop.offset = "torn", base + pos
            stop.detail = (f"the file ends {len(buf) - pos} bytes into a record of "
                           f"{need} bytes")
            return
        mv = memoryview(buf)
        start_data = pos + _HEADER.size
        payload = mv[start_data:start_data + length]
        (data_crc,) = _CRC.unpack_from(buf, start_data + length)
        if masked_crc(payload) != data_crc:
            stop.kind, stop.offset = "corrupt", base + pos
            stop.detail = "the checksum of the record's data does not match"
            return
        pos += need
        stop.offset = base + pos
        yield base + pos, payload


def _refill(f: BinaryIO, buf: bytes, base: int, pos: int, need: int,
            chunk: int) -> tuple[bytes, int, int, bool]:
    """Keep buf[pos:] and read until ``need`` bytes are there or the file ends."""
    rest = buf[pos:]
    base += pos
    parts = [rest]
    have = len(rest)
    eof = False
    while have < need:
        data = f.read(max(chunk, need - have))
        if not data:
            eof = True
            break
        parts.append(data)
        have += len(data)
    return b"".join(parts), base, 0, eof
