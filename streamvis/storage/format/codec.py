"""Column payloads: numpy arrays to and from the ``Column`` message.

Stored dtypes are float32, float64, int32 and int64. Narrower or exotic dtypes
are widened on the way in: bool, int8, int16, uint8, uint16 -> int32; uint32 -> int64;
float16 and bfloat16 -> float32. uint64 is accepted only when every value fits int64.

Data is stored as the raw little-endian array, so decoding is ``numpy.frombuffer``.
Integer columns are delta encoded (steps become a run of small equal numbers) and
any column is zstd-compressed when that saves at least 10%; both decode at memory
speed. Sorted float64 columns (time stamps: ``wall_time``) are delta encoded on
their bit patterns (``BITS_DELTA_ZSTD``): exact, and 1-2 bytes per regular stamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError, ReservedNameError
from streamvis.limits import check_key
from streamvis.proto import data_pb2 as pb

__all__ = [
    "RESERVED_COLUMNS",
    "STORED_DTYPES",
    "normalize_array",
    "validate_column_name",
    "encode_column",
    "decode_column",
    "decode_column_into",
    "column_dtype",
    "dtype_name",
]

RESERVED_COLUMNS = frozenset({"scope", "name", "index"})

STORED_DTYPES: dict[np.dtype, Any] = {
    np.dtype("<f4"): pb.FLOAT32,
    np.dtype("<f8"): pb.FLOAT64,
    np.dtype("<i4"): pb.INT32,
    np.dtype("<i8"): pb.INT64,
}
_DTYPE_OF_CODE = {code: dt for dt, code in STORED_DTYPES.items()}
_WIDEN: dict[str, np.dtype] = {
    "b1": np.dtype("<i4"),
    "i1": np.dtype("<i4"),
    "i2": np.dtype("<i4"),
    "u1": np.dtype("<i4"),
    "u2": np.dtype("<i4"),
    "u4": np.dtype("<i8"),
    "f2": np.dtype("<f4"),
}
_COMPRESS_MIN_BYTES = 512  # integer deltas: worth trying from here
_COMPRESS_MIN_FLOAT_BYTES = 64 << 10  # floats rarely halve; trying costs ~25 us per 4 KiB
_ZSTD = pa.Codec("zstd", compression_level=1)


_NAMES = {np.dtype(n): n for n in ("float32", "float64", "int32", "int64")}


def dtype_name(dtype: np.dtype) -> str:
    """Short name used in messages and schemas: 'float32', 'int64', ...

    (``np.dtype.name`` costs ~10 us; this lookup is on the append path.)"""
    name = _NAMES.get(dtype)
    return name if name is not None else np.dtype(dtype).name


def validate_column_name(column: str, *, where: str = "", limits: bool = True) -> None:
    """Raise unless ``column`` is a usable column name: a non-empty string, not
    reserved, and (``limits``) without NUL and at most ``MAX_KEY_BYTES`` of UTF-8."""
    if not isinstance(column, str) or not column:
        raise InvalidArgumentError(f"{where}column names must be non-empty strings, got {column!r}")
    if column in RESERVED_COLUMNS:
        raise ReservedNameError(
            f"{where}column {column!r} is reserved (reserved: scope, name, index); rename it"
        )
    if limits:
        check_key("column name", column, where)


def normalize_array(value: object, *, column: str = "", where: str = "") -> np.ndarray:
    """``value`` as a contiguous little-endian array of a stored dtype (widened if needed)."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    kind = arr.dtype.kind
    label = f"{where}column {column!r}" if column else f"{where}value"
    if arr.dtype in STORED_DTYPES:
        return np.ascontiguousarray(arr)  # the common case, checked first
    if arr.dtype.name == "bfloat16":
        arr = arr.astype(np.float32)
    elif kind in "fi" and arr.dtype.itemsize in (4, 8):
        pass
    elif kind == "u" and arr.dtype.itemsize == 8:
        if arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise InvalidArgumentError(f"{label}: uint64 values above int64 range cannot be stored")
        arr = arr.astype(np.int64)
    elif kind in "biuf" and arr.dtype.str[1:] in _WIDEN:
        arr = arr.astype(_WIDEN[arr.dtype.str[1:]])
    else:
        raise InvalidArgumentError(
            f"{label} has dtype {arr.dtype} ({type(value).__name__}); expected numbers: "
            "float32, float64, int32, int64 (bool, int8/16, uint8/16/32, float16, bfloat16 are widened)"
        )
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr)


