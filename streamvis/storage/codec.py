"""Column payloads: numpy arrays to and from the ``Column`` message.

Stored dtypes are float32, float64, int32 and int64. Narrower or exotic dtypes
are widened on the way in: bool, int8, int16, uint8, uint16 -> int32; uint32 -> int64;
float16 and bfloat16 -> float32. uint64 is accepted only when every value fits int64.

Data is stored as the raw little-endian array, so decoding is ``numpy.frombuffer``.
Integer columns are delta encoded (steps become a run of small equal numbers) and
any column is zstd-compressed when that saves at least 10%; both decode at memory
speed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from streamvis.errors import InvalidArgumentError, ReservedNameError
from streamvis.proto import data_pb2 as pb

__all__ = [
    "RESERVED_COLUMNS",
    "STORED_DTYPES",
    "normalize_array",
    "validate_column_name",
    "encode_column",
    "decode_column",
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
_COMPRESS_MIN_BYTES = 512
_COMPRESS_KEEP_RATIO = 0.9
_ZSTD = pa.Codec("zstd", compression_level=1)


def dtype_name(dtype: np.dtype) -> str:
    """Short name used in messages and schemas: 'float32', 'int64', ..."""
    return np.dtype(dtype).name


def validate_column_name(column: str, *, where: str = "") -> None:
    """Raise unless ``column`` is a usable column name."""
    if not isinstance(column, str) or not column:
        raise InvalidArgumentError(f"{where}column names must be non-empty strings, got {column!r}")
    if column in RESERVED_COLUMNS:
        raise ReservedNameError(
            f"{where}column {column!r} is reserved (reserved: scope, name, index); rename it"
        )


def normalize_array(value: object, *, column: str = "", where: str = "") -> np.ndarray:
    """``value`` as a contiguous little-endian array of a stored dtype (widened if needed)."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    kind = arr.dtype.kind
    label = f"{where}column {column!r}" if column else f"{where}value"
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
    """One 1-D stored-dtype array as a ``Column`` message."""
    dtype = arr.dtype
    code = STORED_DTYPES[dtype]
    encoding = pb.RAW
    data = arr
    if dtype.kind == "i" and arr.size > 1:
        delta = np.empty_like(arr)
        delta[0] = arr[0]
        np.subtract(arr[1:], arr[:-1], out=delta[1:])
        data, encoding = delta, pb.DELTA
    raw = data.tobytes()
    if compress and len(raw) >= _COMPRESS_MIN_BYTES:
        packed = _ZSTD.compress(raw, asbytes=True)
        if len(packed) <= _COMPRESS_KEEP_RATIO * len(raw):
            raw = packed
            encoding = pb.ZSTD if encoding == pb.RAW else pb.DELTA_ZSTD
    return pb.Column(name=name, dtype=code, encoding=encoding, length=arr.size, data=raw)


def decode_column(col: pb.Column) -> np.ndarray:
    """A ``Column`` message back to a numpy array (read-only when zero-copy)."""
    dtype = _DTYPE_OF_CODE.get(col.dtype)
    if dtype is None:
        raise ValueError(f"unknown dtype code {col.dtype} in column {col.name!r}")
    nbytes = col.length * dtype.itemsize
    data = col.data
    if col.encoding in (pb.ZSTD, pb.DELTA_ZSTD):
        data = _ZSTD.decompress(data, decompressed_size=nbytes, asbytes=True)
    elif col.encoding not in (pb.RAW, pb.DELTA):
        raise ValueError(f"unknown encoding {col.encoding} in column {col.name!r}")
    if len(data) != nbytes:
        raise ValueError(f"column {col.name!r}: {len(data)} bytes for {col.length} x {dtype}")
    arr = np.frombuffer(data, dtype=dtype)
    if col.encoding in (pb.DELTA, pb.DELTA_ZSTD):
        arr = np.cumsum(arr, dtype=dtype)
    return arr


def columns_nbytes(columns: Mapping[str, np.ndarray]) -> int:
    """Raw bytes of a set of columns (for batch sizing)."""
    return sum(a.nbytes for a in columns.values())
