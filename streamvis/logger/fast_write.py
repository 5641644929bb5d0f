"""The scalar fast path of ``DataLogger.write``, as a closure installed per logger.

``loss.item()`` and the step are Python floats and ints: for those, ``write`` only
has to check each value's type against the name's cached schema (and an int's
range), append one tuple with the call's wall time (``time.time()``, ~50 ns) to the
queue and count it towards ``flush_bytes``. A
closure does that with local-variable loads instead of attribute lookups on the
logger, which is most of what a call costs beyond the kwargs dict that any
``write(**columns)`` pays. Anything else (first write of a name, tensors, numpy
values, an unknown column, a closed logger) goes to ``slow``, the full method,
which checks everything and gives every error message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from streamvis.logger.tensors import F4, F8, I8

__all__ = ["make_fast_write"]

_I64_LO, _I64_HI = -(2**63), 2**63 - 1


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
    lo, hi = _I64_LO, _I64_HI
    zero = 0
    # name -> {column: float | int}: the Python type each column takes on the fast
    # path, learnt once the name's schema is fixed (schemas only grow in a logger)
    py_types: dict[Any, dict[str, type]] = {}

    def learn(name: Any) -> None:
        schema = schemas.get(name)
        if schema and all(dt is F4 or dt is F8 or dt is I8 for dt in schema.values()):
            py_types[name] = {c: int if dt is I8 else float for c, dt in schema.items()}

    def write(name: Any = None, start_index: Any = 0, **columns: Any) -> Any:
        nonlocal budget
        want = py_types.get(name)
        if (
            not alive[0]
            or want is None
            or start_index is not zero  # start_index=0: one point at index 0
            or len(want) != len(columns)
        ):
            out = slow(name, start_index, columns)
            if name not in py_types:
                learn(name)
            return out
        for col, v in columns.items():
            t = type(v)
            if t is not want.get(col) or (t is int and not lo <= v <= hi):
                return slow(name, start_index, columns)
        queue_append((name, columns, now()))  # a scalar record (buffer.py)
        budget -= 16
        if budget < 0 and not is_set():
            set_wake()
        return done

    def reset() -> None:
        nonlocal budget
        budget = flush_bytes

    return write, reset
