"""Smoke test of the benchmark suite's streamvis side at tiny size, in-process.

Needs only the project venv (competitors live in .venv-bench and are not run here).
Checks that the tables have the expected rows and positive numbers, so the suite
never rots; the figures themselves are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import compare, storage_bench
from benchmarks.table import Table, fmt_value
from benchmarks.workloads import SEC, Sizes

TINY = Sizes(scalars=2_000, steps=3, batch=500, runs=1)


def _positive(t: Table, section: str, label_start: str) -> float:
    rows = [r for r in t.rows if r.section == section and r.label.startswith(label_start)]
    assert rows, f"no row {label_start!r} in {section!r}:\n{t.to_markdown()}"
    v = rows[0].value
    assert v > 0 and math.isfinite(v), (section, label_start, rows[0].samples)
    return v


def test_table_helpers() -> None:
    t = Table("x")
    t.add("a", "raw", [1.0, 3.0, 2.0], "s")
    r = t.add("a", "tool", [4.0], "s", baseline="raw", goal="<= 2x", met=False)
    assert t.ratio(r) == 2.0
    md = t.to_markdown()
    assert "2x raw" in md and "MISSED" in md
    assert Table.from_json(t.to_json()).rows[1].baseline == "raw"
    assert fmt_value(2.5e-6, "s") == "2.5 us"


def test_compare_streamvis_side(tmp_path: Path) -> None:
    t = compare.run_streamvis(TINY, str(tmp_path), memory_points=20_000)
    for section in (
        SEC.write_scalars(TINY),
        SEC.write_batches(TINY),
        SEC.read_scalars(TINY),
        SEC.read_batches(TINY),
    ):
        _positive(t, section, compare.SV)
    _positive(t, SEC.write_scalars(TINY), "raw sequential write")
    _positive(t, SEC.read_scalars(TINY), "raw sequential read")
    _positive(t, SEC.read_scalars(TINY), "numpy copy")
    assert _positive(t, SEC.bytes_scalars(TINY), compare.SV) < 44  # TensorBoard's figure
    _positive(t, SEC.bytes_batches(TINY), compare.SV)
    _positive(t, SEC.memory(TINY), compare.SV)
    row = t.get(SEC.write_scalars(TINY), compare.SV)
    assert row is not None and t.ratio(row) is not None
    goals = compare.add_goals(t, TINY)
    labels = [r.label for r in goals.rows]
    assert "bytes per scalar point" in labels
    # competitor goals are present but unmeasured without .venv-bench
    assert any("EventAccumulator" in lb for lb in labels)


def test_compare_without_bench_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "BENCH_VENV", str(tmp_path / "missing"))
    t = compare.run_competitors(TINY, str(tmp_path), ("tensorboard",))
    assert len(t.rows) == 1 and "not run" in t.rows[0].note


def test_storage_bench_tiny(tmp_path: Path) -> None:
    s = storage_bench.StorageSizes(
        scalar_appends=3,
        scalar_batch=100,
        batch_appends=2,
        batch=1_000,
        export_points=20_000,
        cursor_logs=(5_000, 20_000),
        range_points=20_000,
        scopes=5,
        names=4,
        poll_runs=(20,),
        runs=1,
    )
    t = storage_bench.run(s, str(tmp_path))
    sections = {r.section for r in t.rows}
    assert len(sections) == 8, sections
    assert any(r.label == "20 runs: from the index" for r in t.rows)
    for r in t.rows:
        if r.samples:
            assert r.value > 0 and math.isfinite(r.value), r
    assert any(r.label == "scopes()" for r in t.rows)
    assert any(r.label.startswith("without index") for r in t.rows)
