"""Scalars with wall times, and a run config, for the faces over DataLogger.

The TensorBoard-style ``SummaryWriter``, the Lightning logger and the Hugging Face
callback all log the same thing: per run (scope), named scalars at integer steps
with the wall time of the call, plus a config. ``RunLog`` is one run; ``RunSet``
opens the sink once and shares it between the runs a writer creates (``add_scalars``
makes one run per key).

Every point is ``x`` (the step, int64), ``y`` (the value: float32, or float64 when
asked) and ``wall_time`` (float64 seconds since the epoch, ``streamvis.columns``).
Values are converted on their own device (a torch tensor stays a tensor: no host
copy, no sync). Nothing here raises into the training loop: a refused write is
logged once per name (``logging``, logger ``streamvis.faces``) and counted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streamvis.columns import STEP_COLUMN, VALUE_COLUMN, WALL_TIME_COLUMN
from streamvis.errors import StreamvisError
from streamvis.logger import DataLogger
from streamvis.logger.sinks import Sink, open_sink
from streamvis.logger.tensors import F4, F8, stored_dtype
from streamvis.paths import default_log_path

__all__ = ["RunLog", "RunSet", "as_float32", "as_step", "json_config"]

log = logging.getLogger("streamvis.faces")

_F4 = np.float32
_F8 = np.float64
_X, _Y, _WT = STEP_COLUMN, VALUE_COLUMN, WALL_TIME_COLUMN


class _SharedSink:
    """One sink used by several loggers; closed when the last of them closes it."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._users = 0
        self._lock = threading.Lock()

    def acquire(self) -> _SharedSink:
        with self._lock:
            self._users += 1
        return self

    def append(self, items: Sequence[Any], *, writer_id: bytes, seq: int) -> Any:
        return self._sink.append(items, writer_id=writer_id, seq=seq)

    def schemas(self, scope: str) -> Mapping[str, Mapping[str, np.dtype]]:
        return self._sink.schemas(scope)

    def configs(self) -> dict[str, dict[str, Any]]:
        """Every scope's config (a Store and a DataClient both answer this)."""
        found: dict[str, dict[str, Any]] = self._sink.configs()  # type: ignore[attr-defined]
        return found

    def close(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self._sink.close()


def _torch_tensor_type() -> Any:
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None) if torch is not None else None


def _torch_float(double: bool) -> Any:
    import torch

    return torch.float64 if double else torch.float32


