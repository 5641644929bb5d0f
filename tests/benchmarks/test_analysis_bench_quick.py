"""Smoke test of benchmarks/analysis_bench.py at tiny size: every row present and
positive (a real data server included), so the benchmark never rots."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks import analysis_bench as ab


def test_analysis_bench_tiny(tmp_path: Path) -> None:
    t = ab.run(ab.AnalysisSizes(summary_runs=20, summary_points=10, group_runs=20,
                                group_points=50, runs=1), str(tmp_path))
    labels = {r.label for r in t.rows}
    assert {"first summaries", "poll: +1 point per run and name", "aggregate (local)",
            "aggregate (data server RPC)"} <= labels
    assert all(r.value > 0 and math.isfinite(r.value) for r in t.rows)
