"""Images for ``DataLogger.write_image``: checked and captured at the call, encoded at flush.

At the call (``capture_image``) only the value's type, dtype and shape are read, and
a snapshot is taken that later in-place changes cannot alter: a numpy copy, a torch
clone on the tensor's own device (a CPU tensor: a numpy copy, see ``_host_copy``), a
jax array as it is (immutable). Nothing moves to
the host and no device synchronises there. Refused at the call, one line naming the
shape and dtype given and what is accepted: a rank, channel count or dtype outside
what is accepted, a ``dataformats`` that does not fit the rank, an image over
``MAX_PIXELS`` (16 megapixels), and NaN in a float *numpy* image.

On the flush thread (``PendingImage.to_item``) the snapshot is copied to the host
(torch ``.cpu()``, ``jax.device_get``), checked for NaN (torch and jax: checking at
the call would synchronise the device; such an image is dropped with one warning
per name), converted to HxWxC uint8 (floats in [0, 1]: ``rint(x * 255)``, clipped)
and PNG-encoded with Pillow.

Layouts (``dataformats``, TensorBoard's names): "HW", "HWC", "CHW" for one image;
"NHWC", "NCHW" (and "NHW") for a batch, which is stored as ONE image: the batch
tiled into a grid of ``ceil(sqrt(N))`` columns (TensorBoard's ``add_images`` does
the same), left to right, top to bottom, empty cells black. Channels: 1 (grey), 3
(RGB) or 4 (RGBA).
"""

from __future__ import annotations

import io
import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamvis.errors import InvalidArgumentError
from streamvis.limits import check_key
from streamvis.logger.tensors import adapt, isinstance_by_name
from streamvis.storage.format.model import Image, Text
from streamvis.storage.format.records import normalize_items

__all__ = ["MAX_PIXELS", "PendingImage", "capture_image", "text_item", "to_uint8_hwc", "encode_png", "tile"]

log = logging.getLogger("streamvis.logger")

MAX_PIXELS = 16_000_000  # per image (a batch: per image of it)
_LAYOUTS = {"HW": 2, "HWC": 3, "CHW": 3, "NHW": 3, "NHWC": 4, "NCHW": 4}
_FLOATS = {"float16", "float32", "float64", "bfloat16"}
_ACCEPTED = ("accepted: HxW or HxWxC (C = 1, 3, 4; dataformats 'HW', 'HWC', 'CHW', 'NHW', "
             "'NHWC', 'NCHW'), uint8 or float in [0, 1], at most 16 megapixels per image")
_warned: set[tuple[str, str]] = set()


@dataclass(slots=True)
class PendingImage:
    """An image captured at the call, not yet on the host nor encoded."""

    scope: str
    name: str
    step: int
    wall_time: float
    value: Any  # numpy copy, torch clone, or jax array
    layout: str
    nbytes: int

    def to_item(self) -> Image | None:
        """Host copy, checks, conversion and PNG encoding (on the flush thread); None
        (one warning per name) when the image cannot be stored."""
        try:
            host = _to_host(self.value)
            if host.dtype.kind == "f" and np.isnan(host).any():
                raise InvalidArgumentError("holds NaN; images must be finite floats in [0, 1]")
            png = encode_png(to_uint8_hwc(host, self.layout))
        except Exception as exc:
            key = (self.scope, self.name)
            if key not in _warned:
                _warned.add(key)
                log.warning("streamvis: scope %r, image %r: dropped the image of step %d: %s",
                            self.scope, self.name, self.step, exc)
            return None
        return Image(self.scope, self.name, self.step, png, self.wall_time)


def _describe(shape: tuple[int, ...], dtype: object) -> str:
    return f"shape {tuple(int(d) for d in shape)} and dtype {dtype}"


