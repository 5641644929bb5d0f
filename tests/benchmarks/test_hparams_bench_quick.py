"""Smoke test of benchmarks/hparams_bench.py at tiny size (real web-serve and Chromium):
every row present, positive and finite, so the benchmark never rots."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from benchmarks import hparams_bench as hb

pytestmark = pytest.mark.browser


def test_hparams_bench_tiny(tmp_path: Path) -> None:
    if not os.path.exists(hb.CHROMIUM):
        pytest.skip(f"{hb.CHROMIUM} is absent")
    t = hb.run(hb.HparamsSizes(runs_count=20, points=5, tries=1), str(tmp_path))
    labels = {r.label for r in t.rows}
    assert {"navigation to drawn", "axis filter to redrawn",
            "plot page /?rows=loss, navigation to drawn"} <= labels
    assert all(r.samples and all(v > 0 and math.isfinite(v) for v in r.samples) for r in t.rows)
