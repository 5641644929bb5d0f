"""Images read back: PNG bytes as stored to HxWxC uint8 arrays (Pillow)."""

from __future__ import annotations

import io

import numpy as np

from streamvis.errors import CorruptDataError

__all__ = ["decode_png"]

_KEEP = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def decode_png(png: bytes) -> np.ndarray:
    """HxWxC uint8 (C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) of a stored PNG; a palette
    or 16-bit PNG (TensorBoard imports) is converted to RGB(A) or 8-bit grey."""
    from PIL import Image, UnidentifiedImageError

    try:
        img: Image.Image = Image.open(io.BytesIO(png))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CorruptDataError(f"stored image does not decode as PNG: {exc}") from None
    if img.mode not in _KEEP:
        if img.mode in ("I", "I;16", "I;16B", "F"):
            arr16 = np.asarray(img, dtype=np.float64)
            top = 65535.0 if img.mode.startswith("I") else 1.0
            return np.rint(np.clip(arr16 / top, 0, 1) * 255).astype(np.uint8)[:, :, None]
        img = img.convert("RGBA" if "transparency" in img.info or "A" in img.mode else "RGB")
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr
