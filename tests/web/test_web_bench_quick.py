"""Smoke test of web_bench's big-line part at a small size: the zoom rows exist, their
phases add up to the in-page total, and each phase is a real (positive) time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import web_bench
from benchmarks.table import Table

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _row(t: Table, sec: str, label: str):
    row = t.get(sec, label)
    assert row is not None, f"no row {label!r}:\n{t.to_markdown()}"
    return row


def test_big_line_zoom_rows(tmp_path, browser) -> None:
    t = Table("web app")
    web_bench.bench_big(browser, str(tmp_path), 200_000, 3, t)
    sec = "0.2M-point line"
    assert _row(t, sec, "browser data (sources)").value > 0
    driver = _row(t, sec, "zoom -> re-read detail drawn (driver)")
    assert len(driver.samples) == 3 and all(s > 0 for s in driver.samples)
    for kind in ("wide", "narrow"):
        total = np.array(_row(t, sec, f"{kind} zoom: wheel -> redrawn (in page)").samples)
        phases = [r for r in t.rows if r.section == sec and r.label.startswith(f"  {kind}: ")]
        assert len(phases) == 5
        for r in phases:
            assert all(s >= 0 and math.isfinite(s) for s in r.samples), (r.label, r.samples)
        summed = np.sum([r.samples for r in phases], axis=0)
        assert np.allclose(summed, total, atol=1e-6)
        assert (total > 0).all()
    assert _row(t, sec, "  floor: wheel -> listener on a blank page").value > 0
