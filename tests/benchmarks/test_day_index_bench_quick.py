"""Smoke test of benchmarks/day_index_bench.py at tiny size: every row present and
positive, and the columns cost less than an object per record, so the benchmark never
rots."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks import day_index_bench as db


def test_day_index_bench_tiny(tmp_path: Path) -> None:
    t = db.run(db.DaySizes(names=3, records=200, tries=1), str(tmp_path))
    rows = {r.label: r for r in t.rows}
    assert {"open + index every name", "index memory per record", "a full garbage collection",
            "a poll: every name +1 record, read into arrays", "one name read whole"} <= set(rows)
    assert all(r.value > 0 and math.isfinite(r.value) for r in t.rows)
    assert rows["index memory per record"].value < rows["... the same records as an Entry object each"].value