def encode_column(name: str, arr: np.ndarray, *, compress: bool = True) -> pb.Column:
    """One 1-D stored-dtype array as a ``Column`` message.

    Integers in arithmetic progression (steps) become LINEAR: two numbers for any
    length. Other integers are delta encoded, then zstd-compressed when that saves
    10%. Floats are zstd-compressed only when that halves them: random-looking floats
    barely compress, and decompressing them would cost more read time than it saves.
    Sorted positive float64 (time stamps) are delta encoded on their bit patterns;
    a float column of one finite value is LINEAR with step 0.
    """
    dtype = arr.dtype
    code = STORED_DTYPES[dtype]
    n = arr.size
    if dtype.kind == "i" and n > 2:
        delta = np.empty_like(arr)
        delta[0] = arr[0]
        np.subtract(arr[1:], arr[:-1], out=delta[1:])
        step = delta[1]
        if (delta[1:] == step).all():
            first_step = np.array([arr[0], step], dtype=dtype)
            return pb.Column(
                name=name, dtype=code, encoding=pb.LINEAR, length=n, data=first_step.tobytes()
            )
        return _maybe_compressed(
            name, code, n, delta.tobytes(), pb.DELTA, pb.DELTA_ZSTD, 0.9, compress
        )
    if dtype.kind == "f" and n > 2 and _constant(arr):
        # one value throughout (a batch write's one wall time): LINEAR with step 0,
        # exact, and decoded as a fill (also by readers that predate floats here)
        first_step = np.array([arr[0], 0.0], dtype=dtype)
        return pb.Column(name=name, dtype=code, encoding=pb.LINEAR, length=n, data=first_step.tobytes())
    if compress and dtype == _F8 and arr.nbytes >= _COMPRESS_MIN_BYTES:
        packed = _sorted_floats_packed(arr)
        if packed is not None:
            return pb.Column(name=name, dtype=code, encoding=pb.BITS_DELTA_ZSTD, length=n, data=packed)
    return _maybe_compressed(
        name, code, n, arr.tobytes(), pb.RAW, pb.ZSTD, 0.5, compress and arr.nbytes >= _COMPRESS_MIN_FLOAT_BYTES
    )


_F8 = np.dtype("<f8")


def _constant(arr: np.ndarray) -> bool:
    """Every element has the bits of the first, a finite number (so -0.0 stays -0.0,
    and 0 * step stays exact in any reader)."""
    bits = arr.view(f"<i{arr.dtype.itemsize}")
    return bool(bits[0] == bits[-1] and np.isfinite(arr[0]) and (bits == bits[0]).all())


def _sorted_floats_packed(arr: np.ndarray) -> bytes | None:
    """A non-decreasing float64 column of positive numbers (time stamps) as the zstd
    of its bit patterns' differences, when that is at most half its size; else None.

    Positive IEEE-754 doubles order like their bit patterns read as int64, so the
    differences are small integers (units of the last place: 2**-22 s at today's
    epoch seconds), which zstd packs to a byte or two each."""
    if not (arr[0] > 0 and (arr[1:] >= arr[:-1]).all()):  # also False for NaNs
        return None
    bits = arr.view(np.int64)
    delta = np.empty_like(bits)
    delta[0] = bits[0]
    np.subtract(bits[1:], bits[:-1], out=delta[1:])
    packed = _ZSTD.compress(delta.tobytes(), asbytes=True)
    return packed if len(packed) <= 0.5 * arr.nbytes else None


def _maybe_compressed(
    name: str,
    code: Any,
    n: int,
    raw: bytes,
    plain: Any,
    packed_enc: Any,
    keep: float,
    compress: bool,
) -> pb.Column:
    if compress and len(raw) >= _COMPRESS_MIN_BYTES:
        packed = _ZSTD.compress(raw, asbytes=True)
        if len(packed) <= keep * len(raw):
            return pb.Column(name=name, dtype=code, encoding=packed_enc, length=n, data=packed)
    return pb.Column(name=name, dtype=code, encoding=plain, length=n, data=raw)


def column_dtype(col: pb.Column) -> np.dtype:
    """The numpy dtype of a ``Column`` message (ValueError when unknown)."""
    dtype = _DTYPE_OF_CODE.get(col.dtype)
    if dtype is None:
        raise ValueError(f"unknown dtype code {col.dtype} in column {col.name!r}")
    return dtype


