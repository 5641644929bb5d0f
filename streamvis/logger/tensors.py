"""Tensor adapters: what ``write`` may do to a value, and the one host copy at flush.

At the call site (``adapt``) a value is inspected without touching its data: its
stored dtype (the storage widening rules of ``streamvis.storage.format.codec``, mirrored so
a mismatch is caught at write time), its shape, and a snapshot that later in-place
changes cannot alter (a numpy copy, a torch clone on the tensor's own device; jax
arrays are immutable and are kept as they are). Nothing is moved to the host there.

At flush (``column_to_host``) the snapshots of one column of one name are
concatenated on their device and copied to the host once per kind and device.

jax: the copy runs on the logger's flush thread (``jax.device_get``), and only
ever for single-device arrays, CPU or accelerator. A value replicated over several
devices (a loss after a cross-device mean) is logged through its first local copy
(``addressable_data(0)``: no transfer). A value split over devices or hosts is
refused at ``write`` with a clear message (reduce it, or ``jax.device_get`` it on
the owning thread): fetching sharded arrays from a background thread has hung
accelerators elsewhere, and fetching them in ``write`` would block training.
Tracers (a ``write`` inside ``jit``) are refused too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from streamvis.errors import InvalidArgumentError

__all__ = [
    "F4",
    "F8",
    "I4",
    "I8",
    "stored_dtype",
    "canonical_dtype",
    "adapt",
    "column_to_host",
]

F4 = np.dtype("<f4")
F8 = np.dtype("<f8")
I4 = np.dtype("<i4")
I8 = np.dtype("<i8")
_CANON: dict[np.dtype, np.dtype] = {F4: F4, F8: F8, I4: I4, I8: I8}

# source dtype (numpy str without byte order, or a name) -> stored dtype
_STORED_BY_KEY: dict[str, np.dtype] = {  # fmt: skip
    "f4": F4, "f8": F8, "i4": I4, "i8": I8,
    "b1": I4, "i1": I4, "i2": I4, "u1": I4, "u2": I4, "u4": I8, "u8": I8,
    "f2": F4, "bfloat16": F4,
}
_stored_cache: dict[np.dtype, np.dtype | None] = {}

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def canonical_dtype(dtype: Any) -> np.dtype:
    """The module's own instance of a stored dtype (so ``is`` compares work)."""
    dt = np.dtype(dtype)
    return _CANON.get(dt, dt)  # type: ignore[no-any-return]


def stored_dtype(dtype: np.dtype) -> np.dtype | None:
    """The dtype storage keeps for a numpy ``dtype``; None when it is not numeric."""
    try:
        return _stored_cache[dtype]
    except KeyError:
        pass
    key = "bfloat16" if dtype.name == "bfloat16" else dtype.str[1:]
    out = _STORED_BY_KEY.get(key) if dtype.kind in "biuf" or key == "bfloat16" else None
    _stored_cache[dtype] = out
    return out


def _bad_dtype(value: object, dtype: object) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"has dtype {dtype} ({type(value).__name__}); expected numbers: float32, float64, "
        "int32, int64 (bool, int8/16, uint8/16/32/64, float16, bfloat16 are widened)"
    )


# An adapter: value -> (stored dtype, shape, snapshot). Raises InvalidArgumentError
# with a message fragment that the caller prefixes with scope, name and column.
Adapter = Callable[[Any], "tuple[np.dtype, tuple[int, ...], Any]"]


def _adapt_int(v: int) -> tuple[np.dtype, tuple[int, ...], Any]:
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise InvalidArgumentError(f"Python int {v} does not fit int64")
    return I8, (), v


def _adapt_int_subclass(v: int) -> tuple[np.dtype, tuple[int, ...], Any]:
    return _adapt_int(int(v))


def _adapt_float_subclass(v: float) -> tuple[np.dtype, tuple[int, ...], Any]:
    return F4, (), float(v)


def _adapt_ndarray(v: np.ndarray) -> tuple[np.dtype, tuple[int, ...], Any]:
    dt = stored_dtype(v.dtype)
    if dt is None:
        raise _bad_dtype(v, v.dtype)
    return dt, v.shape, v.copy()


def _adapt_generic(v: np.generic) -> tuple[np.dtype, tuple[int, ...], Any]:
    dt = stored_dtype(v.dtype)
    if dt is None:
        raise _bad_dtype(v, v.dtype)
    return dt, (), v


