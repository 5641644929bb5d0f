"""System metrics: a thread that samples the machine and logs it under ``sys/``.

``DataLogger.init(..., system_metrics=True)`` (or a number of seconds; the default
interval is 10 s) composes a ``SystemSampler`` into the logger. Every interval it
writes, through the logger's own ``write`` (so each point is ``x``, ``y`` and the
call's ``wall_time``, like every other point):

- psutil: ``sys/cpu_percent`` (the machine's, all cores), ``sys/memory_percent``,
  ``sys/process_rss_bytes`` (the sampling process), ``sys/disk_read_bytes_per_s``,
  ``sys/disk_write_bytes_per_s``, ``sys/net_recv_bytes_per_s``,
  ``sys/net_sent_bytes_per_s`` (rates and the CPU share over the interval just ended);
- nvidia-ml-py (``pip install streamvis[gpu]``), for each GPU this process sees
  (``CUDA_VISIBLE_DEVICES``, numbered as CUDA numbers them): ``sys/gpu{i}/utilization_percent``,
  ``sys/gpu{i}/memory_used_bytes``, ``sys/gpu{i}/power_watts``, ``sys/gpu{i}/temperature_c``.
  Without the package, a driver or a GPU these are absent, quietly.

``x`` is the step last written by the logger (the integer ``x`` of its latest write
under a name outside ``sys/``; a step given as a torch or jax tensor is not read,
since reading it could synchronise the device), or the sample's number (0, 1, ...)
before any. ``y`` is float64.

Who samples: the process that owns the logger. The Lightning and Hugging Face
integrations open their logger on global rank zero only, so there one process per
job samples (its machine, all the GPUs it sees). A program that opens a logger with
``system_metrics`` on every rank samples on every rank, each into its own logger.

Nothing here raises into the training loop: a probe that fails is logged once at
warning level (logger ``streamvis.logger``) and dropped; so is a name the logger
refuses. ``stop()`` (called by the logger's ``close()``, also at exit) takes one last
sample covering the part of the interval since the previous one, writes it before the
logger's final flush, and joins the thread. A forked child never samples.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from typing import Any

import numpy as np

from streamvis.columns import STEP_COLUMN
from streamvis.errors import InvalidArgumentError
from streamvis.logger.packed import packing_of

__all__ = ["DEFAULT_INTERVAL", "PREFIX", "Probe", "StepTracker", "SystemSampler",
           "default_probes", "sampling_interval"]

log = logging.getLogger("streamvis.logger")

DEFAULT_INTERVAL = 10.0
PREFIX = "sys/"
_SCAN = 256  # queue entries looked at (from the newest) for the last step


def sampling_interval(value: Any, where: str = "") -> float | None:
    """The sampling interval in seconds asked for by ``system_metrics=``: True is
    ``DEFAULT_INTERVAL``, False or None is off, a finite number > 0 is itself.
    Raises InvalidArgumentError naming the value otherwise."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_INTERVAL
    if isinstance(value, Real) and not isinstance(value, bool):
        seconds = float(value)
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    raise InvalidArgumentError(
        f"{where}system_metrics must be True, False or a number of seconds > 0, got {value!r}")


# ------------------------------------------------------------------------ the step
class StepTracker:
    """The step last written by a logger: the integer ``x`` of its newest write under
    a name outside ``sys/``. ``observe`` is called by the flush with the entries it is
    about to take from the queue (before they leave it); ``current`` looks at what is
    still queued first, so a sample sees writes made since the last flush."""

    def __init__(self, schemas: Mapping[str, Mapping[str, np.dtype]]) -> None:
        self._schemas = schemas
        self._x_at: dict[str, Any] = {}  # name -> (packing, index of x) or None
        self.last: int | None = None

    def observe(self, queue: list[Any], n: int) -> None:
        """Remember the step among ``queue[:n]`` (the entries a flush takes)."""
        step = self._scan(queue, n)
        if step is not None:
            self.last = step

    def current(self, queue: list[Any]) -> int | None:
        """The step last written: in the queue, else the last one flushed."""
        tail = queue[-_SCAN:]  # one C-level copy: writers may append meanwhile
        step = self._scan(tail, len(tail))
        return self.last if step is None else step

    def _scan(self, entries: list[Any], n: int) -> int | None:
        for i in range(n - 1, max(-1, n - 1 - _SCAN), -1):
            step = self._step_of(entries[i])
            if step is not None:
                return step
        return None

    def _step_of(self, entry: Any) -> int | None:
        if type(entry) is not tuple:  # a Control (config, deletion)
            return None
        name = entry[0]
        where = self._x_at.get(name, False)
        if where is False:
            where = self._where_x(name)
            if name in self._schemas:  # a name's schema never changes once set
                self._x_at[name] = where
        if where is None:
            return None
        if len(entry) == 2:  # packed by the fast path (packed.py)
            packing, i = where
            return int(packing.unpack(entry[1])[i])
        v = entry[1 if len(entry) == 3 else 4].get(STEP_COLUMN)
        if type(v) is int or isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.ndarray) and v.size and v.dtype.kind in "iu":
            return int(v.reshape(-1)[-1])
        return None  # a tensor: never read here (that could sync its device)

    def _where_x(self, name: str) -> Any:
        schema = self._schemas.get(name)
        if name.startswith(PREFIX) or not schema or STEP_COLUMN not in schema:
            return None
        if np.dtype(schema[STEP_COLUMN]).kind not in "iu":
            return None
        packing = packing_of(schema)
        return (packing, packing.columns.index(STEP_COLUMN)) if packing is not None else ()


