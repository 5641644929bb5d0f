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
from collections.abc import Callable, Generator
from operator import itemgetter
from typing import Any

import numpy as np

from streamvis.logger.packed import packing_of

__all__ = ["DONE", "Done", "make_fast_write"]


class Done:
    """The value of ``write``: ignorable in sync code, awaitable in async code."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "<written>"


DONE = Done()


_Fast = tuple[Any, int, tuple[type, ...], type, type, type, Any, int]


def _fast_entry(columns: tuple[str, ...], types: tuple[type, ...], pack: Any) -> _Fast:
    """What ``write`` unpacks for one name: the values getter (``itemgetter`` in schema
    order: a bare value for one column, a tuple for more; KeyError if one is missing),
    the arity, the Python types (also the first three apart), ``pack``, bytes counted."""
    t0, t1, t2 = (*types, object, object, object)[:3]
    return (itemgetter(*columns), len(columns), types, t0, t1, t2, pack, 8 * len(columns))


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
    missing_or_past_int64 = (KeyError, struct.error)
    # name -> _fast_entry: learnt once the name's schema is fixed (a name's schema
    # never changes; names only get added)
    fast: dict[Any, _Fast] = {}

    def learn(name: Any) -> None:
        packing = packing_of(schemas.get(name))
        if packing is not None:
            fast[name] = _fast_entry(packing.columns, packing.types, packing.pack)

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
        getter, arity, types, t0, t1, t2, pack, cost = f
        if len(columns) != arity:  # an extra column (a missing one: KeyError below)
            return slow(name, start_index, columns)
        # One, two and three columns spelled out: a loop over zip() and pack(*values)
        # cost ~250 ns more a call than the unpacking and the explicit arguments.
        try:
            if arity == 2:
                v0, v1 = getter(columns)
                if type(v0) is not t0 or type(v1) is not t1:
                    return slow(name, start_index, columns)
                packed = pack(v0, v1, now())
            elif arity == 1:
                v0 = getter(columns)
                if type(v0) is not t0:
                    return slow(name, start_index, columns)
                packed = pack(v0, now())
            elif arity == 3:
                v0, v1, v2 = getter(columns)
                if type(v0) is not t0 or type(v1) is not t1 or type(v2) is not t2:
                    return slow(name, start_index, columns)
                packed = pack(v0, v1, v2, now())
            else:
                values = getter(columns)
                for v, t in zip(values, types):  # noqa: B905 - equal lengths; strict costs
                    if type(v) is not t:
                        return slow(name, start_index, columns)
                packed = pack(*values, now())
        except missing_or_past_int64:  # the full method says which column, and why
            return slow(name, start_index, columns)
        queue_append((name, packed))  # a packed record (packed.py)
        budget -= cost
        if budget < 0 and not is_set():
            set_wake()
        return done

    def reset() -> None:
        nonlocal budget
        budget = flush_bytes

    return write, reset
