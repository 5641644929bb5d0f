"""Smoke test of benchmarks/groups_bench.py at tiny size (real web-serve and Chromium):
every row present, positive and finite, so the benchmark never rots."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from benchmarks import groups_bench as gb

pytestmark = pytest.mark.browser


def test_groups_bench_tiny(tmp_path: Path) -> None:
    if not os.path.exists(gb.CHROMIUM):
        pytest.skip(f"{gb.CHROMIUM} is absent")
    t = gb.run(gb.GroupSizes(runs_count=20, points=30, tries=1), str(tmp_path))
    labels = {r.label for r in t.rows}
    assert {"navigation to drawn", "one poll, every run +10 points: server CPU",
            "ungrouped page /?rows=loss, navigation to drawn"} <= labels
    assert all(r.samples and all(v > 0 and math.isfinite(v) for v in r.samples) for r in t.rows)
