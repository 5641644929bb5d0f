"""Smoke test of benchmarks/integrations_bench.py at tiny size (so it never rots)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import integrations_bench as ib
from benchmarks.table import Table

pytest.importorskip("tensorboard")
pytest.importorskip("torch")


def test_tables_have_positive_rows_and_ratios(tmp_path: Path) -> None:
    t = Table("integrations")
    ib.bench_calls(t, str(tmp_path), calls=200, runs=2)
    ib.bench_import(t, str(tmp_path), runs=1, steps=300, tags=2, reps=1)
    labels = {r.label for r in t.rows}
    assert {ib.EA, ib.SV_IMPORT, "streamvis SummaryWriter.add_scalar (same call)"} <= labels
    for r in t.rows:
        assert r.value > 0 and math.isfinite(r.value), r
        if r.baseline:
            assert t.ratio(r) is not None
