"""The scalar fast path of ``DataLogger.write``, as a closure installed per logger.

``loss.item()`` and the step are Python floats and ints: for those, ``write`` only
has to take the values in the name's schema order (one ``itemgetter`` call), check
each one's exact type (a torch or jax scalar must never be converted here: that
would sync the device), pack them with the call's wall time (``time.time()``) into
one bytes object (packed.py; ``struct`` range-checks int64 in C), append that to
the queue and count it towards ``flush_bytes``. A closure does that with
local-variable loads instead of attribute lookups on the logger. Anything else (first
write of a name, tensors, numpy values, an unknown column, a closed logger) goes to
``slow``, the full method, which checks everything and gives every error message.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import numpy as np

from streamvis.logger.packed import packing_of

__all__ = ["make_fast_write"]


def _getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The values of a kwargs dict in schema order, as a tuple (KeyError if one is
    missing). ``itemgetter`` of one key returns the bare value: wrap it."""
    if len(columns) > 1:
        return itemgetter(*columns)
    only = columns[0]
    return lambda c: (c[only],)


def make_fast_write(
    alive: list[bool],
    schemas: dict[str, dict[str, np.dtype]],
    queue_append: Callable[[Any], None],
    wake: threading.Event,
    flush_bytes: int,
    slow: Callable[[Any, Any, dict[str, Any]], Any],
    done: Any,
) -> tuple[Callable[..., Any], Callable[[], None]]:
    """``(write, reset)``: ``write(name, start_index=0, **columns)`` queues Python
    scalars matching the schema (at index 0) and hands anything else to ``slow(name,
    start_index, columns)``; ``reset()`` restarts the byte count (the queue was
    drained). ``alive[0]`` False sends every call to ``slow``."""
    budget = flush_bytes
    now = time.time
    is_set, set_wake = wake.is_set, wake.set
    zero = 0
    pack_error = struct.error
    # name -> (values getter, Python types, pack, bytes counted): learnt once the
    # name's schema is fixed (a name's schema never changes; names only get added)
    fast: dict[Any, tuple[Any, tuple[type, ...], Any, int]] = {}

    def learn(name: Any) -> None:
        packing = packing_of(schemas.get(name))
        if packing is not None:
            fast[name] = (_getter(packing.columns), packing.types, packing.pack,
                          8 * len(packing.columns))

    def write(name: Any = None, start_index: Any = 0, **columns: Any) -> Any:
        nonlocal budget
        try:
            f = fast.get(name)
        except TypeError:  # an unhashable name: the full method says what is wrong
            return slow(name, start_index, columns)
        if f is None or start_index is not zero or not alive[0]:  # start_index=0: index 0
            out = slow(name, start_index, columns)
            if name not in fast:
                learn(name)
            return out
        getter, types, pack, cost = f
        try:
            values = getter(columns)
        except KeyError:  # a schema column missing (an extra one fails the length check)
            return slow(name, start_index, columns)
        if len(columns) != len(types):
            return slow(name, start_index, columns)
        for v, t in zip(values, types):  # noqa: B905 - equal lengths; strict=True costs ~150 ns
            if type(v) is not t:
                return slow(name, start_index, columns)
        try:
            queue_append((name, pack(*values, now())))  # a packed record (packed.py)
        except pack_error:  # an int past int64
            return slow(name, start_index, columns)
        budget -= cost
        if budget < 0 and not is_set():
            set_wake()
        return done

    def reset() -> None:
        nonlocal budget
        budget = flush_bytes

    return write, reset
