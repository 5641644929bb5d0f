"""A group's x range (``groups()``' x_min/x_max) is kept as records come, and equals the
least and greatest x of its points whichever way the state was built: from the records
one by one, or from a saved index."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.storage import Points, Store

xs = st.lists(st.one_of(st.just(math.nan), st.floats(-1e6, 1e6)), min_size=1, max_size=5)
batches = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from([0, 1]), xs), min_size=1, max_size=12)


def _ranges(store: Store) -> dict[tuple[str, int], tuple[float, float]]:
    return {(g.scope, g.index): (g.x_min, g.x_max) for g in store.groups()}


def _same(got: tuple[float, float], want: tuple[float, float]) -> bool:
    return all((math.isnan(g) and math.isnan(w)) or g == w for g, w in zip(got, want, strict=True))


@settings(max_examples=40, deadline=None)
@given(batches=batches)
def test_group_x_ranges_equal_the_points_whether_built_from_records_or_an_index(batches, tmp_path_factory) -> None:
    path = str(tmp_path_factory.mktemp("xr") / "run.svl")
    with Store.open(path, "a", fsync=False) as s:
        for scope, index, x in batches:
            s.append([Points(scope, "loss", index, {"x": np.array(x), "y": np.zeros(len(x))})])
    want: dict[tuple[str, int], list[float]] = {}
    for scope, index, x in batches:
        want.setdefault((scope, index), []).extend(v for v in x if not math.isnan(v))
    expected = {k: (min(v), max(v)) if v else (math.nan, math.nan) for k, v in want.items()}
    assert Path(path + ".idx").exists()
    with Store.open(path) as s:  # from the index the writer saved
        got = _ranges(s)
        assert got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in got)
    os.remove(path + ".idx")
    with Store.open(path) as s:  # from the records, one by one
        got = _ranges(s)
        assert got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in got)