def _dtype_name(value: Any) -> tuple[str, str]:
    """(kind: numpy/torch/jax, dtype name) without touching the data."""
    t = type(value)
    if isinstance(value, np.ndarray):
        return "numpy", str(value.dtype)
    if "torch" in _modules() and isinstance_by_name(t, "torch", "Tensor"):
        return "torch", str(value.dtype).removeprefix("torch.")
    if "jax" in _modules() and isinstance_by_name(t, "jax", "Array"):
        return "jax", str(value.dtype)
    if "jax" in _modules() and issubclass(t, _modules()["jax"].core.Tracer):
        raise InvalidArgumentError(
            f"image of shape {tuple(value.shape)} is a jax tracer: write_image cannot be called "
            "inside jit/vmap/grad; return the image from the traced function and log it outside")
    raise InvalidArgumentError(
        f"image must be a numpy, torch or jax array, got {t.__name__}; {_ACCEPTED}"
    )


def _modules() -> Any:
    return sys.modules


_U8 = np.dtype(np.uint8)
_I64_LO, _I64_HI = -(2**63), 2**63 - 1
_names_ok: set[str] = set()  # names that passed check_key (the fast path skips it)


def capture_image(scope: str, name: str, image: Any, step: int, dataformats: str = "HWC") -> PendingImage:
    """Check ``image`` from its shape and dtype and snapshot it (no host copy, no sync)."""
    if (type(image) is np.ndarray and image.dtype is _U8 and image.ndim == 3
            and dataformats == "HWC" and type(step) is int and _I64_LO <= step <= _I64_HI
            and name in _names_ok):
        h, w, c = image.shape  # the common case: an HxWxC uint8 numpy image
        if (c == 3 or c == 1 or c == 4) and 0 < h * w <= MAX_PIXELS:
            snap = image.copy()
            return PendingImage(scope, name, step, time.time(), snap, "HWC", snap.nbytes)
    return _capture_checked(scope, name, image, step, dataformats)


def _capture_checked(scope: str, name: str, image: Any, step: int, dataformats: str) -> PendingImage:
    """Every check, and every error message (see the module docstring)."""
    check_key("name", name)
    _names_ok.add(name)
    if (isinstance(step, bool) or not isinstance(step, int | np.integer)
            or not _I64_LO <= int(step) <= _I64_HI):
        raise InvalidArgumentError(f"image {name!r}: step must be an int64, got {step!r}")
    if isinstance(image, list | tuple):
        image = np.asarray(image)
    kind, dtype = _dtype_name(image)
    shape = tuple(int(d) for d in image.shape)
    where = f"image {name!r}: "
    layout = dataformats.upper() if isinstance(dataformats, str) else dataformats
    if layout not in _LAYOUTS:
        raise InvalidArgumentError(f"{where}dataformats {dataformats!r} is not one of {sorted(_LAYOUTS)}")
    if layout == "HWC" and len(shape) == 2:
        layout = "HW"  # TensorBoard's default names HWC; an HxW array is grey
    if len(shape) != _LAYOUTS[layout]:
        raise InvalidArgumentError(f"{where}{_describe(shape, dtype)} does not fit dataformats "
                                   f"{layout!r} (rank {_LAYOUTS[layout]}); {_ACCEPTED}")
    if dtype != "uint8" and dtype not in _FLOATS:
        raise InvalidArgumentError(f"{where}{_describe(shape, dtype)}: dtype not accepted; {_ACCEPTED}")
    dims = dict(zip(layout, shape, strict=True))
    channels = dims.get("C", 1)
    if channels not in (1, 3, 4):
        raise InvalidArgumentError(f"{where}{_describe(shape, dtype)}: {channels} channels; {_ACCEPTED}")
    if dims["H"] * dims["W"] > MAX_PIXELS or not dims["H"] or not dims["W"] or not dims.get("N", 1):
        raise InvalidArgumentError(f"{where}{_describe(shape, dtype)}: an image must have 1 to "
                                   f"{MAX_PIXELS} pixels (16 megapixels); {_ACCEPTED}")
    n = dims.get("N", 1)
    cols = math.ceil(math.sqrt(n))
    if math.ceil(n / cols) * cols * dims["H"] * dims["W"] > MAX_PIXELS:
        raise InvalidArgumentError(f"{where}{_describe(shape, dtype)}: the batch tiles to more than "
                                   f"{MAX_PIXELS} pixels (16 megapixels); log fewer images")
    if kind == "numpy":
        if image.dtype.kind == "f" and np.isnan(image).any():
            raise InvalidArgumentError(f"{where}{_describe(shape, dtype)} holds NaN; {_ACCEPTED}")
        snap = image.copy()
        nbytes = snap.nbytes
    elif kind == "torch":
        v = image.detach() if image.requires_grad else image
        snap = _host_copy(v) if v.device.type == "cpu" else None
        if snap is None:
            snap = v.clone()  # on its device: no sync (a GPU tensor's copy is queued)
        nbytes = math.prod(shape) * v.element_size()
    else:  # jax arrays are immutable: kept (a replicated one: its first local copy)
        try:
            snap = adapt(image)[2]  # refuses tracers and arrays split over devices
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{where}{_describe(shape, dtype)} {exc}") from None
        nbytes = math.prod(shape) * image.dtype.itemsize
    return PendingImage(scope, name, int(step), time.time(), snap, layout, nbytes)


