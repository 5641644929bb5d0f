"""DataLogger: buffered logging of numbers and numpy/torch/jax tensors to a store or server.

``write`` is the hot path: it checks dtypes and ranks against the name's cached
schema, snapshots the values (no host transfer, no device sync) and appends one
tuple to a queue. A background thread drains the queue every ``flush_every``
seconds (or when the queued data passes ``flush_bytes``): it copies each column of
each name to the host once, cuts the result into batches, numbers them
(writer id, seq) and appends them to the sink in order. A failed batch is retried
with the same (writer id, seq), so the store keeps it once; meanwhile new writes go
to later batches; past ``max_buffer_bytes`` the oldest batches are dropped (one
warning; counts in ``stats()``). Sink failures never raise into ``write``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import Any

import numpy as np

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.errors import InvalidArgumentError, StreamvisError, UnauthenticatedError
from streamvis.limits import check_config, check_key
from streamvis.logger.buffer import Control
from streamvis.logger.checks import check_wall_time, check_write
from streamvis.logger.delivery import Delivery
from streamvis.logger.fast_write import DONE as _DONE
from streamvis.logger.fast_write import Done as _Done
from streamvis.logger.fast_write import make_fast_write
from streamvis.logger.images import PendingImage, capture_image, text_item
from streamvis.logger.lifecycle import LIVE as _LIVE
from streamvis.logger.lifecycle import close_all_at_exit as _close_all_at_exit
from streamvis.logger.sinks import Sink, open_sink
from streamvis.logger.system_metrics import StepTracker, SystemSampler, sampling_interval
from streamvis.logger.tensors import ADAPTERS, F4, F8, I8, _resolve, canonical_dtype
from streamvis.storage.format.model import ConfigUpdate, Deletion, Text

__all__ = ["DataLogger"]

log = logging.getLogger("streamvis.logger")

_I64_LO, _I64_HI = -(2**63), 2**63 - 1
TENSOR_TYPES = ("numpy", "torch", "jax")
_PY = {float, int, bool}




class DataLogger:
    """Log named columns of numbers under one scope (a run). See the module docstring.

    >>> logger = DataLogger(scope="run1", delete_existing=True)
    >>> logger.init(path="runs.log", flush_every=1.0)      # or grpc_uri="host:8081"
    >>> with logger:
    ...     logger.write("loss", x=step, y=loss)

    The original streamvis's form is accepted too:

    >>> logger = DataLogger(scope="run1", grpc_uri="host:8081")  # or path="runs.log"
    >>> logger.start()
    >>> logger.write("loss", x=step, y=loss)
    >>> logger.stop()                                           # flushes everything
    """

    def __init__(
        self,
        scope: str,
        delete_existing: bool | None = None,
        *,
        grpc_uri: str | None = None,
        path: str | os.PathLike[str] | None = None,
        tensor_type: str | None = None,
        flush_every: float | None = None,
        token: str | None = None,
        tls_ca: str | None = None,
        system_metrics: bool | float | None = None,
    ) -> None:
        """Two forms. The seed's: ``DataLogger(scope, delete_existing=False)``, then
        ``init(path=... | grpc_uri=..., flush_every=1.0, tensor_type="numpy")``.
        The original streamvis's: the destination given here (``grpc_uri=`` or
        ``path=``), then ``start()`` ... ``stop()``; in that form the original's
        defaults apply, ``delete_existing=True`` and ``flush_every=2.0``."""
        check_key("scope", scope)  # non-empty, no NUL, at most 1,024 bytes
        if isinstance(delete_existing, str) and grpc_uri is None:
            # the original's positional form: DataLogger(scope, grpc_uri, ...)
            grpc_uri, delete_existing = delete_existing, None
        if grpc_uri is not None and path is not None:
            raise InvalidArgumentError("give one of path= or grpc_uri=, not both")
        if tensor_type is not None and tensor_type not in TENSOR_TYPES:
            raise InvalidArgumentError(
                f"tensor_type must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        original_form = grpc_uri is not None or path is not None
        if delete_existing is None:
            delete_existing = original_form  # the original's default: True
        if flush_every is None and original_form:
            flush_every = 2.0  # the original's default
        self.scope = scope
        self.delete_existing = bool(delete_existing)
        self._target = (path, grpc_uri) if original_form else None
        self._defaults: dict[str, Any] = {"flush_every": flush_every, "tensor_type": tensor_type,
                                          "token": token, "tls_ca": tls_ca, "system_metrics":
                                          sampling_interval(system_metrics, f"scope {scope!r}: ")}
        self._alive = [False]  # _accepting, in a cell the fast write reads
        self._closed = False
        self._forked = False
        self._at_exit = False
        self._schemas: dict[str, dict[str, np.dtype]] = {}  # the caller's columns
        # names stored before streamvis logged wall times: written without them
        self._no_wall_time: set[str] = set()
        self._queue: list[Any] = []  # appended by writers, taken by _take_queue
        self._pending_bytes = 0
        self._flush_bytes = 16 << 20
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivery: Delivery | None = None
        self._reset_fast: Callable[[], None] | None = None
        self._sampler: SystemSampler | None = None  # system_metrics (system_metrics.py)
        self._steps: StepTracker | None = None

    @property
    def _accepting(self) -> bool:
        return self._alive[0]

    @_accepting.setter
    def _accepting(self, value: bool) -> None:
        self._alive[0] = value

    # ---------------------------------------------------------------- setup
    def init(
        self,
        path: str | os.PathLike[str] | None = None,
        grpc_uri: str | None = None,
        flush_every: float | None = None,
        tensor_type: str | None = None,
        *,
        token: str | None = None,
        tls_ca: str | None = None,
        sink: Sink | None = None,
        max_buffer_bytes: int = 256 << 20,
        flush_bytes: int = 16 << 20,
        max_batch_bytes: int = 3 << 20,
        close_timeout: float = 10.0,
        system_metrics: bool | float | None = None,
    ) -> DataLogger:
        """Open the sink (a log ``path``, a server ``grpc_uri``, or a ready ``sink``) and
        start the flush thread. ``flush_every`` defaults to 1.0 s (2.0 s in the
        original's form). ``tensor_type`` ("numpy", "torch", "jax") is a hint:
        values of every supported kind are accepted. For a server, ``token`` (default
        ``$STREAMVIS_TOKEN``) is sent with every call and ``tls_ca`` (a PEM CA; default
        ``$STREAMVIS_TLS_CA``) makes the connection TLS. Without a destination, the one
        given to the constructor is used. ``system_metrics=True`` (or seconds; default 10)
        samples the machine into ``sys/`` names from this process (system_metrics.py)."""
        if path is None and grpc_uri is None and sink is None and self._target is not None:
            path, grpc_uri = self._target
        elif self._target is not None and (path, grpc_uri) != self._target:
            raise InvalidArgumentError(
                f"scope {self.scope!r}: the destination was given to DataLogger() already")
        defaults = self._defaults
        flush_every = defaults["flush_every"] if flush_every is None else flush_every
        flush_every = 1.0 if flush_every is None else flush_every
        tensor_type = tensor_type or defaults["tensor_type"] or "numpy"
        token = defaults["token"] if token is None else token
        tls_ca = defaults["tls_ca"] if tls_ca is None else tls_ca
        if self._accepting or self._closed:
            raise StreamvisError("init() was already called on this logger")
        if tensor_type not in TENSOR_TYPES:
            raise InvalidArgumentError(f"tensor_type must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        if not flush_every > 0:
            raise InvalidArgumentError(f"flush_every must be > 0 seconds, got {flush_every!r}")
        interval = sampling_interval(defaults["system_metrics"] if system_metrics is None
                                     else system_metrics, f"scope {self.scope!r}: ")
        if sink is None:
            sink = open_sink(
                None if path is None else os.fspath(path), grpc_uri, token=token, tls_ca=tls_ca
            )
        elif path is not None or grpc_uri is not None:
            raise InvalidArgumentError("give sink= alone, without path= or grpc_uri=")
        self._flush_every = float(flush_every)
        self._flush_bytes = int(flush_bytes)
        self._close_timeout = float(close_timeout)
        self._delivery = Delivery(self.scope, sink, self._schemas, self._no_wall_time,
                                  max_buffer_bytes=int(max_buffer_bytes),
                                  max_batch_bytes=int(max_batch_bytes))
        self._pid = os.getpid()
        if self.delete_existing:
            self._queue.append(Control(Deletion(self.scope)))
        else:
            self._load_schemas(sink)
        self._install_fast_write()
        self._accepting = True
        _LIVE.add(self)
        # atexit runs handlers last-registered first: move ours after whatever the sink
        # registered while opening, so the final flush still finds the sink working
        atexit.unregister(_close_all_at_exit)
        atexit.register(_close_all_at_exit)
        self._thread = threading.Thread(
            target=self._run, name=f"streamvis-logger-{self.scope}", daemon=True
        )
        self._thread.start()
        if interval is not None:  # the sampler writes through write(), like the caller
            steps = self._steps = StepTracker(self._schemas)
            self._sampler = SystemSampler(
                lambda name, x, y: self.write(name, x=x, y=y), partial(steps.current, self._queue),
                interval, thread_name=f"streamvis-system-metrics-{self.scope}").start()
        return self

    def start(self) -> DataLogger:
        """The original's form: open the destination given to the constructor and start
        flushing (``init()`` with the constructor's arguments)."""
        if self._target is None:
            raise StreamvisError(
                f"scope {self.scope!r}: start() needs the destination in the constructor, "
                "DataLogger(scope=..., grpc_uri=...) or (..., path=...); or call init(path=...)")
        return self.init()

    def stop(self, timeout: float | None = None) -> None:
        """The original's form: flush everything written and close (``close()``)."""
        self.close(timeout)

    def _load_schemas(self, sink: Sink) -> None:
        try:
            found = sink.schemas(self.scope)
        except UnauthenticatedError:  # a wrong token never heals: say so at init
            sink.close()
            raise
        except Exception as exc:  # the server may be down: writes are still checked
            log.warning("streamvis: could not load the schemas of scope %r (%s); "
                        "mismatches will be refused by the store instead", self.scope, exc)
            return
        for name, cols in found.items():
            schema = {c: canonical_dtype(dt) for c, dt in cols.items()}
            if schema.get(WALL_TIME_COLUMN) is F8:
                del schema[WALL_TIME_COLUMN]  # the logger's own column, not the caller's
            else:
                self._no_wall_time.add(name)
            self._schemas[name] = schema

    # ---------------------------------------------------------------- hot path
    def write(self, name: str | None = None, start_index: int = 0, **columns: Any) -> _Done:
        """Queue columns of numbers under ``name``; rank 0, 1 or 2 each, broadcast
        together to (index, point). Row i goes to index ``start_index + i``.

        Captures the values now (no host transfer) and the call's wall time (stored as
        the float64 column ``wall_time``; pass ``wall_time=`` seconds since the epoch,
        one number or one per point, to give your own). Raises InvalidArgumentError,
        SchemaMismatchError or ReservedNameError for bad input, before queueing.
        Returns an awaitable, so ``await logger.write(...)`` works too."""
        if not self._accepting:
            return self._not_accepting()
        if type(name) is not str:
            return self._write_checked(name, start_index, columns)  # names what is wrong
        schema = self._schemas.get(name)
        if schema is None or len(schema) != len(columns) or type(start_index) is not int:
            return self._write_checked(name, start_index, columns)
        ni = np_ = 1
        for col, v in columns.items():
            sdt = schema.get(col)
            t = type(v)
            if t is float:
                if sdt is not F4 and sdt is not F8:
                    return self._write_checked(name, start_index, columns)
            elif t is int:
                if not (sdt is I8 and _I64_LO <= v <= _I64_HI):
                    return self._write_checked(name, start_index, columns)
            else:
                try:
                    dt, shp, snap = (ADAPTERS.get(t) or _resolve(t))(v)
                except InvalidArgumentError:
                    return self._write_checked(name, start_index, columns)
                if dt is not sdt:
                    return self._write_checked(name, start_index, columns)
                columns[col] = snap
                if shp:
                    if len(shp) == 1:
                        i2, p2 = 1, shp[0]
                    elif len(shp) == 2:
                        i2, p2 = shp
                    else:
                        return self._write_checked(name, start_index, columns)
                    if i2 != ni:
                        if ni == 1:
                            ni = i2
                        elif i2 != 1:
                            return self._write_checked(name, start_index, columns)
                    if p2 != np_:
                        if np_ == 1:
                            np_ = p2
                        elif p2 != 1:
                            return self._write_checked(name, start_index, columns)
        if start_index < 0:
            return self._write_checked(name, start_index, columns)
        self._queue.append((name, start_index, ni, np_, columns, time.time()))
        self._pending_bytes += ni * np_ * 8 * len(columns)
        if self._pending_bytes > self._flush_bytes and not self._wake.is_set():
            self._wake.set()
        return _DONE

    def _install_fast_write(self) -> None:
        """Shadow ``write`` on this instance with the scalar fast path (fast_write.py);
        not for subclasses that override ``write``."""
        if type(self).write is not DataLogger.write:
            return
        method = DataLogger.write

        def slow(name: Any, start_index: Any, columns: dict[str, Any]) -> _Done:
            return method(self, name, start_index, **columns)

        fast, self._reset_fast = make_fast_write(
            self._alive, self._schemas, self._queue.append, self._wake,
            self._flush_bytes, slow, _DONE)
        fast.__doc__ = method.__doc__
        self.__dict__["write"] = fast

    def _write_checked(self, name: Any, start_index: Any, columns: dict[str, Any]) -> _Done:
        """The careful path: first write of a name, leniencies, and every error message."""
        given = columns.pop(WALL_TIME_COLUMN, None)
        start_index, ni, np_ = check_write(self.scope, self._schemas, name, start_index, columns)
        wall_time = time.time()
        if given is not None:
            given = check_wall_time(self.scope, name, given, ni, np_, name in self._no_wall_time)
            if isinstance(given, float):
                wall_time = given
            else:
                columns[WALL_TIME_COLUMN] = given  # one per point: a full record
        if (start_index == 0 and ni == np_ == 1 and WALL_TIME_COLUMN not in columns
                and set(map(type, columns.values())) <= _PY):
            self._queue.append((name, columns, wall_time))  # a scalar record (buffer.py)
        else:
            self._queue.append((name, start_index, ni, np_, columns, wall_time))
        self._pending_bytes += ni * np_ * 8 * len(columns)
        if self._pending_bytes > self._flush_bytes:
            self._wake.set()
        return _DONE

    def _not_accepting(self) -> _Done:
        if self._forked or self._at_exit:
            # a forked child never logs the parent's stream; after the exit-time close,
            # threads still running (daemons) must not fail on the way out
            return _DONE
        if self._closed:
            raise StreamvisError(f"scope {self.scope!r}: write() after close()")
        if self._target is not None:  # the destination was given: start() opens it
            raise StreamvisError(f"scope {self.scope!r}: call start() before write()")
        raise StreamvisError(f"scope {self.scope!r}: call init() before write()")

    def write_config(self, config: Mapping[str, Any]) -> _Done:
        """Queue the scope's config (JSON-serialisable, within ``streamvis.limits``;
        captured now). Awaitable."""
        if not self._accepting:
            return self._not_accepting()
        check_config(config, f"scope {self.scope!r}: ")  # names the key and the limit
        copy = json.loads(json.dumps(dict(config)))
        self._queue.append(Control(ConfigUpdate(self.scope, copy)))
        return _DONE

    def write_image(self, name: str, image: Any, *, step: int, dataformats: str = "HWC") -> _Done:
        """Queue an image: numpy, torch or jax; HxW, HxWxC, CHW or a batch (see logger/images.py:
        what is checked at the call, what at flush). No device sync. Awaitable."""
        return self._queue_control(lambda: capture_image(self.scope, name, image, step, dataformats))

    def write_text(self, name: str, text: str, *, step: int) -> _Done:
        """Queue a text of ``name`` at ``step`` (stored as written). Awaitable."""
        return self._queue_control(lambda: text_item(self.scope, name, text, step))

    def _queue_control(self, make: Callable[[], PendingImage | Text]) -> _Done:
        if not self._accepting:
            return self._not_accepting()
        item = make()
        self._queue.append(Control(item))
        self._pending_bytes += getattr(item, "nbytes", 256)
        if self._pending_bytes > self._flush_bytes:
            self._wake.set()
        return _DONE

    # ---------------------------------------------------------------- flushing
    def _take_queue(self) -> list[Any]:
        """Everything queued so far (writers may keep appending meanwhile)."""
        q = self._queue
        n = len(q)
        self._pending_bytes = 0
        if self._reset_fast is not None:
            self._reset_fast()
        # Two C-level steps, each atomic under the GIL: appends made between them land
        # past ``n`` and stay queued (only this thread, under the delivery lock, takes)
        taken = q[:n]
        if self._steps is not None:  # before they leave the queue (system_metrics.py)
            self._steps.observe(taken, n)
        del q[:n]
        return taken

    def _run(self) -> None:
        d = self._delivery
        assert d is not None
        while not self._closed:
            wait = self._flush_every
            if d.outbox.batches:
                wait = min(wait, max(0.0, d.next_try - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            if self._closed or self._forked:
                return
            try:
                with d.lock:
                    d.drain(self._take_queue())
                    if time.monotonic() >= d.next_try:
                        d.deliver()
            except Exception:  # never let the flush thread die
                log.exception("streamvis: flush of scope %r failed", self.scope)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything written so far; wait up to ``timeout`` seconds (default
        ``close_timeout``) while the sink is down. True when all was delivered."""
        d = self._delivery
        if not self._accepting or d is None:
            return self._closed and d is not None and not d.outbox.batches
        deadline = time.monotonic() + (self._close_timeout if timeout is None else timeout)
        return d.flush_until(self._take_queue, deadline)

    def stats(self) -> dict[str, int]:
        """Counts of points: queued_points (into batches), delivered_points, dropped_points
        (past the memory bound), refused_points (invalid), undelivered_points; retries."""
        return self._delivery.stats() if self._delivery is not None else {}

    def close(self, timeout: float | None = None) -> None:
        """Flush (waiting up to ``timeout`` s for a down sink), stop, close the sink.
        Reports undelivered data as a warning. Idempotent."""
        if self._closed or not self._accepting:
            self._closed = True
            return
        if self._sampler is not None:  # its last sample goes into the final flush
            self._sampler.stop(self._close_timeout if timeout is None else timeout)
        self._accepting = False
        self._closed = True
        self._wake.set()
        deadline = time.monotonic() + (self._close_timeout if timeout is None else timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            # it stops after its current cycle: at most one sink call (bounded by the
            # sink's own timeout); the sink must not be closed under it
            self._thread.join()
        d = self._delivery
        assert d is not None
        ok = d.flush_until(self._take_queue, deadline)
        if not ok or d.outbox.dropped_points:
            log.warning("streamvis: scope %r closed with %d points undelivered (%d batches) "
                        "and %d dropped", self.scope, d.outbox.points, len(d.outbox.batches),
                        d.outbox.dropped_points)
        _LIVE.discard(self)
        try:
            d.sink.close()
        except Exception as exc:
            log.warning("streamvis: closing the sink of scope %r failed: %s", self.scope, exc)

    def _after_fork_in_child(self) -> None:
        """In a forked child: never flush or duplicate the parent's buffer."""
        self._forked = True
        self._accepting = False
        self._closed = True
        self._queue = []
        self._thread = self._sampler = None  # threads do not survive a fork
        self._delivery = None  # its sink (file handle, channel) belongs to the parent

    # ---------------------------------------------------------------- context managers
    def __enter__(self) -> DataLogger:
        if not self._accepting and not self._closed and self._target is not None:
            self.init()  # the original's form: entering starts the logger
        if not self._accepting:
            raise StreamvisError(f"scope {self.scope!r}: call init() before entering the logger")
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> DataLogger:
        if not self._accepting and not self._closed and self._target is not None:
            import asyncio

            await asyncio.to_thread(self.init)  # opening a server sink may block
        return self.__enter__()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    async def aflush(self, timeout: float | None = None) -> bool:
        """``flush`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.flush, timeout)