_ZSTD_RATIO = 1 << 16  # a zstd block (<= 128 KiB out) costs >= 3 bytes in


def decode_column(col: pb.Column) -> np.ndarray:
    """A ``Column`` message back to a numpy array."""
    dtype = column_dtype(col)
    n, size = col.length * dtype.itemsize, len(col.data)
    if col.encoding in (pb.RAW, pb.DELTA):
        bad = size != n
    elif col.encoding in (pb.ZSTD, pb.DELTA_ZSTD, pb.BITS_DELTA_ZSTD):
        bad = n > (size + 1) * _ZSTD_RATIO
    else:  # LINEAR: any length (a record's count bounds it, see scan.py)
        bad = col.encoding != pb.LINEAR or size != 2 * dtype.itemsize
    if bad:  # checked before allocating what a forged length claims
        raise ValueError(f"column {col.name!r}: {size} bytes cannot hold {col.length} x {dtype}")
    out = np.empty(col.length, dtype=dtype)
    decode_column_into(col, out)
    return out


_ARANGE: dict[np.dtype, np.ndarray] = {}


def _arange(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.arange(n)``, from a kept (read-only) array up to 4M long: the LINEAR
    columns of a log's records have the same few lengths, and a fresh temporary per
    record costs its page faults."""
    if n > (4 << 20):
        return np.arange(n, dtype=dtype)
    kept = _ARANGE.get(dtype)
    if kept is None or kept.size < n:
        kept = np.arange(max(n, 1 << 16), dtype=dtype)
        kept.flags.writeable = False
        _ARANGE[dtype] = kept
    return kept[:n]


def decode_column_into(col: pb.Column, out: np.ndarray) -> None:
    """Decode ``col`` into ``out`` (a slice of a larger array: no intermediate concat)."""
    dtype = column_dtype(col)
    n = col.length
    if out.dtype != dtype or out.size != n:
        raise ValueError(
            f"column {col.name!r}: {n} x {dtype} does not fit {out.size} x {out.dtype}"
        )
    data = col.data
    enc = col.encoding
    if enc == pb.LINEAR:
        if len(data) != 2 * dtype.itemsize:
            raise ValueError(f"column {col.name!r}: LINEAR needs 2 values, got {len(data)} bytes")
        first, step = np.frombuffer(data, dtype=dtype)
        if step == 0:  # a constant (a float column's only LINEAR form)
            out.fill(first)
            return
        # Array arithmetic wraps like the encoder's differences did (modular), so values
        # near the dtype's limits come back exactly.
        base = _arange(n, dtype)
        if step == 1:
            np.add(base, first, out=out)
        else:
            np.multiply(base, step, out=out)
            out += first
        return
    if enc == pb.BITS_DELTA_ZSTD:
        if dtype.kind != "f":
            raise ValueError(f"column {col.name!r}: BITS_DELTA_ZSTD needs floats, not {dtype}")
        data = _unzstd(col, data, n * dtype.itemsize)
        if len(data) != n * dtype.itemsize:
            raise ValueError(f"column {col.name!r}: {len(data)} bytes for {n} x {dtype}")
        ints = np.dtype(f"<i{dtype.itemsize}")
        np.cumsum(np.frombuffer(data, dtype=ints), dtype=ints, out=out.view(ints))
        return
    if enc in (pb.ZSTD, pb.DELTA_ZSTD):
        data = _unzstd(col, data, n * dtype.itemsize)
    elif enc not in (pb.RAW, pb.DELTA):
        raise ValueError(f"unknown encoding {enc} in column {col.name!r}")
    if len(data) != n * dtype.itemsize:
        raise ValueError(f"column {col.name!r}: {len(data)} bytes for {n} x {dtype}")
    arr = np.frombuffer(data, dtype=dtype)
    if enc in (pb.DELTA, pb.DELTA_ZSTD):
        np.cumsum(arr, dtype=dtype, out=out)
    else:
        out[...] = arr


def _unzstd(col: pb.Column, data: bytes, size: int) -> bytes:
    try:
        out: bytes = _ZSTD.decompress(data, decompressed_size=size, asbytes=True)
    except (OSError, pa.ArrowException) as exc:  # damaged bytes: Arrow raises OSError
        raise ValueError(f"column {col.name!r}: {exc}") from None
    return out


def columns_nbytes(columns: Mapping[str, np.ndarray]) -> int:
    """Raw bytes of a set of columns (for batch sizing)."""
    return sum(a.nbytes for a in columns.values())
