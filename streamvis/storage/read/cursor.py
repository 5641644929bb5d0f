"""Cursors: opaque strings naming a position in one generation of one log.

A cursor holds the log id, the generation (bumped by compaction) and the backend's
positions (``{"": offset}`` for a local file, per-writer sequence numbers for
segments). A cursor of another generation is a ``CursorResetError``, never a read
of wrong data.
"""

from __future__ import annotations

import base64
import json

from streamvis.errors import CursorResetError, InvalidArgumentError

__all__ = ["NOT_A_POSITION", "encode_cursor", "decode_cursor", "cursor_positions", "positions_within"]

# a cursor whose positions are not batch boundaries of this log (forged or mangled):
# the reader starts over, as after a compaction
NOT_A_POSITION = (
    "the cursor does not point at a batch boundary of this log: read again from the "
    "start (since=None)"
)


def positions_within(start: dict[str, int], end: dict[str, int]) -> bool:
    """Are a cursor's positions inside the log's ``end`` (else it is forged or mangled)?"""
    return all(k in end and 0 <= v <= end[k] for k, v in start.items())


def encode_cursor(log_id: bytes, generation: int, positions: dict[str, int]) -> str:
    """The opaque cursor string for a position."""
    doc = {"l": log_id.hex(), "g": generation, "p": positions}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def cursor_positions(cursor: str, log_id: bytes) -> tuple[int, dict[str, int]]:
    """(generation, positions) of a cursor of this log; errors when it is malformed."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        cur_log, gen = doc["l"], int(doc["g"])
        positions = {str(k): int(v) for k, v in doc["p"].items()}
    except Exception:
        raise InvalidArgumentError(f"not a streamvis cursor: {str(cursor)[:80]!r}") from None
    if cur_log == "":  # taken from an empty file before its first writer: the start
        return gen, {}
    if cur_log != log_id.hex():
        raise InvalidArgumentError("the cursor belongs to another log")
    return gen, positions


def decode_cursor(cursor: str, log_id: bytes, generation: int) -> dict[str, int]:
    """The positions in ``cursor``; errors when it is malformed or of another log/generation."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        cur_log, gen = doc["l"], int(doc["g"])
        positions = {str(k): int(v) for k, v in doc["p"].items()}
    except Exception:
        raise InvalidArgumentError(f"not a streamvis cursor: {str(cursor)[:80]!r}") from None
    if cur_log == "":  # taken from an empty file before its first writer: the start
        return {}
    if cur_log != log_id.hex():
        raise InvalidArgumentError("the cursor belongs to another log")
    if gen != generation:
        raise CursorResetError(
            f"the cursor is from generation {gen} but the log was compacted into "
            f"generation {generation}: read again from the start (since=None)"
        )
    return positions
