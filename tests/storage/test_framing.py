"""Framing: every truncation is a torn tail, every flipped byte is detected."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from streamvis.storage.format.framing import (
    FRAME_OVERHEAD,
    MAX_PAYLOAD,
    ScanResult,
    ScanStop,
    encode_frame,
    scan_frames,
)


@given(st.lists(st.binary(max_size=300), max_size=8))
def test_frames_round_trip(payloads: list[bytes]) -> None:
    buf = b"".join(encode_frame(p) for p in payloads)
    res = ScanResult()
    got = [bytes(f.payload) for f in scan_frames(buf, 0, res)]
    assert got == payloads
    assert res.stop is ScanStop.END and res.stop_offset == len(buf)


def test_every_truncation_is_torn_and_keeps_the_earlier_frames() -> None:
    first, last = encode_frame(b"a" * 40), encode_frame(b"b" * 40)
    buf = first + last
    for cut in range(len(first) + 1, len(buf)):
        res = ScanResult()
        got = [bytes(f.payload) for f in scan_frames(buf[:cut], 0, res)]
        assert got == [b"a" * 40], cut
        assert res.stop is ScanStop.TORN, cut
        assert res.stop_offset == len(first)


def test_every_flipped_byte_is_detected() -> None:
    buf = encode_frame(b"x" * 30) + encode_frame(b"y" * 30)
    start = len(buf) // 2
    for pos in range(start, len(buf)):
        damaged = bytearray(buf)
        damaged[pos] ^= 0x20
        res = ScanResult()
        got = [bytes(f.payload) for f in scan_frames(bytes(damaged), 0, res)]
        assert got == [b"x" * 30], pos
        assert res.stop is ScanStop.CORRUPT, pos
        assert res.stop_offset == start


def test_forged_length_is_corruption_not_a_huge_read() -> None:
    length = struct.pack("<I", MAX_PAYLOAD + 1)
    import crc32c

    forged = length + struct.pack("<I", crc32c.crc32c(length)) + b"\0" * FRAME_OVERHEAD
    res = ScanResult()
    assert list(scan_frames(forged, 0, res)) == []
    assert res.stop is ScanStop.CORRUPT and "cap" in res.reason
