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
import collections
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any

import numpy as np

from streamvis.errors import InvalidArgumentError, SchemaMismatchError, StreamvisError
from streamvis.logger.buffer import Control, Outbox, build_items, split_batches
from streamvis.logger.sinks import Sink, is_permanent, open_sink
from streamvis.logger.tensors import ADAPTERS, F4, F8, I4, I8, _resolve, canonical_dtype
from streamvis.storage.codec import validate_column_name
from streamvis.storage.model import ConfigUpdate, Deletion

__all__ = ["DataLogger"]

log = logging.getLogger("streamvis.logger")

_I64_LO, _I64_HI = -(2**63), 2**63 - 1
_I32_LO, _I32_HI = -(2**31), 2**31 - 1
TENSOR_TYPES = ("numpy", "torch", "jax")


class _Done:
    """The value of ``write``: ignorable in sync code, awaitable in async code."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "<written>"


_DONE = _Done()
_LIVE: weakref.WeakSet[DataLogger] = weakref.WeakSet()


def _shape_str(v: Any) -> str:
    shp = getattr(v, "shape", None)
    if shp is None and isinstance(v, (list, tuple)):
        shp = np.shape(v)
    return str(tuple(shp)) if shp is not None else "()"


class DataLogger:
    """Log named columns of numbers under one scope (a run). See the module docstring.

    >>> logger = DataLogger(scope="run1", delete_existing=True)
    >>> logger.init(path="runs.log", flush_every=1.0)      # or grpc_uri="host:8081"
    >>> with logger:
    ...     logger.write("loss", x=step, y=loss)
    """

    def __init__(self, scope: str, delete_existing: bool = False) -> None:
        if not isinstance(scope, str) or not scope:
            raise InvalidArgumentError(f"scope must be a non-empty string, got {scope!r}")
        self.scope = scope
        self.delete_existing = bool(delete_existing)
        self._accepting = False
        self._closed = False
        self._forked = False
        self._schemas: dict[str, dict[str, np.dtype]] = {}
        self._queue: collections.deque[Any] = collections.deque()
        self._pending_bytes = 0
        self._flush_bytes = 16 << 20
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: Sink | None = None

    # ---------------------------------------------------------------- setup
    def init(
        self,
        path: str | os.PathLike[str] | None = None,
        grpc_uri: str | None = None,
        flush_every: float = 1.0,
        tensor_type: str = "numpy",
        *,
        token: str | None = None,
        sink: Sink | None = None,
        max_buffer_bytes: int = 256 << 20,
        flush_bytes: int = 16 << 20,
        max_batch_bytes: int = 3 << 20,
        close_timeout: float = 10.0,
    ) -> DataLogger:
        """Open the sink (a log ``path``, a server ``grpc_uri``, or a ready ``sink``) and
        start the flush thread. ``tensor_type`` ("numpy", "torch", "jax") is a hint:
        values of every supported kind are accepted. Returns the logger."""
        if self._accepting or self._closed:
            raise StreamvisError("init() was already called on this logger")
        if tensor_type not in TENSOR_TYPES:
            raise InvalidArgumentError(f"tensor_type must be one of {TENSOR_TYPES}, got {tensor_type!r}")
        if not flush_every > 0:
            raise InvalidArgumentError(f"flush_every must be > 0 seconds, got {flush_every!r}")
        if sink is None:
            sink = open_sink(None if path is None else os.fspath(path), grpc_uri, token=token)
        elif path is not None or grpc_uri is not None:
            raise InvalidArgumentError("give sink= alone, without path= or grpc_uri=")
        self._sink = sink
        self._flush_every = float(flush_every)
        self._flush_bytes = int(flush_bytes)
        self._max_batch_bytes = int(max_batch_bytes)
        self._close_timeout = float(close_timeout)
        self._outbox = Outbox(int(max_buffer_bytes))
        self._writer_id = os.urandom(16)
        self._seq = 0
        self._cycle_lock = threading.Lock()
        self._next_try = 0.0
        self._backoff = 0.0
        self._warned_drop = False
        self._warned_down = False
        self._stats = {"queued_points": 0, "delivered_points": 0, "delivered_batches": 0,
                       "refused_points": 0, "retries": 0}
        self._pid = os.getpid()
        if self.delete_existing:
            self._queue.append(Control(Deletion(self.scope)))
        else:
            self._load_schemas()
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
        return self

    def _load_schemas(self) -> None:
        assert self._sink is not None
        try:
            found = self._sink.schemas(self.scope)
        except Exception as exc:  # the server may be down: writes are still checked
            log.warning("streamvis: could not load the schemas of scope %r (%s); "
                        "mismatches will be refused by the store instead", self.scope, exc)
            return
        for name, cols in found.items():
            self._schemas[name] = {c: canonical_dtype(dt) for c, dt in cols.items()}

    # ---------------------------------------------------------------- hot path
    def write(self, name: str | None = None, start_index: int = 0, **columns: Any) -> _Done:
        """Queue columns of numbers under ``name``; rank 0, 1 or 2 each, broadcast
        together to (index, point). Row i goes to index ``start_index + i``.

        Captures the values now (no host transfer). Raises InvalidArgumentError,
        SchemaMismatchError or ReservedNameError for bad input, before queueing.
        Returns an awaitable, so ``await logger.write(...)`` works too."""
        if not self._accepting:
            return self._not_accepting()
        schema = self._schemas.get(name)  # type: ignore[arg-type]
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
        self._queue.append((name, start_index, ni, np_, columns))
        self._pending_bytes += ni * np_ * 8 * len(columns)
        if self._pending_bytes > self._flush_bytes and not self._wake.is_set():
            self._wake.set()
        return _DONE

    def _where(self, name: Any, col: str | None = None) -> str:
        w = f"scope {self.scope!r}, name {name!r}"
        return f"{w}, column {col!r}: " if col is not None else f"{w}: "

    def _write_checked(self, name: Any, start_index: Any, columns: dict[str, Any]) -> _Done:
        """The careful path: first write of a name, leniencies, and every error message."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(
                f"scope {self.scope!r}: name must be a non-empty string, got {name!r}")
        if type(start_index) is not int and not isinstance(start_index, (int, np.integer)):
            raise InvalidArgumentError(
                f"{self._where(name)}start_index must be an int, got {start_index!r}")
        start_index = int(start_index)
        if start_index < 0:
            raise InvalidArgumentError(f"{self._where(name)}start_index must be >= 0, got {start_index}")
        if not columns:
            raise InvalidArgumentError(f"{self._where(name)}write() needs at least one column")
        schema = self._schemas.get(name)
        dtypes: dict[str, np.dtype] = {}
        shapes: dict[str, tuple[int, ...]] = {}
        for col, v in columns.items():
            validate_column_name(col, where=self._where(name))
            sdt = schema.get(col) if schema is not None else None
            if type(v) in (int, bool) and sdt is not None and sdt in (F4, F8, I4, I8):
                lo, hi = (_I32_LO, _I32_HI) if sdt is I4 else (_I64_LO, _I64_HI)
                if sdt.kind == "f" or lo <= v <= hi:  # Python ints take the column's dtype
                    dtypes[col], shapes[col] = sdt, ()
                    continue
            if type(v) is float and sdt is F8:
                dtypes[col], shapes[col] = sdt, ()
                continue
            try:
                dt, shp, snap = (ADAPTERS.get(type(v)) or _resolve(type(v)))(v)
            except InvalidArgumentError as exc:
                raise InvalidArgumentError(
                    f"{self._where(name, col)}value of shape {_shape_str(v)} {exc}") from None
            if len(shp) > 2:
                raise InvalidArgumentError(
                    f"{self._where(name, col)}rank {len(shp)} (shape {tuple(shp)}) is not "
                    "allowed; columns are rank 0, 1 (points) or 2 (index, point)")
            dtypes[col], shapes[col] = dt, tuple(shp)
            columns[col] = snap
        try:
            bshape = np.broadcast_shapes(*((1, 1), *shapes.values()))
        except ValueError:
            desc = ", ".join(f"{c}={s}" for c, s in shapes.items())
            raise InvalidArgumentError(
                f"{self._where(name)}column shapes do not broadcast together: {desc}") from None
        if schema is None:
            schema = self._schemas.setdefault(name, dtypes)
        if set(schema) != set(dtypes) or any(schema[c] != dtypes[c] for c in dtypes):
            want = {c: str(d) for c, d in schema.items()}
            got = {c: str(d) for c, d in dtypes.items()}
            raise SchemaMismatchError(
                f"{self._where(name)}columns/dtypes {got} differ from the name's schema "
                f"{want} (fixed by its first write; shapes {dict(shapes)})")
        ni, np_ = int(bshape[0]), int(bshape[1])
        self._queue.append((name, start_index, ni, np_, columns))
        self._pending_bytes += ni * np_ * 8 * len(columns)
        if self._pending_bytes > self._flush_bytes:
            self._wake.set()
        return _DONE

    def _not_accepting(self) -> _Done:
        if self._forked:
            return _DONE  # a forked child never logs the parent's stream
        if self._closed:
            raise StreamvisError(f"scope {self.scope!r}: write() after close()")
        raise StreamvisError(f"scope {self.scope!r}: call init() before write()")

    def write_config(self, config: Mapping[str, Any]) -> _Done:
        """Queue the scope's config (JSON-serialisable; captured now). Awaitable."""
        if not self._accepting:
            return self._not_accepting()
        try:
            copy = json.loads(json.dumps(dict(config)))
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(
                f"scope {self.scope!r}: config must be JSON-serialisable ({exc})") from None
        self._queue.append(Control(ConfigUpdate(self.scope, copy)))
        return _DONE

    # ---------------------------------------------------------------- flushing
    def _run(self) -> None:
        while not self._closed:
            wait = self._flush_every
            if self._outbox.batches:
                wait = min(wait, max(0.0, self._next_try - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            if self._closed or self._forked:
                return
            try:
                with self._cycle_lock:
                    self._drain()
                    if time.monotonic() >= self._next_try:
                        self._deliver()
            except Exception:  # never let the flush thread die
                log.exception("streamvis: flush of scope %r failed", self.scope)

    def _drain(self) -> None:
        """Move queued writes to the outbox as numbered batches (host copies here)."""
        q = self._queue
        n = len(q)
        if not n:
            return
        queued = [q.popleft() for _ in range(n)]
        self._pending_bytes = 0
        try:
            items = build_items(self.scope, queued, self._schemas)
        except Exception as exc:
            log.error("streamvis: scope %r: dropped %d queued writes that could not be "
                      "converted: %s", self.scope, n, exc)
            return
        for batch in split_batches(items, self._max_batch_bytes):
            self._seq += 1
            b = self._outbox.push(self._seq, batch)
            self._stats["queued_points"] += b.points
        dropped = self._outbox.enforce()
        if dropped and not self._warned_drop:
            self._warned_drop = True
            log.warning("streamvis: scope %r: the sink is behind and the buffer passed "
                        "%d bytes; dropping the oldest data (%d points so far; see stats())",
                        self.scope, self._outbox.max_bytes, self._outbox.dropped_points)

    def _deliver(self) -> bool:
        """Send outbox batches in order; False when the sink failed (retry later)."""
        assert self._sink is not None
        ob = self._outbox
        while ob.batches:
            b = ob.batches[0]
            b.attempts += 1
            try:
                self._sink.append(b.items, writer_id=self._writer_id, seq=b.seq)
            except Exception as exc:
                if is_permanent(exc):
                    self._refused(exc)
                    continue
                self._stats["retries"] += 1
                self._backoff = min(5.0, max(0.05, self._backoff * 2))
                self._next_try = time.monotonic() + self._backoff
                if not self._warned_down:
                    self._warned_down = True
                    log.warning("streamvis: scope %r: sink unavailable (%s); buffering and "
                                "retrying", self.scope, exc)
                return False
            ob.pop()
            self._stats["delivered_points"] += b.points
            self._stats["delivered_batches"] += 1
            if self._warned_down:
                log.warning("streamvis: scope %r: sink is back; delivering", self.scope)
            self._backoff = 0.0
            self._warned_down = False
        return True

    def _refused(self, exc: BaseException) -> None:
        """The head batch was refused as a whole: retry its names one by one, drop the
        refused ones. Later batches were never sent, so they are renumbered."""
        ob = self._outbox
        head = ob.pop()
        names = list(dict.fromkeys(getattr(i, "name", None) for i in head.items))
        if len(names) <= 1:
            self._stats["refused_points"] += head.points
            log.error("streamvis: scope %r: the sink refused %d points of %s: %s",
                      self.scope, head.points, names, exc)
            pieces: list[list[Any]] = []
        else:
            pieces = [[i for i in head.items if getattr(i, "name", None) == n] for n in names]
        rest = list(ob.batches)
        ob.batches.clear()
        ob.nbytes = 0
        seq = head.seq - 1
        for items in pieces + [b.items for b in rest]:
            seq += 1
            ob.push(seq, items)
        self._seq = seq

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything written so far; wait up to ``timeout`` seconds (default
        ``close_timeout``) while the sink is down. True when all was delivered."""
        if not self._accepting:
            return self._closed and not self._outbox.batches
        return self._flush_until(time.monotonic() + (self._close_timeout if timeout is None
                                                       else timeout))

    def _flush_until(self, deadline: float) -> bool:
        with self._cycle_lock:
            self._drain()
            while not self._deliver():
                now = time.monotonic()
                if now >= deadline:
                    return False
                time.sleep(max(0.0, min(self._next_try, deadline) - now))
            return True

    def stats(self) -> dict[str, int]:
        """Counts: points queued into batches, delivered, dropped, refused, undelivered."""
        out = dict(getattr(self, "_stats", {}))
        if hasattr(self, "_outbox"):
            out["dropped_points"] = self._outbox.dropped_points
            out["undelivered_points"] = self._outbox.points
        return out

    def close(self, timeout: float | None = None) -> None:
        """Flush (waiting up to ``timeout`` s for a down sink), stop, close the sink.
        Reports undelivered data as a warning. Idempotent."""
        if self._closed or not self._accepting:
            self._closed = True
            return
        self._accepting = False
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        ok = self._flush_until(time.monotonic() + (self._close_timeout if timeout is None
                                                    else timeout))
        if not ok or self._outbox.dropped_points:
            log.warning("streamvis: scope %r closed with %d points undelivered and %d "
                        "dropped", self.scope, self._outbox.points, self._outbox.dropped_points)
        _LIVE.discard(self)
        assert self._sink is not None
        try:
            self._sink.close()
        except Exception as exc:
            log.warning("streamvis: closing the sink of scope %r failed: %s", self.scope, exc)

    def _after_fork_in_child(self) -> None:
        """In a forked child: never flush or duplicate the parent's buffer."""
        self._forked = True
        self._accepting = False
        self._closed = True
        self._queue = collections.deque()
        self._thread = None
        self._sink = None
        self._cycle_lock = threading.Lock()
        if hasattr(self, "_outbox"):
            self._outbox = Outbox(self._outbox.max_bytes)

    # ---------------------------------------------------------------- context managers
    def __enter__(self) -> DataLogger:
        if not self._accepting:
            raise StreamvisError(f"scope {self.scope!r}: call init() before entering the logger")
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> DataLogger:
        return self.__enter__()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        import asyncio

        await asyncio.to_thread(self.close)

    async def aflush(self, timeout: float | None = None) -> bool:
        """``flush`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.flush, timeout)


def _close_all_at_exit() -> None:
    for lg in list(_LIVE):
        if getattr(lg, "_pid", None) == os.getpid() and not lg._forked:
            try:
                lg.close()
            except Exception:  # pragma: no cover - best effort at exit
                log.exception("streamvis: closing logger %r at exit failed", lg.scope)


def _after_fork_child() -> None:
    for lg in list(_LIVE):
        lg._after_fork_in_child()
    _LIVE.clear()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
