"""Smoke test of web_bench's big-line part at a small size, against zoom_trace's timed
server: the zoom rows exist, their phases add up to the in-page total, each phase is a
real (positive) time, and the server's trace gives every zoom's phases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import web_bench, zoom_trace
from benchmarks.table import Table

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _row(t: Table, sec: str, label: str):
    row = t.get(sec, label)
    assert row is not None, f"no row {label!r}:\n{t.to_markdown()}"
    return row


def test_big_line_zoom_rows(tmp_path, browser, monkeypatch) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(zoom_trace.TRACE_ENV, str(trace))
    t = Table("web app")
    web_bench.bench_big(
        browser, str(tmp_path), 200_000, 3, t, serve_module="benchmarks.zoom_trace serve"
    )
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
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    phases = zoom_trace.zoom_phases(events)
    assert len(phases) >= 2 * 3  # every measured zoom (and the narrowing ones) was traced
    for ph in phases:
        parts = sum(v for k, v in ph.items() if k not in ("width", next(reversed(ph))))
        assert all(v >= 0 for v in ph.values()), ph
        assert abs(parts - ph["RangesUpdate handled -> PATCH-DOC written"]) < 1e-6