def _adapt_sequence(v: Sequence[Any]) -> tuple[np.dtype, tuple[int, ...], Any]:
    try:
        arr = np.asarray(v)
    except ValueError as exc:  # ragged
        raise InvalidArgumentError(f"is a ragged list ({exc})") from None
    if arr.dtype == F8:
        arr = arr.astype(F4)  # Python floats are stored as float32
    dt = stored_dtype(arr.dtype)
    if dt is None:
        raise _bad_dtype(v, arr.dtype)
    return dt, arr.shape, arr


_TORCH_STORED: dict[Any, np.dtype] = {}


def _torch_adapter() -> Adapter:
    import torch

    names: dict[str, np.dtype] = {
        "float32": F4, "float64": F8, "float16": F4, "bfloat16": F4,
        "int64": I8, "int32": I4, "int16": I4, "int8": I4, "uint8": I4, "bool": I4,
        "uint16": I4, "uint32": I8, "uint64": I8,
    }
    for n, dt in names.items():
        if hasattr(torch, n):
            _TORCH_STORED[getattr(torch, n)] = dt
    table = _TORCH_STORED

    def adapt_torch(v: Any) -> tuple[np.dtype, tuple[int, ...], Any]:
        dt = table.get(v.dtype)
        if dt is None:
            raise _bad_dtype(v, v.dtype)
        if v.requires_grad:
            v = v.detach()
        return dt, v.shape, v.clone()  # torch.Size is a tuple

    return adapt_torch


def _jax_adapter() -> Adapter:
    import jax
    from jax.sharding import SingleDeviceSharding

    tracer = jax.core.Tracer

    def adapt_jax(v: Any) -> tuple[np.dtype, tuple[int, ...], Any]:
        if isinstance(v, tracer):
            raise InvalidArgumentError(
                "is a jax tracer: write() cannot be called inside jit/vmap/grad; "
                "return the value from the traced function and log it outside"
            )
        dt = stored_dtype(v.dtype)
        if dt is None:
            raise _bad_dtype(v, v.dtype)
        if type(v.sharding) is not SingleDeviceSharding:
            v = _one_device(v)
        return dt, v.shape, v

    return adapt_jax


def _one_device(v: Any) -> Any:
    """A single-device view of a jax array on several devices, without a transfer.

    A replicated value (a loss after a cross-device mean) is the same on every device:
    the first local copy is kept. A value split over devices is refused: fetching it
    from the flush thread could stall the devices (see the module docstring).
    """
    if len(v.sharding.device_set) == 1:
        return v
    if v.is_fully_addressable and v.is_fully_replicated:
        return v.addressable_data(0)
    raise InvalidArgumentError(
        f"is a jax array split over {len(v.sharding.device_set)} devices; log a replicated "
        "or single-device value (e.g. a reduction, or jax.device_get(x) on your thread)"
    )


ADAPTERS: dict[type, Adapter] = {
    int: _adapt_int,
    bool: lambda v: (I4, (), v),
    float: lambda v: (F4, (), v),
    np.ndarray: _adapt_ndarray,
    list: _adapt_sequence,
    tuple: _adapt_sequence,
}


def _resolve(t: type) -> Adapter:
    """Find (and cache) the adapter for a type seen for the first time."""
    if issubclass(t, np.ndarray):
        ad: Adapter = _adapt_ndarray
    elif issubclass(t, np.generic):
        ad = _adapt_generic
    elif "torch" in sys.modules and isinstance_by_name(t, "torch", "Tensor"):
        ad = _torch_adapter()
    elif "jax" in sys.modules and (
        isinstance_by_name(t, "jax", "Array") or issubclass(t, sys.modules["jax"].core.Tracer)
    ):
        ad = _jax_adapter()
    elif issubclass(t, bool):
        ad = ADAPTERS[bool]
    elif issubclass(t, int):  # an IntEnum step, say: snapshot the plain number
        ad = _adapt_int_subclass
    elif issubclass(t, float):
        ad = _adapt_float_subclass
    else:
        raise InvalidArgumentError(
            f"has unsupported type {t.__name__}; expected a number, a list, "
            "or a numpy/torch/jax array"
        )
    ADAPTERS[t] = ad
    return ad


def isinstance_by_name(t: type, module: str, cls: str) -> bool:
    """``issubclass(t, module.cls)`` for an already imported module."""
    base = getattr(sys.modules[module], cls, None)
    return base is not None and issubclass(t, base)


