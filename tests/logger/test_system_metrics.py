"""System metrics (streamvis/logger/system_metrics.py): a real DataLogger sampling this
machine into a real Store, read back. Waits are on the sampler's own count of samples."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from streamvis.errors import InvalidArgumentError
from streamvis.logger import DataLogger
from streamvis.logger.system_metrics import Probe, StepTracker, SystemSampler

PSUTIL_NAMES = {
    "sys/cpu_percent", "sys/memory_percent", "sys/process_rss_bytes",
    "sys/disk_read_bytes_per_s", "sys/disk_write_bytes_per_s",
    "sys/net_recv_bytes_per_s", "sys/net_sent_bytes_per_s",
}
GPU_READINGS = ("utilization_percent", "memory_used_bytes", "power_watts", "temperature_c")
ROOT = Path(__file__).resolve().parents[2]


def _expected_psutil_names() -> set[str]:
    """What this machine can report (a container may have no disks or interfaces)."""
    names = set(PSUTIL_NAMES)
    if psutil.disk_io_counters() is None:
        names -= {"sys/disk_read_bytes_per_s", "sys/disk_write_bytes_per_s"}
    if psutil.net_io_counters() is None:
        names -= {"sys/net_recv_bytes_per_s", "sys/net_sent_bytes_per_s"}
    return names


def _gpu_count() -> int:
    """GPUs NVML reports here, asked directly (0 without the package or a driver)."""
    try:
        import pynvml
    except ImportError:
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def _sys_tables(points: dict) -> dict[str, dict[str, np.ndarray]]:
    return {name: cols for (name, index), cols in points.items() if name.startswith("sys/")}


def test_names_and_plausible_ranges(log_path, read_points, wait_for, caplog):
    t0 = time.time()
    with caplog.at_level(logging.WARNING, logger="streamvis"):
        lg = DataLogger("run", delete_existing=True).init(path=log_path, flush_every=0.05,
                                                           system_metrics=0.05)
        wait_for(lambda: lg._sampler.samples >= 3)
        lg.close()
    t1 = time.time()
    tables = _sys_tables(read_points(log_path, "run"))
    gpus = _gpu_count()
    gpu_names = {f"sys/gpu{i}/{r}" for i in range(gpus) for r in GPU_READINGS}
    assert set(tables) - gpu_names == _expected_psutil_names()
    if gpus == 0:  # this machine: no GPU, no sys/gpu* names, and not a word about it
        assert not any(n.startswith("sys/gpu") for n in tables)
        assert [r.getMessage() for r in caplog.records] == []
    total = psutil.virtual_memory().total
    for name, cols in tables.items():
        y, x, wt = cols["y"], cols["x"], cols["wall_time"]
        assert y.dtype == np.float64 and x.dtype == np.int64 and wt.dtype == np.float64, name
        assert np.all(np.isfinite(y)) and np.all(y >= 0), (name, y)
        assert np.all((wt >= t0) & (wt <= t1)) and np.all(np.diff(wt) > 0), name
        assert x.tolist() == list(range(len(x))), name  # no step written: the sample's number
    # every sample once: the regular ones and the last, partial interval's at close
    n = lg._sampler.samples
    assert len(tables["sys/memory_percent"]["y"]) == n >= 3
    assert np.all(tables["sys/cpu_percent"]["y"] <= 100)
    assert np.all((tables["sys/memory_percent"]["y"] > 0) & (tables["sys/memory_percent"]["y"] < 100))
    rss = tables["sys/process_rss_bytes"]["y"]
    assert np.all((rss > 10e6) & (rss < total)), rss  # this Python process: tens of MB and up
    for name in tables:
        if name.endswith("_bytes_per_s"):
            assert np.all(tables[name]["y"] < 100e9), name  # under 100 GB/s


def test_x_is_the_step_last_written_or_the_sample_number(log_path, read_points, wait_for):
    lg = DataLogger("run", delete_existing=True).init(path=log_path, flush_every=0.05,
                                                       system_metrics=0.05)
    s = lg._sampler
    wait_for(lambda: s.samples >= 2)
    lg.write("loss", x=100, y=1.0)  # Python numbers: the fast path's packed record
    lg.write("lr", x=0.5, y=1.0)  # a float x is not a step
    lg.write("sys/mine", x=999, y=1.0)  # nor is anything under sys/
    c = s.samples
    wait_for(lambda: s.samples >= c + 2)
    lg.write("acc", x=np.array([5, 6, 7]), y=np.array([0.1, 0.2, 0.3]))  # a full record
    assert lg.flush()  # drained from the queue: still the step last written
    c = s.samples
    wait_for(lambda: s.samples >= c + 2)
    lg.write("loss", x=8, y=1.0)  # left in the queue when close takes the last sample
    lg.close()
    x = _sys_tables(read_points(log_path, "run"))["sys/memory_percent"]["x"].tolist()
    assert x[:2] == [0, 1]
    first = x.index(100)
    assert x[:first] == list(range(first))  # sample numbers until a step was written
    rest = x[first:]
    assert rest[-1] == 8 and 7 in rest and set(rest) == {100, 7, 8}
    assert rest == sorted(rest, key=[100, 7, 8].index)  # in the order they were written


def test_close_keeps_the_last_interval_once_and_leaves_no_thread(log_path, read_points,
                                                                 wait_for):
    lg = DataLogger("run", delete_existing=True).init(path=log_path, system_metrics=3600)
    lg.write("loss", x=42, y=1.0)
    # the CPU share needs the machine's clock to tick once after the sampler's start
    wait_for(lambda: lg._sampler._probes)
    ticks = sum(psutil.cpu_times())
    wait_for(lambda: sum(psutil.cpu_times()) > ticks)
    t = time.monotonic()
    lg.close()
    assert time.monotonic() - t < 5  # does not wait for the hour to pass
    assert not lg._sampler.alive
    assert not [th for th in threading.enumerate() if th.name.startswith("streamvis-system")]
    tables = _sys_tables(read_points(log_path, "run"))
    assert set(tables) >= _expected_psutil_names()
    for name, cols in tables.items():  # the one, partial interval: sampled once, at step 42
        assert cols["x"].tolist() == [42], name
    lg.close()  # idempotent: nothing more is written
    assert len(_sys_tables(read_points(log_path, "run"))["sys/cpu_percent"]["x"]) == 1


def test_a_failing_probe_never_reaches_the_training_loop(log_path, read_points, wait_for,
                                                         caplog):
    """Probes that raise (at once, later, while being set up) and a value the logger
    refuses: each is one warning and is dropped; the others and the writes go on."""
    calls = {"flaky": 0}

    def flaky() -> list[tuple[str, float]]:
        calls["flaky"] += 1
        if calls["flaky"] >= 2:
            raise OSError("injected: /proc went away")
        return [("sys/flaky", 1.0)]

    def broken() -> list[tuple[str, float]]:
        raise RuntimeError("injected: the probe is broken")

    def probes() -> list[Probe]:
        return [Probe("flaky", flaky), Probe("broken", broken),
                Probe("refused", lambda: [("sys/\x00bad", 1.0)]),
                Probe("good", lambda: [("sys/good", 2.0)])]

    lg = DataLogger("run", delete_existing=True).init(path=log_path, flush_every=0.05)
    steps = StepTracker(lg._schemas)
    sampler = SystemSampler(lambda n, x, y: lg.write(n, x=x, y=y),
                            lambda: steps.current(lg._queue), 0.01, probes=probes)
    with caplog.at_level(logging.WARNING, logger="streamvis"):
        sampler.start()
        step = 0
        while sampler.samples < 20:  # the training loop: must never see an exception
            lg.write("loss", x=step, y=float(step))
            step += 1
            time.sleep(0.001)  # pacing the loop, not synchronising
        assert sampler.stop()
        setup = SystemSampler(lambda n, x, y: None, lambda: {}["step"], 0.01,
                              probes=lambda: 1 / 0).start()  # setup and step raising
        wait_for(lambda: setup.samples >= 3)
        assert setup.stop()
    lg.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "'flaky'" in m and "OSError" in m]) == 1
    assert len([m for m in messages if "'broken'" in m]) == 1
    assert len([m for m in messages if "bad" in m and "no longer sampled" in m]) == 1
    assert len([m for m in messages if "ZeroDivisionError" in m]) == 1
    assert len([m for m in messages if "KeyError" in m]) == 1  # once, not once a sample
    assert calls["flaky"] == 2  # dropped after its failure
    points = read_points(log_path, "run")
    assert len(points[("sys/good", 0)]["y"]) == sampler.samples  # the others went on
    assert len(points[("sys/flaky", 0)]["y"]) == 1
    assert len(points[("loss", 0)]["x"]) == step


@pytest.mark.parametrize("value", [0, -1, -0.5, float("nan"), float("inf"), "10", [10]])
def test_a_bad_interval_is_one_line_naming_it(log_path, value):
    for make in (lambda: DataLogger("run", system_metrics=value),
                 lambda: DataLogger("run").init(path=log_path, system_metrics=value)):
        with pytest.raises(InvalidArgumentError) as err:
            make()
        msg = str(err.value)
        assert "\n" not in msg and repr(value) in msg and "system_metrics" in msg, msg
    assert not os.path.exists(log_path)  # refused before the log was opened


def test_the_constructor_form_and_off_by_default(log_path, read_points, wait_for):
    with DataLogger("run", path=log_path, system_metrics=0.05) as lg:
        wait_for(lambda: lg._sampler.samples >= 1)
    assert "sys/cpu_percent" in _sys_tables(read_points(log_path, "run"))
    with DataLogger("off", path=log_path) as lg:
        lg.write("loss", x=0, y=1.0)
        assert lg._sampler is None and lg._steps is None
    assert not _sys_tables(read_points(log_path, "off"))


def test_exit_without_close_writes_the_last_sample(tmp_path):
    """A program that never closes its logger: the exit-time close takes the last
    sample and the process ends at once (the sampler thread holds nothing up)."""
    path = tmp_path / "exit.svl"
    prog = (
        "from streamvis.logger import DataLogger\n"
        f"lg = DataLogger('run', delete_existing=True).init(path={str(path)!r}, "
        "system_metrics=3600)\n"
        "lg.write('loss', x=5, y=1.0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - t < 30
    from streamvis.storage import Store

    with Store.open(str(path), mode="r") as st:
        res = st.read(scope="run")
    x = {name: t.column("x").to_pylist() for (_, name), t in res.tables.items()}
    assert x["sys/memory_percent"] == [5] and x["loss"] == [5]


def test_a_forked_child_does_not_sample(log_path):
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    lg = DataLogger("run", delete_existing=True).init(path=log_path, system_metrics=0.05)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's handlers
        alive = [t.name for t in threading.enumerate() if t.name.startswith("streamvis-system")]
        os.write(w, f"{lg._sampler is None} {alive}".encode())
        os._exit(0)
    os.close(w)
    try:
        report = os.read(r, 1000).decode()
    finally:
        os.close(r)
        os.waitpid(pid, 0)
        lg.close()
    assert report == "True []"
