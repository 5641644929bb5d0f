"""Smoke test of benchmarks/object_store_bench.py at tiny size (gs only): every goal met."""

from __future__ import annotations

import pytest

from benchmarks import object_store_bench as osb

pytestmark = pytest.mark.timeout(120)


def test_object_store_bench_quick_meets_its_goals() -> None:
    t = osb.run(osb.ObjectSizes(segments=(60,), runs=1, writers=2), {"gs"})
    goals = [r for r in t.rows if r.goal]
    assert len(goals) >= 6, t.to_markdown()
    assert all(r.met for r in goals), t.to_markdown()