def as_float32(value: Any, double: bool = False) -> Any:
    """``value`` as a float32 scalar the logger takes without a host copy (float64
    when ``double``): Python numbers stay Python floats, torch tensors are cast on
    their device. ValueError when it is not one number."""
    t = type(value)
    if t is float:
        return _F8(value) if double else value
    if t is int or t is bool:
        return _F8(value) if double else float(value)
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(value, tensor):
        if value.dim() == 0 and value.dtype is _torch_float(double):
            return value  # the common case: nothing to convert
        if value.numel() != 1:
            raise ValueError(f"a scalar needs one element, got a tensor of shape {tuple(value.shape)}")
        import torch

        want = torch.float64 if double else torch.float32
        if value.dtype is not want and not (
            not double and value.dtype in (torch.float16, torch.bfloat16)
        ):
            value = value.detach().to(want)
        return value.reshape(())
    dt = getattr(value, "dtype", None)
    if dt is not None and getattr(value, "size", None) == 1 and hasattr(value, "reshape"):
        try:
            stored = stored_dtype(np.dtype(dt))
        except TypeError:
            stored = None
        if stored is (F8 if double else F4):  # numpy or jax, the right dtype: no host copy
            return value if getattr(value, "shape", None) == () else value.reshape(())
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(f"a scalar needs one element, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        return (_F8 if double else _F4)(float(arr.reshape(())))  # e.g. a jax or other array
    return arr.reshape(()).astype(_F8 if double else _F4)[()]


def as_step(step: Any) -> Any:
    """A step as the logger takes it: an int (None -> 0, as TensorBoard's Event.step),
    or an int64 torch tensor left on its device."""
    if type(step) is int:
        return step
    if step is None:
        return 0
    tensor = _torch_tensor_type()
    if tensor is not None and isinstance(step, tensor):
        import torch

        return step.detach().to(torch.int64).reshape(())
    return int(step)


def json_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as a config JSON can hold: what it cannot (types, callables,
    tensors, dtypes) becomes its text."""
    out: dict[str, Any] = json.loads(json.dumps(dict(params), default=str))
    return out


class RunLog:
    """One run: scalars at steps with wall times, and its config (kept whole here,
    because a config update replaces the stored one; a resumed run starts from the
    stored config)."""

    def __init__(self, logger: DataLogger) -> None:
        self.logger = logger
        self.scope = logger.scope
        self.config: dict[str, Any] = {}
        self.refused = 0
        self._warned: set[str] = set()

    def scalar(self, name: str, value: Any, step: Any = None, wall_time: float | None = None,
               double: bool = False) -> None:
        """Log ``value`` at ``step``; never raises (a refused write is logged once)."""
        try:
            y = as_float32(value, double)
            if wall_time is None:  # the logger takes the call's time itself
                self.logger.write(name, **{_X: as_step(step), _Y: y})
            else:
                self.logger.write(name, **{_X: as_step(step), _Y: y, _WT: float(wall_time)})
        except Exception as exc:
            self.refuse(name, exc)

    def points(self, name: str, **columns: Any) -> None:
        """Log arbitrary columns under ``name`` (the wall time is the caller's); never raises."""
        try:
            self.logger.write(name, **columns)
        except Exception as exc:
            self.refuse(name, exc)

    def update_config(self, updates: Mapping[str, Any]) -> None:
        """Merge ``updates`` into the run's config and store the whole of it."""
        try:
            self.config.update(updates)
            self.logger.write_config(self.config)
        except Exception as exc:
            self.refuse("(config)", exc)

    def refuse(self, name: str, exc: BaseException) -> None:
        self.refused += 1
        if name not in self._warned:
            self._warned.add(name)
            log.warning("streamvis: scope %r, name %r: not logged (%s); further failures "
                        "of this name are counted silently", self.scope, name, exc)


class RunSet:
    """The runs of one writer over one sink: a log ``path`` or a server ``grpc_uri``
    (neither: ``streamvis.paths.default_log_path()``)."""

    def __init__(self, *, path: str | os.PathLike[str] | None = None, grpc_uri: str | None = None,
                 token: str | None = None, tls_ca: str | None = None, flush_every: float = 1.0,
                 delete_existing: bool = False) -> None:
        if path is None and grpc_uri is None:
            path = default_log_path()
        self._sink = _SharedSink(open_sink(None if path is None else os.fspath(path), grpc_uri,
                                           token=token, tls_ca=tls_ca))
        self._flush_every = flush_every
        self._delete_existing = delete_existing
        self.runs: dict[str, RunLog] = {}
        self._lock = threading.Lock()
        self._closed = False

    def run(self, scope: str, system_metrics: bool | float | None = None) -> RunLog:
        """The run of ``scope``, opened on first use (sampling the machine into its
        ``sys/`` names when ``system_metrics`` is set: ``streamvis.logger.system_metrics``)."""
        r = self.runs.get(scope)
        if r is not None:
            return r
        with self._lock:
            if self._closed:
                raise StreamvisError(f"scope {scope!r}: the writer was closed")
            r = self.runs.get(scope)
            if r is None:
                lg = DataLogger(scope, delete_existing=self._delete_existing)
                lg.init(sink=self._sink.acquire(), flush_every=self._flush_every,
                        system_metrics=system_metrics)
                r = RunLog(lg)
                if not self._delete_existing:
                    r.config = self._stored_config(scope)
                self.runs[scope] = r
        return r

    def _stored_config(self, scope: str) -> dict[str, Any]:
        """The config a resumed run already has, so that updates extend it."""
        try:
            return dict(self._sink.configs().get(scope) or {})
        except Exception as exc:  # a server that is down: start from an empty config
            log.warning("streamvis: scope %r: could not read its stored config (%s); "
                        "config updates will replace it", scope, exc)
            return {}

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything logged so far; True when all was delivered."""
        ok = True
        for r in list(self.runs.values()):
            ok = r.logger.flush(timeout) and ok
        return ok

    def close(self) -> None:
        """Flush and close every run, then the sink. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runs = list(self.runs.values())
        self._sink.acquire()  # keep the sink open until every run has flushed
        try:
            for r in runs:
                r.logger.close()
        finally:
            self._sink.close()

    @property
    def closed(self) -> bool:
        return self._closed
