"""Shared pieces of the TensorBoard tests: one training loop, reading a log back."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from streamvis.cli import main
from streamvis.columns import WALL_TIME_COLUMN
from streamvis.storage import Store

STEPS = 30


def training_loop(writer_cls: Any, log_dir: str, **kwargs: Any) -> tuple[float, float]:
    """A small program written against torch's SummaryWriter API: every kind of call
    streamvis supports. Returns the wall-clock interval it ran in."""
    import time

    import torch

    t0 = time.time()
    rng = np.random.default_rng(0)
    with writer_cls(log_dir, **kwargs) as w:
        for step in range(STEPS):
            loss = torch.tensor(1.0 / (step + 1), dtype=torch.float64) * 3.3
            w.add_scalar("Loss/train", loss, step)
            w.add_scalar("Loss/test", float(np.float32(0.1) * step) + 1e-9, step)
            w.add_scalar("acc", torch.tensor(step / 7.0), global_step=step)
            w.add_scalar("ints", step * 3, step)
            w.add_scalars("run_14h", {"xsinx": step * np.sin(step / 5.0),
                                      "xcosx": step * np.cos(step / 5.0)}, step)
            if step % 10 == 0:
                w.add_histogram("weights/layer1", rng.normal(step, 1.0, size=500), step)
                w.add_histogram("grads", torch.randn(200, generator=torch.Generator().manual_seed(step)),
                                step, bins="auto")
                w.add_text("note", f"at step {step}", step)
        w.add_scalar("no_step", 2.5)
        w.add_hparams({"lr": 0.01, "batch": 32, "opt": "adam", "nesterov": True},
                      {"hparam/accuracy": 0.75, "hparam/loss": 0.25})
    return t0, time.time()


def import_tb(logdir: str, path: str, *extra: str) -> int:
    """Run ``streamvis import-tb`` in-process; its exit status."""
    try:
        main(["import-tb", logdir, path, *extra])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def read_log(path: str | os.PathLike[str]) -> tuple[dict[tuple[str, str], dict[str, np.ndarray]],
                                                    dict[str, dict[str, Any]]]:
    """Every group of the log as numpy columns (index dropped: all 0), and the configs."""
    with Store.open(os.fspath(path), mode="r") as store:
        res = store.read()
        tables = {}
        for key, t in res.tables.items():
            assert set(t.column("index").to_pylist()) == {0}, key
            tables[key] = {c: t.column(c).to_numpy() for c in t.column_names if c != "index"}
        return tables, store.configs()


def without_wall_time(tables: dict[Any, dict[str, np.ndarray]]) -> dict[Any, dict[str, bytes]]:
    """Columns as raw bytes plus dtype (bit-exact comparison), wall time left out."""
    return {k: {c: (a.dtype.str, a.tobytes()) for c, a in cols.items() if c != WALL_TIME_COLUMN}
            for k, cols in tables.items()}
