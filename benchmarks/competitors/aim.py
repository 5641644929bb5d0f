"""Aim: Run.track per step, read back through Repo / Run.get_metric.

Runs in .venv-bench: ``python -m benchmarks.competitors.aim --sizes JSON --workdir D``.
"""

from __future__ import annotations

import os
import subprocess
import sys

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


def write_scalars(repo: str, n: int) -> None:
    from aim import Run

    steps, values = scalar_data(n)
    run = Run(
        repo=repo,
        experiment="bench",
        system_tracking_interval=None,
        log_system_params=False,
        capture_terminal_logs=False,
    )
    for i in range(n):
        run.track(float(values[i]), name="loss", step=i)
    run.close()


def write_batches(repo: str, steps: int, batch: int) -> None:
    from aim import Run

    run = Run(
        repo=repo,
        experiment="bench",
        system_tracking_interval=None,
        log_system_params=False,
        capture_terminal_logs=False,
    )
    for s in range(steps):
        x, y = batch_data(batch, s)
        for j in range(batch):
            run.track(float(x[j]), name="x", step=s * batch + j)
            run.track(float(y[j]), name="y", step=s * batch + j)
    run.close()


def reindex(repo: str) -> None:
    """A closed run is not readable until Aim's index has it (normally its UI's background
    indexer does this); done here untimed, before the timed read."""
    aim_bin = os.path.join(os.path.dirname(sys.executable), "aim")
    subprocess.run(
        [aim_bin, "storage", "--repo", repo, "reindex", "--yes"], check=True, capture_output=True
    )


def read_metric(repo: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    from aim import Repo

    r = Repo(repo)
    out = []
    for run in r.iter_runs():
        for m in run.metrics():
            if m.name == name:
                steps, cols = m.data.numpy()
                out.append((steps, np.asarray(cols[0], np.float32)))
    r.close()
    if not out:
        raise RuntimeError(f"metric {name!r} not found")
    return out[0]


def run(s: Sizes, workdir: str) -> Table:
    from importlib.metadata import version

    t = Table()
    label = f"Aim {version('aim')}"
    n = max(10, int(s.scalars * s.aim_fraction))
    note = f"measured on {n:,} of {s.scalars:,} points, extrapolated"
    wr, rd, nb, got, rd_err = [], [], 0.0, -1, ""
    for r in range(s.runs):
        d = fresh_dir(os.path.join(workdir, f"aim{r}"))
        progress(f"{label}: {n:,} Run.track calls, run {r + 1}/{s.runs}")
        wr.append(time_once(lambda: write_scalars(d, n)) / n)  # noqa: B023
        nb = dir_bytes(d) / n
        try:
            reindex(d)
            rd.append(time_once(lambda: read_metric(d, "loss")) * s.scalars / n)  # noqa: B023
            got = len(read_metric(d, "loss")[0])
        except Exception as e:  # noqa: BLE001
            rd_err = f"read back failed: {e!r}"[:200]
    t.add(SEC.write_scalars(s), f"{label} Run.track", wr, "s", baseline=BASE, note=note)
    if rd:
        t.add(
            SEC.read_scalars(s),
            f"{label} Run.get_metric().data.numpy()",
            rd,
            "s",
            baseline=BASE,
            note=note
            + ("" if got == n else f"; got {got} of {n} points")
            + "; after an untimed `aim storage reindex`",
        )
    else:
        t.add(SEC.read_scalars(s), f"{label}", [], "s", note=rd_err)
    t.add(
        SEC.bytes_scalars(s), label, nb, "B/point", baseline=BASE, note=f"whole repo / {n:,} points"
    )

    steps = min(s.aim_batch_steps, s.steps)
    bnote = (
        f"measured on {steps} of {s.steps} steps, extrapolated; no point type: "
        "x and y as two metrics, step = point number"
    )
    wr, rd = [], []
    for r in range(s.runs):
        d = fresh_dir(os.path.join(workdir, f"aim_batch{r}"))
        progress(f"{label}: {steps} steps x {s.batch:,} points, run {r + 1}/{s.runs}")
        wr.append(time_once(lambda: write_batches(d, steps, s.batch)) * s.steps / steps)  # noqa: B023
        nb = dir_bytes(d) / (steps * s.batch)
        try:
            reindex(d)
            rd.append(
                time_once(lambda: (read_metric(d, "x"), read_metric(d, "y")))  # noqa: B023
                * s.steps
                / steps
            )
        except Exception as e:  # noqa: BLE001
            rd_err = f"read back failed: {e!r}"[:200]
    t.add(SEC.write_batches(s), f"{label} Run.track", wr, "s", baseline=BASE, note=bnote)
    if rd:
        t.add(
            SEC.read_batches(s),
            f"{label} get_metric x, y",
            rd,
            "s",
            baseline=BASE,
            note=f"measured on {steps} of {s.steps} steps, extrapolated",
        )
    else:
        t.add(SEC.read_batches(s), label, [], "s", note=rd_err)
    t.add(SEC.bytes_batches(s), label, nb, "B/point", baseline=BASE)
    return t


if __name__ == "__main__":
    competitor_main(run)
