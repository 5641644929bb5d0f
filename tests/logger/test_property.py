"""Hypothesis: a batched write stores exactly what the repeated unbatched writes store."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamvis import DataLogger

# a batch: shape (I, P) and, per column, the rank it is given with (0, 1 or 2)
shapes = st.tuples(st.integers(1, 4), st.integers(1, 5))
ranks = st.fixed_dictionaries({"x": st.sampled_from([0, 1, 2]), "y": st.sampled_from([0, 1, 2])})
counter = itertools.count()


def _column(rank: int, i: int, p: int, seed: int, dtype: type) -> np.ndarray:
    rng = np.random.default_rng(seed)
    full = rng.integers(-1000, 1000, size=(i, p)).astype(dtype)
    if rank == 0:
        return full[0, 0]
    if rank == 1:
        return full[0]
    return full


@given(writes=st.lists(st.tuples(shapes, ranks, st.integers(0, 3)), min_size=1, max_size=5),
       seed=st.integers(0, 2**16))
def test_batched_equals_unbatched(tmp_path_factory, read_points, writes, seed):
    root = Path(tmp_path_factory.mktemp("prop"))
    batched, unbatched = str(root / "b.svl"), str(root / "u.svl")
    lb = DataLogger("s", delete_existing=True).init(path=batched)
    lu = DataLogger("s", delete_existing=True).init(path=unbatched)
    for k, ((i, p), rk, start) in enumerate(writes):
        if rk["x"] == 1 and rk["y"] == 1 or (rk["x"] < 2 and rk["y"] < 2):
            i_eff = 1  # no rank-2 column: one row
        else:
            i_eff = i
        if rk["x"] == 0 and rk["y"] == 0:
            p_eff = 1
        else:
            p_eff = p
        x = _column(rk["x"], i_eff, p_eff, seed + k, np.int64)
        y = _column(rk["y"], i_eff, p_eff, seed + 1000 + k, np.float32)
        lb.write("n", start_index=start, x=x, y=y)
        xb = np.broadcast_to(x, (i_eff, p_eff))
        yb = np.broadcast_to(y, (i_eff, p_eff))
        for row in range(i_eff):
            for col in range(p_eff):  # one point per call: fully unbatched
                lu.write("n", start_index=start + row, x=xb[row, col], y=yb[row, col])
    lb.close()
    lu.close()
    got_b, got_u = read_points(batched, "s"), read_points(unbatched, "s")
    assert got_b.keys() == got_u.keys()
    for key in got_b:
        for c in ("x", "y"):
            assert got_b[key][c].dtype == got_u[key][c].dtype
            np.testing.assert_array_equal(got_b[key][c], got_u[key][c])
