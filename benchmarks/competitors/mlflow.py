"""MLflow: log_metric per step and log_batch, file store and SQLite, read with
get_metric_history. Too slow for the whole workload: a stated fraction, extrapolated.

Runs in .venv-bench: ``python -m benchmarks.competitors.mlflow --sizes JSON --workdir D``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.table import Table, progress, time_once
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
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def _client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(f"bench-{time.time_ns()}")
    run = client.create_run(exp)
    return client, run.info.run_id


def write_scalars(uri: str, n: int) -> tuple[float, object, str]:
    import mlflow

    steps, values = scalar_data(n)
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment(f"bench-{time.time_ns()}")
    t0 = time.perf_counter()
    with mlflow.start_run(experiment_id=exp) as run:
        for i in range(n):
            mlflow.log_metric("loss", float(values[i]), step=i)
    dt = time.perf_counter() - t0
    return dt, mlflow.tracking.MlflowClient(uri), run.info.run_id


def write_batches(uri: str, steps: int, batch: int) -> tuple[float, object, str]:
    from mlflow.entities import Metric

    client, run_id = _client(uri)
    t0 = time.perf_counter()
    for s in range(steps):
        x, y = batch_data(batch, s)
        ts = int(time.time() * 1000)
        metrics = []
        for j in range(batch):
            metrics.append(Metric("x", float(x[j]), ts, s))
            metrics.append(Metric("y", float(y[j]), ts, s))
        for k in range(0, len(metrics), 1000):  # MLflow's per-call limit
            client.log_batch(run_id, metrics=metrics[k : k + 1000])
    client.set_terminated(run_id)
    return time.perf_counter() - t0, client, run_id


def read_metric(client, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    hist = client.get_metric_history(run_id, key)
    return (
        np.fromiter((m.step for m in hist), np.int64, len(hist)),
        np.fromiter((m.value for m in hist), np.float32, len(hist)),
    )


def run(s: Sizes, workdir: str) -> Table:
    t = Table()
    import mlflow

    stores = (("file", 1.0), ("SQLite", 0.1))  # SQLite ~7x slower per call: a smaller fraction
    for store, scale in stores:
        n = max(10, int(s.scalars * s.mlflow_fraction * scale))
        label = f"MLflow {mlflow.__version__} ({store})"
        note = f"measured on {n:,} of {s.scalars:,} points, extrapolated"
        wr, rd, nbytes = [], [], 0.0
        for r in range(s.runs):
            d = fresh_dir(os.path.join(workdir, f"mlflow_{store}"))
            uri = f"file://{d}/mlruns{r}" if store == "file" else f"sqlite:///{d}/mlflow{r}.db"
            progress(f"{label}: {n:,} log_metric calls, run {r + 1}/{s.runs}")
            dt, client, run_id = write_scalars(uri, n)
            wr.append(dt / n)
            rd.append(time_once(lambda: read_metric(client, run_id, "loss")) * s.scalars / n)  # noqa: B023
            nbytes = dir_bytes(d) / n
        t.add(SEC.write_scalars(s), f"{label} log_metric", wr, "s", baseline=BASE, note=note)
        t.add(SEC.read_scalars(s), f"{label} get_metric_history", rd, "s", baseline=BASE, note=note)
        t.add(
            SEC.bytes_scalars(s),
            label,
            nbytes,
            "B/point",
            baseline=BASE,
            note=f"whole store dir / {n:,} points",
        )

    steps = min(s.mlflow_batch_steps, s.steps)
    label = f"MLflow {mlflow.__version__} (file) log_batch"
    note = (
        f"measured on {steps} of {s.steps} steps, extrapolated; no point type: "
        f"x and y as two metrics, {s.batch:,} values per step each, 1,000 per call"
    )
    wr, rd, nbytes = [], [], 0.0
    for r in range(s.runs):
        d = fresh_dir(os.path.join(workdir, "mlflow_batch"))
        progress(f"{label}: {steps} steps x {s.batch:,} points, run {r + 1}/{s.runs}")
        dt, client, run_id = write_batches(f"file://{d}/mlruns{r}", steps, s.batch)
        wr.append(dt * s.steps / steps)

        def read_both() -> None:
            read_metric(client, run_id, "x")  # noqa: B023
            read_metric(client, run_id, "y")  # noqa: B023

        rd.append(time_once(read_both) * s.steps / steps)
        nbytes = dir_bytes(d) / (steps * s.batch)
    t.add(SEC.write_batches(s), label, wr, "s", baseline=BASE, note=note)
    t.add(
        SEC.read_batches(s),
        "MLflow (file) get_metric_history x, y",
        rd,
        "s",
        baseline=BASE,
        note=f"measured on {steps} of {s.steps} steps, extrapolated",
    )
    t.add(SEC.bytes_batches(s), "MLflow (file)", nbytes, "B/point", baseline=BASE)
    return t


if __name__ == "__main__":
    competitor_main(run)
