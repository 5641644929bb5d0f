"""Smoke test of benchmarks/images_bench.py at tiny size (so it never rots)."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks import images_bench as ib
from benchmarks.table import Table


def test_rows_are_positive_and_the_goals_are_judged(tmp_path: Path) -> None:
    t = Table("images")
    ib.bench_call(t, str(tmp_path), calls=20, runs=1)
    ib.bench_encode(t, count=2, runs=1)
    ib.bench_bytes(t, str(tmp_path), count=2)
    labels = [r.label for r in t.rows]
    assert any(lb.startswith("write_image call") and "numpy" in lb for lb in labels)
    assert sum("PNG encoding" in lb for lb in labels) == 2
    for r in t.rows:
        assert math.isfinite(r.value) and r.value > 0, r
    judged = [r for r in t.rows if r.goal]
    assert judged and all(r.met is not None for r in judged)
