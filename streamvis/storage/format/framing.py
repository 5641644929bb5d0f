"""Record framing: length and payload, each guarded by a CRC32C.

A frame is ``u32 length | u32 crc(length) | payload | u32 crc(payload)`` (little endian),
as in TensorBoard's record writer but with a 32-bit length and a size cap. The
length's own checksum means a corrupted length is reported as corruption, never
mistaken for a torn tail; the cap means a forged length cannot make a reader
allocate gigabytes.

``scan_frames`` walks a buffer and stops at the first frame that is not complete:
what follows a torn tail is "end for now", what fails a checksum is corruption.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import crc32c

__all__ = [
    "FRAME_OVERHEAD",
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "Frame",
    "ScanStop",
    "encode_frame",
    "scan_frames",
    "checksum",
]

HEADER_SIZE = 8  # length + crc(length)
TRAILER_SIZE = 4  # crc(payload)
FRAME_OVERHEAD = HEADER_SIZE + TRAILER_SIZE
MAX_PAYLOAD = 64 * 1024 * 1024  # larger batches are split into several records

_U32 = struct.Struct("<I")
_HEADER = struct.Struct("<II")


def checksum(data: bytes | memoryview) -> int:
    """CRC32C of ``data`` (hardware accelerated where the CPU has it)."""
    return crc32c.crc32c(data)


def encode_frame(payload: bytes) -> bytes:
    """Frame one payload for appending to a log."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError(f"record of {n} bytes exceeds the {MAX_PAYLOAD}-byte cap")
    length = _U32.pack(n)
    return b"".join((length, _U32.pack(checksum(length)), payload, _U32.pack(checksum(payload))))


class ScanStop(Enum):
    """Why ``scan_frames`` stopped."""

    END = "end"  # the buffer ended exactly on a frame boundary
    TORN = "torn"  # the buffer ends inside a frame: a write in progress or a crash
    CORRUPT = "corrupt"  # a checksum failed, or a length is above the cap


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete frame found in a buffer; offsets are relative to the log."""

    offset: int  # where the frame starts
    end: int  # one past its last byte
    payload: memoryview
    crc: int  # the payload's CRC32C, as stored


@dataclass(slots=True)
class ScanResult:
    """Filled in by ``scan_frames`` when it stops."""

    stop: ScanStop = ScanStop.END
    stop_offset: int = 0  # log offset of the first byte not consumed
    reason: str = ""


def scan_frames(
    buf: bytes | memoryview, base_offset: int = 0, result: ScanResult | None = None
) -> Iterator[Frame]:
    """Yield the complete, valid frames at the start of ``buf``.

    ``base_offset`` is the log offset of ``buf[0]``. When iteration ends, ``result``
    (if given) says why and where: END, TORN (incomplete last frame) or CORRUPT.
    """
    view = memoryview(buf)
    size = len(view)
    pos = 0
    res = result if result is not None else ScanResult()
    while True:
        res.stop_offset = base_offset + pos
        if pos == size:
            res.stop = ScanStop.END
            return
        if size - pos < HEADER_SIZE:
            res.stop, res.reason = ScanStop.TORN, "incomplete frame header"
            return
        length, length_crc = _HEADER.unpack_from(view, pos)
        if checksum(view[pos : pos + 4]) != length_crc:
            res.stop, res.reason = ScanStop.CORRUPT, "length checksum mismatch"
            return
        if length > MAX_PAYLOAD:
            res.stop, res.reason = ScanStop.CORRUPT, f"length {length} above the cap"
            return
        end = pos + HEADER_SIZE + length + TRAILER_SIZE
        if end > size:
            res.stop, res.reason = ScanStop.TORN, "incomplete frame payload"
            return
        payload = view[pos + HEADER_SIZE : end - TRAILER_SIZE]
        (stored_crc,) = _U32.unpack_from(view, end - TRAILER_SIZE)
        if checksum(payload) != stored_crc:
            res.stop, res.reason = ScanStop.CORRUPT, "payload checksum mismatch"
            return
        yield Frame(base_offset + pos, base_offset + end, payload, stored_crc)
        pos = end