# ------------------------------------------------------------------------ probes
class Probe:
    """One source of values: ``read()`` returns ``(name, value)`` pairs for this sample
    (none when it has nothing to say this time); it may raise."""

    __slots__ = ("label", "read", "close")

    def __init__(self, label: str, read: Callable[[], Iterable[tuple[str, float]]],
                 close: Callable[[], None] | None = None) -> None:
        self.label = label
        self.read = read
        self.close = close


def _rates(label: str, counters: Callable[[], Any], fields: Mapping[str, str]) -> Probe | None:
    """Bytes per second of cumulative counters, over the time since the last read."""
    prev = counters()
    if prev is None:  # psutil: no disks / no interfaces here
        return None
    state = [prev, time.monotonic()]

    def read() -> list[tuple[str, float]]:
        cur, now = counters(), time.monotonic()
        last, then = state
        state[0], state[1] = cur, now
        dt = now - then
        if cur is None or dt <= 0:
            return []
        out = []
        for name, field in fields.items():
            delta = getattr(cur, field) - getattr(last, field)
            if delta >= 0:  # a counter reset (a device removed): no value this time
                out.append((name, delta / dt))
        return out

    return Probe(label, read)


def _cpu_probe(psutil: Any) -> Probe:
    """The machine's CPU use over the interval, from ``cpu_times`` (psutil's own
    ``cpu_percent()`` keeps one module-wide baseline that other callers would move)."""

    def busy_total(t: Any) -> tuple[float, float]:
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        return total - t.idle - getattr(t, "iowait", 0.0), total

    state = [busy_total(psutil.cpu_times())]

    def read() -> list[tuple[str, float]]:
        (b0, t0), (b1, t1) = state[0], busy_total(psutil.cpu_times())
        if t1 <= t0:  # under one clock tick: nothing to say
            return []
        state[0] = (b1, t1)
        return [("sys/cpu_percent", min(100.0, max(0.0, 100.0 * (b1 - b0) / (t1 - t0))))]

    return Probe("cpu_percent", read)


def psutil_probes() -> list[Probe]:
    """The CPU, memory, process, disk and network probes (psutil)."""
    try:
        import psutil
    except ImportError:
        log.warning("streamvis: system metrics need psutil (pip install psutil); "
                    "only GPU metrics are sampled")
        return []
    proc = psutil.Process()
    builders: dict[str, Callable[[], Probe | None]] = {
        "cpu_percent": lambda: _cpu_probe(psutil),
        "memory_percent": lambda: Probe("memory_percent", lambda: [
            ("sys/memory_percent", psutil.virtual_memory().percent)]),
        "process_rss_bytes": lambda: Probe("process_rss_bytes", lambda: [
            ("sys/process_rss_bytes", proc.memory_info().rss)]),
        "disk": lambda: _rates("disk", lambda: psutil.disk_io_counters(perdisk=False),
                               {"sys/disk_read_bytes_per_s": "read_bytes",
                                "sys/disk_write_bytes_per_s": "write_bytes"}),
        "net": lambda: _rates("net", lambda: psutil.net_io_counters(pernic=False),
                              {"sys/net_recv_bytes_per_s": "bytes_recv",
                               "sys/net_sent_bytes_per_s": "bytes_sent"}),
    }
    probes = []
    for label, build in builders.items():
        try:
            probe = build()
        except Exception as exc:
            log.warning("streamvis: system metric %r is not sampled: %s: %s", label,
                        type(exc).__name__, exc)
            continue
        if probe is not None:
            probes.append(probe)
    return probes


def _visible_gpus(nvml: Any) -> list[Any]:
    """NVML handles of the GPUs this process sees, in CUDA's order: all of them, or
    those ``CUDA_VISIBLE_DEVICES`` lists (indices or UUIDs; as CUDA does, the list
    ends at the first entry that names no device)."""
    count = nvml.nvmlDeviceGetCount()
    spec = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    handles = []
    for entry in (e.strip() for e in spec.split(",")):
        try:
            if entry.isdigit():
                if int(entry) >= count:
                    break
                handles.append(nvml.nvmlDeviceGetHandleByIndex(int(entry)))
            else:
                handles.append(nvml.nvmlDeviceGetHandleByUUID(entry))
        except nvml.NVMLError:
            break
    return handles


def _one_reading(label: str, get: Callable[[Any], float], handle: Any) -> Probe:
    name = PREFIX + label
    return Probe(label, lambda: [(name, get(handle))])


