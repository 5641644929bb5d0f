"""Small arrays sent inside Bokeh's message instead of as a websocket frame each.

Bokeh sends every numpy array of a message as its own pair of websocket frames and
awaits each write. A page of 10,000 lines has 20,000 small arrays (x and y per
line): sent that way its first document took ~5 s of the server's event loop
while the browser sat idle. ``InlineArray`` is a numpy array that Bokeh encodes
in the message JSON (base64), the way it encodes arrays outside the server; the
web app wraps the per-line arrays in it. Large arrays stay separate frames.
"""

from __future__ import annotations

import base64
import gzip
import sys
from typing import Any

import numpy as np
from bokeh.core.serialization import Serializer

__all__ = ["InlineArray", "inline", "INLINE_MAX_BYTES"]

INLINE_MAX_BYTES = 256 << 10  # above this an array is worth a frame of its own


class InlineArray(np.ndarray):
    """A numpy array that Bokeh serializes inline (see the module doc)."""


def inline(a: np.ndarray) -> np.ndarray:
    """``a`` as an ``InlineArray`` when it is small enough, else unchanged."""
    return a.view(InlineArray) if a.nbytes <= INLINE_MAX_BYTES else a


def _gzip(a: np.ndarray) -> bytes:
    return gzip.compress(a.tobytes(), compresslevel=1, mtime=1)


def _encode(obj: InlineArray, serializer: Serializer) -> Any:
    a = np.ascontiguousarray(obj.view(np.ndarray))
    return {
        "type": "ndarray",
        # BokehJS reads inline bytes as base64 of gzip; level 1: the spare NaN capacity
        # of a row compresses to nothing at little cost
        "array": {"type": "bytes", "data": base64.b64encode(_gzip(a)).decode("ascii")},
        "shape": list(a.shape),
        "dtype": a.dtype.name,
        "order": sys.byteorder,
    }


if InlineArray not in Serializer._encoders:  # noqa: SLF001 - Bokeh's registration point
    Serializer.register(InlineArray, _encode)