def adapt(v: Any) -> tuple[np.dtype, tuple[int, ...], Any]:
    """(stored dtype, shape, snapshot) of one column value; no host transfer."""
    ad = ADAPTERS.get(type(v)) or _resolve(type(v))
    return ad(v)


def _kind(v: Any) -> tuple[str, Any]:
    """Which conversion route a snapshot takes: host, torch (per device) or jax."""
    t = type(v)
    if t is float or t is int or t is bool or isinstance(v, (int, float, np.ndarray, np.generic)):
        return ("host", None)
    if "torch" in sys.modules and isinstance_by_name(t, "torch", "Tensor"):
        return ("torch", v.device)
    return ("jax", None)


def _to_stored(arr: np.ndarray, dt: np.dtype) -> np.ndarray:
    """``arr`` as the stored dtype; uint64 values past int64 are refused, not wrapped."""
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and int(arr.max()) > _INT64_MAX:
        raise InvalidArgumentError(f"uint64 values above {_INT64_MAX} cannot be stored as int64")
    return arr.astype(dt, copy=False)


def _host_concat(
    vals: list[Any], shapes: list[tuple[int, int]], dt: np.dtype, single: bool
) -> np.ndarray:
    if single and not any(isinstance(v, np.ndarray) and v.ndim for v in vals):
        return np.array(vals, dtype=dt)
    parts = [
        v.reshape(-1) if isinstance(v, np.ndarray) and v.size == s[0] * s[1]
        else np.broadcast_to(np.asarray(v), s).reshape(-1)
        for v, s in zip(vals, shapes, strict=True)
    ]
    return _to_stored(np.concatenate(parts), dt)


def _torch_concat(
    vals: list[Any], shapes: list[tuple[int, int]], dt: np.dtype, single: bool
) -> np.ndarray:
    import torch

    flat = None
    if single:  # one element each: stack works when all have the same shape
        try:
            flat = torch.stack(vals).reshape(-1)
        except RuntimeError:
            flat = None
    if flat is None:
        flat = torch.cat([v.expand(*s).reshape(-1) for v, s in zip(vals, shapes, strict=True)])
    if flat.dtype in (torch.bfloat16, torch.float16):
        flat = flat.float()  # numpy has no bfloat16; widen on the device
    elif flat.dtype == torch.bool:
        flat = flat.int()
    host = flat.cpu().numpy()  # the one device-to-host copy of this column
    return _to_stored(np.asarray(host), dt)


def _jax_concat(
    vals: list[Any], shapes: list[tuple[int, int]], dt: np.dtype, single: bool
) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    if single and len({v.shape for v in vals}) == 1:
        flat = jnp.stack(vals).reshape(-1)
    else:
        flat = jnp.concatenate([jnp.broadcast_to(v, s).reshape(-1) for v, s in zip(vals, shapes, strict=True)])
    host = jax.device_get(flat)  # the one device-to-host copy of this column
    return _to_stored(np.asarray(host), dt)


_PY_SCALARS = {float, int, bool}
_CONCAT: dict[str, Callable[..., np.ndarray]] = {"host": _host_concat, "torch": _torch_concat, "jax": _jax_concat}


def column_to_host(
    vals: list[Any], shapes: list[tuple[int, int]], dt: np.dtype, single: bool = False
) -> np.ndarray:
    """One column of several writes, each broadcast to its (I, P), flat on the host.
    ``single``: every shape is (1, 1).

    Values of one kind and device are concatenated there and copied once.
    """
    types = set(map(type, vals))
    if single and types <= _PY_SCALARS:  # the common case: loss.item() and the step
        return np.array(vals, dtype=dt)
    if len(types) == 1:  # one kind
        kind = _kind(vals[0])[0]
        try:
            return _CONCAT[kind](vals, shapes, dt, single)
        except RuntimeError:
            if kind == "host":
                raise  # else: tensors on several devices, grouped below
    kinds = [_kind(v) for v in vals]
    sizes = np.array([i * p for i, p in shapes], dtype=np.int64)
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=dt)
    by_kind: dict[tuple[str, Any], list[int]] = {}
    for r, k in enumerate(kinds):
        by_kind.setdefault(k, []).append(r)
    for k, rows in by_kind.items():
        host = _CONCAT[k[0]]([vals[r] for r in rows], [shapes[r] for r in rows], dt, single)
        pos = np.concatenate([np.arange(ends[r] - sizes[r], ends[r]) for r in rows])
        out[pos] = host
    return out
