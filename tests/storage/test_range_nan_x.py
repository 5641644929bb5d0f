"""Range reads drop points without an x, however few the group has (a group of one NaN-x
point was taken for x-sorted and served by binary search, NaN and all)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamvis.storage import Points, RangeRequest, Store
from streamvis.storage.read.decimate import is_sorted

FLOATS = hnp.arrays(
    np.float32,
    st.integers(0, 6),
    elements=st.one_of(st.just(np.nan), st.floats(-5, 5, width=32)),
)


@given(x=FLOATS)
def test_is_sorted_means_ordered_and_no_nan(x: np.ndarray) -> None:
    want = not np.isnan(x).any() and bool(np.all(np.diff(x) >= 0))
    assert is_sorted(x) == want


@given(x=hnp.arrays(np.int64, st.integers(0, 6), elements=st.integers(-3, 3)))
def test_is_sorted_integers(x: np.ndarray) -> None:
    assert is_sorted(x) == bool(np.all(np.diff(x) >= 0))


def test_a_lone_nan_x_point_is_not_read(tmp_path) -> None:
    path = str(tmp_path / "nan.log")
    with Store.open(path, mode="a") as s:
        s.append([Points("r", "n", 0, {"x": np.array([np.nan], np.float32)})])
        s.append([Points("r", "n", 1, {"x": np.array([np.nan], np.float32)})])
        s.append([Points("r", "n", 1, {"x": np.array([2.0, 1.0], np.float32)})])
    with Store.open(path) as s:
        for _ in range(2):  # the first read fills the group cache, the second is served by it
            assert s.read_range("r", "n", 0).num_rows == 0
            assert s.read_range("r", "n", 0, x_min=-1.0, x_max=1.0).num_rows == 0
            got = s.read_range("r", "n", 1).column("x").to_numpy()
            assert got.tolist() == [1.0, 2.0]
        res = s.read_ranges([RangeRequest("r", "n", 0), RangeRequest("r", "n", 1, max_points=4)])
        assert res.tables[0] is not None and res.tables[0].num_rows == 0
        assert res.tables[1] is not None and res.tables[1].column("x").to_pylist() == [1.0, 2.0]
