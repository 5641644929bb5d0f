"""TensorBoard: EventFileWriter (Event/Summary protos), tensorboardX, EventAccumulator,
tbparse and the Rust data server, on issue 6's workloads.

Runs in .venv-bench: ``python -m benchmarks.competitors.tensorboard --sizes JSON --workdir D``.
"""

from __future__ import annotations

import glob
import os
import subprocess
import tempfile
import time

import numpy as np

from benchmarks.table import Table, peak_rss_bytes, progress, time_once
from benchmarks.workloads import (
    SEC,
    Sizes,
    batch_data,
    competitor_main,
    dir_bytes,
    fresh_dir,
    scalar_data,
)

BASE = "streamvis"
NO_POINTS = "TensorBoard has no point-cloud type: one raw tensor summary [batch,2] per step"


def _scalar_event(step: int, value: float):  # type: ignore[no-untyped-def]
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    return Event(
        wall_time=time.time(),
        step=step,
        summary=Summary(value=[Summary.Value(tag="loss", simple_value=value)]),
    )


def tb_write_scalars(logdir: str, n: int) -> None:
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    steps, values = scalar_data(n)
    w = EventFileWriter(logdir)
    for i in range(n):
        w.add_event(_scalar_event(i, float(values[i])))
    w.close()


def tbx_write_scalars(logdir: str, n: int) -> None:
    from tensorboardX import SummaryWriter

    steps, values = scalar_data(n)
    w = SummaryWriter(logdir)
    for i in range(n):
        w.add_scalar("loss", float(values[i]), i)
    w.close()


def tb_write_batches(logdir: str, steps: int, batch: int) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util.tensor_util import make_tensor_proto

    w = EventFileWriter(logdir)
    for s in range(steps):
        x, y = batch_data(batch, s)
        t = make_tensor_proto(np.stack([x, y], axis=1))
        w.add_event(
            Event(
                wall_time=time.time(),
                step=s,
                summary=Summary(value=[Summary.Value(tag="points", tensor=t)]),
            )
        )
    w.close()


