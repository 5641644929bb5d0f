"""Smoke test of benchmarks/system_metrics_bench.py at tiny size (so it never rots)."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks import system_metrics_bench as sb
from benchmarks.table import Table


def test_rows_are_positive_and_the_goal_is_judged(tmp_path: Path) -> None:
    t = Table("system metrics")
    sb.bench_sampler(t, str(tmp_path), interval=0.05, seconds=0.3, runs=1)
    sb.bench_probes(t, calls=10, runs=1)
    labels = [r.label for r in t.rows]
    assert any(lb.startswith("probe read: cpu_percent") for lb in labels)
    judged = [r for r in t.rows if r.goal]
    assert len(judged) == 2 and all(r.met is not None for r in judged)
    for r in t.rows:
        assert math.isfinite(r.value) and r.value >= 0, r
    assert t.rows[0].value > 0  # the sampler thread did spend CPU on its samples
