"""Issue 6's workloads, sizes and table sections, shared by streamvis and every competitor.

Pure standard library + numpy: imported both in the project venv and in .venv-bench.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass

import numpy as np

from benchmarks.table import Table

__all__ = [
    "Sizes",
    "FULL",
    "QUICK",
    "SEC",
    "scalar_data",
    "batch_data",
    "dir_bytes",
    "fresh_dir",
    "competitor_main",
]


@dataclass(frozen=True)
class Sizes:
    scalars: int = 1_000_000  # workload 1: one write per step
    steps: int = 200  # workload 2: steps ...
    batch: int = 10_000  # ... of this many (x, y) points
    runs: int = 3
    # fractions of the workload the slow tools run (extrapolated linearly, marked)
    tb_write_fraction: float = 0.1
    mlflow_fraction: float = 0.02
    mlflow_batch_steps: int = 4
    aim_fraction: float = 0.05
    aim_batch_steps: int = 2
    slow_read_runs: int = 1  # EventAccumulator / tbparse on the full log: one run
    ds_big_runs: int = 10  # Rust data server memory: this many runs of the scalar log

    @property
    def batch_points(self) -> int:
        return self.steps * self.batch

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Sizes:
        return cls(**json.loads(text))


FULL = Sizes()
QUICK = Sizes(
    scalars=20_000,
    steps=10,
    batch=2_000,
    runs=2,
    tb_write_fraction=0.25,
    mlflow_fraction=0.01,
    mlflow_batch_steps=1,
    aim_fraction=0.02,
    aim_batch_steps=1,
    slow_read_runs=1,
    ds_big_runs=0,
)


class SEC:
    """Section names of the comparison table (one per workload)."""

    @staticmethod
    def write_scalars(s: Sizes) -> str:
        return f"1. {s.scalars:,} scalar writes, one per step + close (time per write)"

    @staticmethod
    def cpu_scalars(s: Sizes) -> str:
        return "1b. CPU time per scalar write, all threads (robust to a busy machine)"

    @staticmethod
    def write_batches(s: Sizes) -> str:
        return f"2. {s.steps} steps x {s.batch:,} (x,y) points + close (total)"

    @staticmethod
    def read_scalars(s: Sizes) -> str:
        return f"3a. read {s.scalars:,} scalars into numpy (total)"

    @staticmethod
    def read_batches(s: Sizes) -> str:
        return f"3b. read {s.batch_points:,} batch points into numpy (total)"

    @staticmethod
    def bytes_scalars(s: Sizes) -> str:
        return "4a. disk bytes per scalar point"

    @staticmethod
    def bytes_batches(s: Sizes) -> str:
        return "4b. disk bytes per batch (x,y) point"

    @staticmethod
    def memory(s: Sizes) -> str:
        return "5. peak memory while reading scalars"


def scalar_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 0..n-1 and float32 'loss' values (deterministic)."""
    rng = np.random.default_rng(0)
    steps = np.arange(n, dtype=np.int64)
    values = (1.0 / (1.0 + steps * 1e-4) + rng.normal(0, 0.01, n)).astype(np.float32)
    return steps, values


def batch_data(batch: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """One step's (x, y) point cloud, float32."""
    rng = np.random.default_rng(step)
    x = rng.normal(size=batch).astype(np.float32)
    y = (x * 0.5 + rng.normal(scale=0.1, size=batch)).astype(np.float32)
    return x, y


def dir_bytes(path: str) -> int:
    """Bytes of a file, or of every file under a directory."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            fp = os.path.join(root, f)
            if not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total


def fresh_dir(path: str) -> str:
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def competitor_main(run) -> None:  # type: ignore[no-untyped-def]
    """CLI of a competitor module: ``--sizes JSON --workdir DIR``; table JSON on stdout."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    table: Table = run(Sizes.from_json(a.sizes), a.workdir)
    sys.stdout.write("\n@@TABLE@@" + table.to_json() + "\n")
