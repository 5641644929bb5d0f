"""Smoke test of benchmarks/snapshot_bench.py at tiny size (real snapshot, web-serve and
Chromium): every row present, positive and finite, so the benchmark never rots."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from benchmarks import snapshot_bench as sb

pytestmark = pytest.mark.browser


def test_snapshot_bench_tiny(tmp_path: Path) -> None:
    if not os.path.exists(sb.CHROMIUM):
        pytest.skip(f"{sb.CHROMIUM} is absent")
    t = sb.run(sb.SnapshotSizes(runs_count=10, points=200, tries=1), str(tmp_path), cli=False)  # (the CLI: tests/web/test_snapshot.py)
    labels = {r.label for r in t.rows}
    assert {"snapshot_html", "file size",
            "opened offline: navigation to drawn",
            "live page (web-serve, canvas): navigation to drawn"} <= labels
    assert all(r.samples and all(v > 0 and math.isfinite(v) for v in r.samples) for r in t.rows)
