"""``AsyncDataLogger``: the original streamvis's asyncio face over ``DataLogger``.

The original flushed from an asyncio task, so its programs had to yield
(``await logger.write(...)``, or ``write_sync`` plus ``await logger.yield_to_flush()``).
Here flushing runs on the logger's own thread whatever the program does, so those
calls keep their meaning without costing anything: ``write`` returns an awaitable
(``await`` or not), ``write_sync`` is ``write``, ``yield_to_flush`` yields once.
``async with logger:`` opens the destination given to the constructor and, on
leaving, flushes everything without blocking the event loop.

>>> logger = AsyncDataLogger(scope="run1", grpc_uri="host:8081")   # or path=
>>> async with logger:
...     logger.write_config({"lr": 1e-3})       # awaited or not
...     await logger.write("loss", x=step, y=loss)
...     logger.write_sync("loss", x=step, y=loss)
...     await logger.yield_to_flush()
"""

from __future__ import annotations

import asyncio

from streamvis.logger.logger import DataLogger

__all__ = ["AsyncDataLogger"]


class AsyncDataLogger(DataLogger):
    """``DataLogger`` with the original's async method names; see the module docstring."""

    write_sync = DataLogger.write

    async def yield_to_flush(self) -> None:
        """Yield to the event loop once (flushing itself never waits for it)."""
        await asyncio.sleep(0)