def gpu_probes() -> list[Probe]:
    """Four probes per visible NVIDIA GPU (nvidia-ml-py); none, quietly, without the
    package, the driver or a GPU. A reading a GPU does not support is left out."""
    try:
        import pynvml as nvml
    except ImportError:
        return []
    try:
        nvml.nvmlInit()
    except Exception as exc:  # no driver, no library: no GPU metrics, no noise
        log.debug("streamvis: no GPU metrics (%s)", exc)
        return []
    try:
        handles = _visible_gpus(nvml)
    except Exception as exc:
        log.debug("streamvis: no GPU metrics (%s)", exc)
        handles = []
    if not handles:
        nvml.nvmlShutdown()
        return []
    readings: dict[str, Callable[[Any], float]] = {
        "utilization_percent": lambda h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
        "memory_used_bytes": lambda h: nvml.nvmlDeviceGetMemoryInfo(h).used,
        "power_watts": lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "temperature_c": lambda h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU),
    }
    probes: list[Probe] = []
    for i, h in enumerate(handles):
        for what, get in readings.items():
            try:
                get(h)
            except Exception as exc:  # NotSupported (a MIG slice's power, say): absent
                log.debug("streamvis: gpu%d %s not sampled (%s)", i, what, exc)
                continue
            probes.append(_one_reading(f"gpu{i}/{what}", get, h))
    probes.append(Probe("nvml", lambda: [], close=nvml.nvmlShutdown))
    return probes


def default_probes() -> list[Probe]:
    """The psutil probes, then the GPU ones."""
    return psutil_probes() + gpu_probes()


# ------------------------------------------------------------------------ the sampler
class SystemSampler:
    """A thread that reads ``probes()`` every ``interval`` seconds and hands each value
    to ``write(name, x, y)``, with ``x = step()`` or the sample's number before any
    step. See the module docstring."""

    def __init__(self, write: Callable[[str, int, float], Any], step: Callable[[], int | None],
                 interval: float, *, probes: Callable[[], list[Probe]] = default_probes,
                 thread_name: str = "streamvis-system-metrics") -> None:
        self.interval = float(interval)
        self.samples = 0  # samples taken (the x before any step)
        self._write = write
        self._step = step
        self._make_probes = probes
        self._probes: list[Probe] = []
        self._refused: set[str] = set()  # names and labels warned about (once each)
        self._written: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self.cpu_seconds = 0.0  # this thread's CPU time in samples (reading and writing)
        self.setup_cpu_seconds = 0.0  # and in finding the probes, once

    def start(self) -> SystemSampler:
        """Start sampling (the first sample comes one interval from now)."""
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> bool:
        """Take the last sample, end the thread; True when it ended within ``timeout``."""
        self._stop.set()
        if self._thread.ident is None or self._thread is threading.current_thread():
            return not self._thread.is_alive()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("streamvis: the system metrics thread did not stop within %.1f s "
                        "(a probe is stuck); leaving it as a daemon", timeout)
            return False
        return True

    def _run(self) -> None:
        t_cpu = time.thread_time()
        try:
            self._probes = self._guard("(setup)", self._make_probes) or []
        finally:
            self.setup_cpu_seconds = time.thread_time() - t_cpu
        start = last = time.monotonic()
        k = 1
        while not self._stop.wait(max(0.0, start + k * self.interval - time.monotonic())):
            last = time.monotonic()
            self._sample()
            k = max(k + 1, math.floor((last - start) / self.interval) + 1)  # no catch-up burst
        if time.monotonic() > last:  # the part of an interval since the last sample
            self._sample()
        for p in self._probes:
            if p.close is not None:
                self._guard(p.label, p.close)

    def _sample(self) -> None:
        t_cpu = time.thread_time()
        step = self._guard("(step)", self._step)
        x = self.samples if step is None else step
        self.samples += 1
        failed = []
        for p in self._probes:
            try:
                values = list(p.read())
            except Exception as exc:
                failed.append(p)
                log.warning("streamvis: system metric %r failed and is no longer sampled: "
                            "%s: %s", p.label, type(exc).__name__, exc)
                continue
            for name, v in values:
                if name in self._refused:
                    continue
                try:  # float64 fixes the name's schema; then Python floats (the fast path)
                    self._write(name, x, float(v) if name in self._written else np.float64(v))
                    self._written.add(name)
                except Exception as exc:
                    self._refused.add(name)
                    log.warning("streamvis: system metric %r not logged and no longer "
                                "sampled: %s", name, exc)
        for p in failed:
            self._probes.remove(p)
        self.cpu_seconds += time.thread_time() - t_cpu

    def _guard(self, label: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, or None when it raises (warned about once per ``label``)."""
        try:
            return fn()
        except Exception as exc:
            if label not in self._refused:
                self._refused.add(label)
                log.warning("streamvis: system metrics: %s failed: %s: %s", label,
                            type(exc).__name__, exc)
            return None
