"""Image and text records (issue 24): checking them, their records, where they live.

An image is stored as the PNG bytes it was given (a ``Record.image``), a text as a
``Record.text``; both name (scope, name, step) and carry their own wall time. The
index keeps, per (scope, name), the location of the latest record of each step
(``MediaEntry``); reading one image is one ranged read of its frame. Media live
beside the numeric groups, never among them: ``names``, ``groups`` and exports of
numbers do not see them.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from streamvis.errors import CorruptDataError, InvalidArgumentError
from streamvis.limits import check_key, preview
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.framing import MAX_PAYLOAD, scan_frames
from streamvis.storage.format.model import Image, Text

__all__ = [
    "MAX_PNG_BYTES",
    "MAX_TEXT_BYTES",
    "MediaEntry",
    "MediaName",
    "png_size",
    "check_media",
    "media_record_body",
    "read_media_records",
    "media_item",
    "media_from_body",
    "media_kind",
]

MAX_PNG_BYTES = MAX_PAYLOAD - (1 << 20)  # one record holds one image
MAX_TEXT_BYTES = 1 << 20
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # PNG colour type -> channels (3: palette)
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(slots=True)
class MediaEntry:
    """Where the record of one step lives."""

    key: str
    offset: int
    length: int  # whole frame
    wall_time: float


@dataclass(slots=True)
class MediaName:
    """The steps of one image or text name: step -> its latest record."""

    kind: str  # "image" or "text"
    steps: dict[int, MediaEntry] = field(default_factory=dict)


def png_size(png: bytes, where: str = "") -> tuple[int, int, int]:
    """(width, height, channels) from a PNG's header; InvalidArgumentError if not a PNG."""
    if len(png) < 33 or png[:8] != _PNG_MAGIC or png[12:16] != b"IHDR":
        raise InvalidArgumentError(f"{where}image bytes are not a PNG (no PNG header)")
    width, height, _depth, colour = struct.unpack(">IIBB", png[16:26])
    if colour not in _CHANNELS or not width or not height:
        raise InvalidArgumentError(f"{where}PNG header has colour type {colour} and size {width}x{height}")
    return width, height, _CHANNELS[colour]


def _check_step(step: object, where: str) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or not _INT64[0] <= step <= _INT64[1]:
        raise InvalidArgumentError(f"{where}step must be an int64, got {preview(repr(step))}")
    return step


def check_media(item: object, limits: bool = True) -> None:
    """Validate an ``Image`` or ``Text`` before it is written (InvalidArgumentError)."""
    scope, name = item.scope, item.name  # type: ignore[attr-defined]
    if limits:
        check_key("scope", scope)
        check_key("name", name)
    elif not isinstance(scope, str) or not scope or not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"scope and name must be non-empty strings, got {scope!r}, {name!r}")
    where = f"scope {preview(scope)}, name {preview(name)}: "
    _check_step(item.step, where)  # type: ignore[attr-defined]
    wall = item.wall_time  # type: ignore[attr-defined]
    if not isinstance(wall, float | int) or not math.isfinite(wall):
        raise InvalidArgumentError(f"{where}wall_time must be a finite number, got {wall!r}")
    if isinstance(item, Image):
        if not isinstance(item.png, bytes | bytearray | memoryview):
            raise InvalidArgumentError(f"{where}image must be PNG bytes, got {type(item.png).__name__}")
        if len(item.png) > MAX_PNG_BYTES:
            raise InvalidArgumentError(
                f"{where}PNG of {len(item.png)} bytes is over the {MAX_PNG_BYTES}-byte limit"
            )
        png_size(bytes(item.png[:33]), where)
    else:
        if not isinstance(item.text, str):  # type: ignore[attr-defined]
            raise InvalidArgumentError(f"{where}text must be a str, got {type(item.text).__name__}")  # type: ignore[attr-defined]
        if len(item.text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:  # type: ignore[attr-defined]
            raise InvalidArgumentError(f"{where}text is over the {MAX_TEXT_BYTES}-byte limit")


def media_record_body(item: object) -> pb.Image | pb.Text:
    """The record body of a checked ``Image`` or ``Text``."""
    if isinstance(item, Image):
        w, h, c = png_size(bytes(item.png[:33]))
        return pb.Image(scope=item.scope, name=item.name, step=item.step, png=bytes(item.png),
                        width=w, height=h, channels=c, wall_time=float(item.wall_time))
    return pb.Text(scope=item.scope, name=item.name, step=item.step,  # type: ignore[attr-defined]
                   text=item.text, wall_time=float(item.wall_time))  # type: ignore[attr-defined]


def invalid_media(rec: pb.Record, kind: str) -> str:
    """Why a parsed image/text record could not have been written ("" if it could)."""
    body = rec.image if kind == "image" else rec.text
    if not body.scope or not body.name:
        return f"{kind} record without scope or name"
    return ""


def decode_media(payload: bytes, where: str) -> pb.Record:
    """The image/text record in a frame's payload (CorruptDataError otherwise)."""
    try:
        rec = pb.Record.FromString(payload)
    except Exception as exc:
        raise CorruptDataError(f"media record {where} does not decode: {exc}", offset=-1) from None
    if rec.WhichOneof("body") not in ("image", "text"):
        raise CorruptDataError(f"record {where} is not an image or text record", offset=-1)
    return rec


def read_media_records(backend: LogBackend, entries: list[MediaEntry]) -> list[pb.Record]:
    """The records at ``entries`` (one ranged read each, batched by the backend)."""
    datas = backend.read_many([(e.key, e.offset, e.length) for e in entries])
    out = []
    for e, data in zip(entries, datas, strict=True):
        where = f"at offset {e.offset} of {e.key or 'the log'}"
        frame = next(iter(scan_frames(data, e.offset)), None)
        if frame is None or len(data) != e.length:
            raise CorruptDataError(f"media record {where} is not a whole frame", offset=e.offset)
        out.append(decode_media(bytes(frame.payload), where))
    return out


def media_item(rec: pb.Record) -> Image | Text:
    """The ``Image`` or ``Text`` of a media record."""
    return media_from_body(rec.image if rec.WhichOneof("body") == "image" else rec.text)


def media_from_body(body: pb.Image | pb.Text) -> Image | Text:
    """The ``Image`` or ``Text`` of a record body (also a wire message's)."""
    if isinstance(body, pb.Image):
        return Image(body.scope, body.name, int(body.step), bytes(body.png), body.wall_time)
    return Text(body.scope, body.name, int(body.step), body.text, body.wall_time)


def media_kind(item: object) -> str | None:
    """"image", "text", or None for any other item."""
    return "image" if isinstance(item, Image) else "text" if isinstance(item, Text) else None
