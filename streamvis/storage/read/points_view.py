"""A points record's columns as views into the read buffer, without protobuf's copies.

``pb.Record.FromString`` of a memoryview copies the whole payload, and every access
to a column's ``data`` copies its bytes again: a read of large records held each
record three times over. ``points_view`` walks the wire format of a CRC-checked
payload instead and returns the column bytes as slices of the buffer itself, so a
read holds only its read window besides the output arrays.

It understands exactly the fields of ``Record``/``Points``/``Column`` in
``data.proto`` as the writer emits them. Anything else (an unknown field, a field
repeated where the writer writes it once, a wrong wire type, a truncated length, a
name that is not UTF-8) returns ``None`` and the caller parses with protobuf, so
behaviour on unusual or damaged payloads is protobuf's own.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ColumnView", "PointsView", "points_view"]

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_POINTS = 11  # Record.points
_OTHER_BODIES = frozenset({10, 12, 13, 14})  # header, config, delete, commit
_RECORD_SKIP = {1: _FIXED64, 2: _LEN, 3: _VARINT}  # wall_time, writer_id, seq
_POINTS_SKIP = {3: _VARINT, 6: _FIXED64, 7: _FIXED64}  # index, x_min, x_max
_ENUM_MAX = 1 << 31


@dataclass(slots=True)
class ColumnView:
    """The fields of ``pb.Column`` that ``codec.decode_column_into`` reads."""

    name: str
    dtype: int
    encoding: int
    length: int
    data: memoryview


@dataclass(slots=True)
class PointsView:
    """The fields of ``pb.Points`` a read decodes: its count and columns."""

    count: int
    columns: list[ColumnView]


class _Unusual(Exception):
    """Not the writer's plain encoding: let protobuf parse it."""


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while pos < end:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            break
    raise _Unusual


def _field(buf: memoryview, pos: int, end: int) -> tuple[int, int, int, int]:
    """``(number, wire type, value or length, position after)`` of the field at pos;
    for a length-delimited field the value is its length and pos its first byte."""
    tag, pos = _varint(buf, pos, end)
    wire = tag & 7
    if wire == _VARINT:
        value, pos = _varint(buf, pos, end)
        return tag >> 3, wire, value, pos
    if wire == _FIXED64:
        if pos + 8 > end:
            raise _Unusual
        return tag >> 3, wire, 0, pos + 8
    if wire == _FIXED32:
        if pos + 4 > end:
            raise _Unusual
        return tag >> 3, wire, 0, pos + 4
    if wire == _LEN:
        length, pos = _varint(buf, pos, end)
        if pos + length > end:
            raise _Unusual
        return tag >> 3, wire, length, pos
    raise _Unusual  # groups


def _skip(value: int, pos: int, wire: int) -> int:
    return pos + value if wire == _LEN else pos


def _text(buf: memoryview, pos: int, length: int) -> str:
    try:
        return str(buf[pos : pos + length], "utf-8")
    except UnicodeDecodeError:  # protobuf refuses such a string field
        raise _Unusual from None


def _column(buf: memoryview, pos: int, end: int) -> ColumnView:
    name, dtype, encoding, length = "", 0, 0, 0
    data = buf[pos:pos]
    while pos < end:
        number, wire, value, pos = _field(buf, pos, end)
        if number == 5 and wire == _LEN:
            data = buf[pos : pos + value]
            pos += value
        elif number == 1 and wire == _LEN:
            name = _text(buf, pos, value)
            pos += value
        elif number in (2, 3) and wire == _VARINT and value < _ENUM_MAX:
            if number == 2:
                dtype = value
            else:
                encoding = value
        elif number == 4 and wire == _VARINT:
            length = value
        else:
            raise _Unusual
    return ColumnView(name, dtype, encoding, length, data)


def _points(buf: memoryview, pos: int, end: int) -> PointsView:
    count = 0
    columns: list[ColumnView] = []
    while pos < end:
        number, wire, value, pos = _field(buf, pos, end)
        if number == 4 and wire == _LEN:
            columns.append(_column(buf, pos, pos + value))
            pos += value
        elif number == 5 and wire == _VARINT:
            count = value
        elif number in (1, 2) and wire == _LEN:  # scope, name: checked, not kept
            _text(buf, pos, value)
            pos += value
        elif _POINTS_SKIP.get(number) == wire:
            pos = _skip(value, pos, wire)
        else:
            raise _Unusual
    return PointsView(count, columns)


def points_view(payload: memoryview) -> PointsView | None:
    """The points body of a record payload as views into ``payload``; ``None`` when the
    payload is not in the writer's plain encoding (parse it with protobuf then)."""
    try:
        pos, end = 0, len(payload)
        body: tuple[int, int] | None = None
        seen_points = False
        while pos < end:
            number, wire, value, pos = _field(payload, pos, end)
            if number == _POINTS and wire == _LEN:
                if seen_points:
                    raise _Unusual  # protobuf would merge the two
                seen_points = True
                body = (pos, pos + value)
                pos += value
            elif number in _OTHER_BODIES and wire == _LEN:
                raise _Unusual  # not (only) points: protobuf decides the oneof
            elif _RECORD_SKIP.get(number) == wire:
                pos = _skip(value, pos, wire)
            else:
                raise _Unusual
        if body is None:
            return None
        return _points(payload, *body)
    except _Unusual:
        return None