def fast_scalar_log(logdir: str, n: int) -> None:
    """The same event file EventFileWriter writes, produced faster (no queue thread):
    used only to build the full-size log the readers load."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.summary.writer.record_writer import RecordWriter

    steps, values = scalar_data(n)
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, f"events.out.tfevents.{int(time.time()):010d}.bench")
    with open(path, "wb") as f:
        rw = RecordWriter(f)
        rw.write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
        for i in range(n):
            rw.write(_scalar_event(i, float(values[i])).SerializeToString())


def ea_read_scalars(logdir: str) -> tuple[np.ndarray, np.ndarray]:
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(logdir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    ev = acc.Scalars("loss")
    return (
        np.fromiter((e.step for e in ev), np.int64, len(ev)),
        np.fromiter((e.value for e in ev), np.float32, len(ev)),
    )


def ea_read_batches(logdir: str) -> np.ndarray:
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util.tensor_util import make_ndarray

    acc = ea.EventAccumulator(logdir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    return np.concatenate([make_ndarray(e.tensor_proto) for e in acc.Tensors("points")])


def tbparse_read_scalars(logdir: str) -> tuple[np.ndarray, np.ndarray]:
    from tbparse import SummaryReader

    df = SummaryReader(logdir, pivot=False).scalars
    return df["step"].to_numpy(), df["value"].to_numpy(np.float32)


def tbparse_read_batches(logdir: str) -> np.ndarray:
    from tbparse import SummaryReader

    df = SummaryReader(logdir, pivot=False).tensors
    return np.concatenate([np.asarray(v).reshape(-1, 2) for v in df["value"]])


def data_server(logdir: str, n: int, runs: int = 1) -> tuple[float, float, int, int]:
    """Rust data server: (load seconds, ReadScalars seconds, points served, peak RSS).

    Loaded when each of ``runs`` runs reports max_step n-1 for its tag."""
    import grpc
    import tensorboard_data_server
    from tensorboard.data.proto import data_provider_pb2 as dp
    from tensorboard.data.proto import data_provider_pb2_grpc as dpg

    binary = tensorboard_data_server.server_binary()
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                binary,
                f"--logdir={logdir}",
                "--reload=once",
                "--samples-per-plugin=scalars=all",
                "--port=0",
                f"--port-file={port_file}",
                "--die-after-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = None
            while port is None:
                if os.path.exists(port_file):
                    txt = open(port_file).read()
                    if txt.endswith("\n"):
                        port = int(txt)
                        break
                if proc.poll() is not None:
                    raise RuntimeError("data server exited")
                time.sleep(0.002)
            chan = grpc.insecure_channel(
                f"localhost:{port}", options=[("grpc.max_receive_message_length", -1)]
            )
            stub = dpg.TensorBoardDataProviderStub(chan)
            req = dp.ListScalarsRequest(
                experiment_id="", plugin_filter=dp.PluginFilter(plugin_name="scalars")
            )
            while True:  # loaded when the tag's max_step is the last step
                resp = stub.ListScalars(req)
                done = sum(t.metadata.max_step >= n - 1 for r in resp.runs for t in r.tags) >= runs
                if done:
                    break
                time.sleep(0.005)
            t_load = time.perf_counter() - t0
            t1 = time.perf_counter()
            rr = stub.ReadScalars(
                dp.ReadScalarsRequest(
                    experiment_id="",
                    plugin_filter=dp.PluginFilter(plugin_name="scalars"),
                    downsample=dp.Downsample(num_points=n),
                )
            )
            got = 0
            for r in rr.runs:
                for t in r.tags:
                    steps = np.asarray(t.data.step, np.int64)
                    vals = np.asarray(t.data.value, np.float32)
                    got += len(steps) + 0 * len(vals)
            t_read = time.perf_counter() - t1
            peak = peak_rss_bytes(proc.pid)
            chan.close()
        finally:
            proc.kill()
            proc.wait()
    return t_load, t_read, got, peak


def run(s: Sizes, workdir: str) -> Table:
    t = Table()
    n_w = max(1, int(s.scalars * s.tb_write_fraction))
    frac_note = f"measured on {n_w:,} of {s.scalars:,} writes, per write" if n_w < s.scalars else ""

    # 1. scalar writes
    for label, fn in (
        ("TensorBoard EventFileWriter", tb_write_scalars),
        ("tensorboardX add_scalar", tbx_write_scalars),
    ):
        try:
            samples, cpu = [], []
            for r in range(s.runs):
                progress(f"{label}: {n_w:,} scalar writes, run {r + 1}/{s.runs}")
                d = fresh_dir(os.path.join(workdir, "tbw"))
                c0 = time.process_time()
                samples.append(time_once(lambda: fn(d, n_w)) / n_w)  # noqa: B023
                cpu.append((time.process_time() - c0) / n_w)
            t.add(SEC.write_scalars(s), label, samples, "s", baseline=BASE, note=frac_note)
            t.add(SEC.cpu_scalars(s), label, cpu, "s", baseline=BASE, note=frac_note)
        except Exception as e:  # noqa: BLE001
            t.add(SEC.write_scalars(s), label, [], "s", note=f"failed: {e!r}"[:200])

    # 2. batches (tensor summary per step)
    bdir = os.path.join(workdir, "tb_batches")
    samples = []
    for r in range(s.runs):
        progress(f"TensorBoard tensor summaries: {s.steps} x {s.batch:,}, run {r + 1}/{s.runs}")
        fresh_dir(bdir)
        samples.append(time_once(lambda: tb_write_batches(bdir, s.steps, s.batch)))
    t.add(
        SEC.write_batches(s),
        "TensorBoard EventFileWriter (tensor summary)",
        samples,
        "s",
        baseline=BASE,
        note=NO_POINTS,
    )
    t.add(
        SEC.bytes_batches(s),
        "TensorBoard (tensor summary)",
        dir_bytes(bdir) / s.batch_points,
        "B/point",
        baseline=BASE,
    )

    # 3. reads, on a full-size scalar log
    sdir = fresh_dir(os.path.join(workdir, "tb_scalars"))
    progress(f"TensorBoard: building the full {s.scalars:,}-scalar event file for the readers")
    fast_scalar_log(sdir, s.scalars)
    t.add(
        SEC.bytes_scalars(s),
        "TensorBoard event file",
        dir_bytes(sdir) / s.scalars,
        "B/point",
        baseline=BASE,
    )
    readers = (
        ("TensorBoard EventAccumulator (size_guidance 0)", ea_read_scalars, ea_read_batches),
        ("tbparse", tbparse_read_scalars, tbparse_read_batches),
    )
    for label, rs, rb in readers:
        try:
            samples = []
            for r in range(s.slow_read_runs):
                progress(f"{label}: read {s.scalars:,} scalars, run {r + 1}/{s.slow_read_runs}")
                samples.append(time_once(lambda: rs(sdir)))  # noqa: B023
            steps, vals = rs(sdir) if s.scalars <= 50_000 else (None, None)
            ok = "" if steps is None or len(steps) == s.scalars else f" (got {len(steps)} points)"
            t.add(SEC.read_scalars(s), label, samples, "s", baseline=BASE, note=ok.strip())
        except Exception as e:  # noqa: BLE001
            t.add(SEC.read_scalars(s), label, [], "s", note=f"failed: {e!r}"[:200])
        try:
            samples = []
            for _r in range(s.slow_read_runs):
                progress(f"{label}: read {s.batch_points:,} batch points")
                samples.append(time_once(lambda: rb(bdir)))  # noqa: B023
            t.add(SEC.read_batches(s), label, samples, "s", baseline=BASE, note=NO_POINTS)
        except Exception as e:  # noqa: BLE001
            t.add(SEC.read_batches(s), label, [], "s", note=f"failed: {e!r}"[:200])

    # Rust data server
    try:
        loads, reads, peaks = [], [], []
        for r in range(s.runs):
            progress(f"TensorBoard Rust data server: load + ReadScalars, run {r + 1}/{s.runs}")
            tl, tr, got, peak = data_server(sdir, s.scalars)
            loads.append(tl)
            reads.append(tr)
            peaks.append(peak)
        note = f"served {got:,} points at {s.scalars / np.median(reads) / 1e6:.3g} M points/s"
        t.add(
            SEC.read_scalars(s),
            "TB Rust data server: load + ReadScalars",
            [a + b for a, b in zip(loads, reads, strict=True)],
            "s",
            baseline=BASE,
            note=note,
        )
        t.add(SEC.read_scalars(s), "TB Rust data server: load only", loads, "s", baseline=BASE)
        t.add(
            SEC.memory(s),
            f"TB Rust data server, {s.scalars:,} scalars (peak RSS)",
            peaks,
            "B",
            note="whole server process",
        )
    except Exception as e:  # noqa: BLE001
        t.add(
            SEC.read_scalars(s),
            "TB Rust data server: load + ReadScalars",
            [],
            "s",
            note=f"failed: {e!r}"[:200],
        )
    if s.ds_big_runs > 1:  # 10M scalars: 10 runs (subdirectories) of the 1M-point file
        big = fresh_dir(os.path.join(workdir, "tb_big"))
        src = glob.glob(os.path.join(sdir, "events.out.tfevents.*"))[0]
        for k in range(s.ds_big_runs):
            os.makedirs(os.path.join(big, f"run{k}"))
            os.link(src, os.path.join(big, f"run{k}", os.path.basename(src)))
        total = s.ds_big_runs * s.scalars
        try:
            progress(f"TensorBoard Rust data server: {total:,} scalars ({s.ds_big_runs} runs)")
            tl, tr, got, peak = data_server(big, s.scalars, runs=s.ds_big_runs)
            t.add(
                SEC.memory(s),
                f"TB Rust data server, {total:,} scalars (peak RSS)",
                peak,
                "B",
                note=f"{s.ds_big_runs} runs of {s.scalars:,}; load {tl:.3g} s, "
                f"ReadScalars {tr:.3g} s ({got:,} points); one run",
            )
        except Exception as e:  # noqa: BLE001
            t.add(
                SEC.memory(s),
                f"TB Rust data server, {total:,} scalars",
                [],
                "B",
                note=f"failed: {e!r}"[:200],
            )
    return t


if __name__ == "__main__":
    competitor_main(run)