def _host_copy(tensor: Any) -> np.ndarray | None:
    """A CPU torch tensor's snapshot as a numpy copy (None: a dtype numpy lacks, or a
    subclass of Tensor, which keeps torch's own clone). numpy copies on the calling
    thread; torch's ``clone`` of an image runs on its intra-op thread pool, whose
    sleeping workers took 2-20 ms to wake on a busy 2-core machine (against ~40 us)."""
    if type(tensor).__name__ != "Tensor" or type(tensor).__module__ != "torch":
        return None
    try:
        return np.array(tensor.numpy())  # a copy
    except (TypeError, RuntimeError):  # bfloat16; a conjugate or negative view
        return None


def _to_host(value: Any) -> np.ndarray:
    """The one device-to-host copy of a snapshot (flush thread)."""
    if isinstance(value, np.ndarray):
        return value
    if "torch" in _modules() and isinstance_by_name(type(value), "torch", "Tensor"):
        import torch

        host = value.cpu()
        if host.dtype is torch.bfloat16 or host.dtype is torch.float16:
            host = host.float()
        return np.asarray(host.numpy())
    import jax

    host = np.asarray(jax.device_get(value))
    return host if host.dtype == np.uint8 else host.astype(np.float32)


def to_uint8_hwc(arr: np.ndarray, layout: str) -> np.ndarray:
    """HxWxC uint8 from a host array in ``layout`` (a batch tiled into one grid)."""
    if layout == "HW":
        arr = arr[:, :, None]
    elif layout == "CHW":
        arr = arr.transpose(1, 2, 0)
    elif layout == "NHW":
        arr = arr[..., None]
    elif layout == "NCHW":
        arr = arr.transpose(0, 2, 3, 1)
    if arr.dtype != np.uint8:
        arr = np.rint(np.clip(arr.astype(np.float32, copy=False), 0.0, 1.0) * 255.0).astype(np.uint8)
    if arr.ndim == 4:
        arr = tile(arr)
    return np.ascontiguousarray(arr)


def tile(batch: np.ndarray) -> np.ndarray:
    """N images (NxHxWxC) as one grid of ceil(sqrt(N)) columns, empty cells black."""
    n, h, w, c = batch.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    if rows * h * cols * w > MAX_PIXELS:
        raise InvalidArgumentError(f"a batch of {n} images of {h}x{w} tiles to more than "
                                   f"{MAX_PIXELS} pixels (16 megapixels)")
    grid = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = batch[i]
    return grid


def encode_png(arr: np.ndarray) -> bytes:
    """PNG bytes of an HxWxC uint8 array (C = 1, 3, 4), zlib level 6 (Pillow's default)."""
    from PIL import Image as PILImage

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    img = PILImage.fromarray(arr[:, :, 0] if mode == "L" else arr, mode)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def text_item(scope: str, name: str, text: str, step: int) -> Text:
    """A checked ``Text`` for ``write_text`` (InvalidArgumentError names what is wrong)."""
    item = Text(scope, check_key("name", name), step, text, time.time())
    normalize_items([item])  # the step, the text's type and size
    return item
