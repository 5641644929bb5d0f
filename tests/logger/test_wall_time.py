"""Per-write wall times: the logger stamps every write call, a caller may give its own,
and names stored before wall times existed keep being written without them."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis import DataLogger
from streamvis.errors import InvalidArgumentError, SchemaMismatchError
from streamvis.proto import data_pb2 as pb
from streamvis.storage import Store
from streamvis.storage.format.codec import decode_column, encode_column
from streamvis.storage.format.model import Points


def _column(path: str, scope: str, name: str, col: str) -> np.ndarray:
    with Store.open(path, mode="r") as s:
        return s.read(scope, name).tables[(scope, name)].column(col).to_numpy()


def test_each_write_is_stamped_at_its_call(log_path) -> None:
    """Stamps lie between the clock read before and after each call, in call order,
    one per point of a batch write; scalar and array writes alike."""
    bounds = []
    with DataLogger("run", delete_existing=True).init(path=log_path, flush_every=3600) as lg:
        for i in range(200):
            t0 = time.time()
            lg.write("loss", x=i, y=0.5 * i)  # the scalar fast path
            bounds.append((t0, time.time()))
        t0 = time.time()
        lg.write("cloud", x=np.arange(5.0), y=np.ones((2, 5)))  # 2 indices x 5 points
        t1 = time.time()
    wall = _column(log_path, "run", "loss", "wall_time")
    assert wall.dtype == np.float64 and wall.size == 200
    lo, hi = np.array(bounds).T
    assert ((lo <= wall) & (wall <= hi)).all()
    assert (np.diff(wall) >= 0).all()
    cloud = _column(log_path, "run", "cloud", "wall_time")
    assert cloud.size == 10 and ((t0 <= cloud) & (cloud <= t1)).all()
    assert len(set(cloud.tolist())) == 1  # one call: one time for all its points


def test_a_callers_own_wall_time_is_kept(log_path) -> None:
    with DataLogger("run", delete_existing=True).init(path=log_path) as lg:
        lg.write("a", x=1, y=1.0, wall_time=1_700_000_000.25)
        lg.write("a", x=2, y=2.0)  # stamped by the logger
        lg.write("b", x=np.arange(3), wall_time=np.array([1e9, 2e9, 3e9]))  # per point
        lg.write("b", x=np.arange(3), wall_time=np.float64(4e9))
        with pytest.raises(InvalidArgumentError, match=r"column 'wall_time'.*\(2,\)"):
            lg.write("b", x=np.arange(3), wall_time=np.array([1.0, 2.0]))
        with pytest.raises(InvalidArgumentError, match="wall_time"):
            lg.write("b", x=np.arange(3), wall_time="yesterday")
    a = _column(log_path, "run", "a", "wall_time")
    assert a[0] == 1_700_000_000.25 and abs(a[1] - time.time()) < 600
    assert _column(log_path, "run", "b", "wall_time").tolist() == [1e9, 2e9, 3e9, 4e9, 4e9, 4e9]


def test_names_stored_without_wall_times_stay_without(log_path) -> None:
    """A log written before wall times: resuming it appends without them (the stored
    schema stays valid); new names get them; delete_existing starts afresh."""
    with Store.open(log_path, "a") as s:
        s.append([Points("run", "old", 0, {"x": np.arange(3), "y": np.zeros(3, np.float32)})])
    with DataLogger("run").init(path=log_path) as lg:
        lg.write("old", x=3, y=1.0)
        lg.write("new", x=0, y=1.0)
        with pytest.raises(SchemaMismatchError, match="stored without wall times"):
            lg.write("old", x=4, y=1.0, wall_time=1e9)
        assert lg.flush(timeout=10)
        assert lg.stats()["refused_points"] == 0
    with Store.open(log_path, mode="r") as s:
        assert "wall_time" not in s.schema("run", "old")
        assert s.read("run", "old").tables[("run", "old")].num_rows == 4
        assert s.schema("run", "new")["wall_time"] == np.float64
    with DataLogger("run", delete_existing=True).init(path=log_path) as lg:
        lg.write("old", x=0, y=1.0)
    with Store.open(log_path, mode="r") as s:
        assert s.schema("run", "old")["wall_time"] == np.float64


def test_resumed_logger_keeps_stamping(log_path) -> None:
    """The stored wall_time column is the logger's: a resumed run writes it again
    without the caller naming it."""
    with DataLogger("run", delete_existing=True).init(path=log_path) as lg:
        lg.write("loss", x=0, y=1.0)
    with DataLogger("run").init(path=log_path) as lg:
        lg.write("loss", x=1, y=2.0)
    assert _column(log_path, "run", "loss", "wall_time").size == 2


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(1.0, 4e9),
    gaps=st.lists(st.floats(0.0, 10.0), min_size=70, max_size=400),
)
def test_sorted_floats_round_trip_exactly(start: float, gaps: list[float]) -> None:
    stamps = start + np.cumsum(np.asarray(gaps))
    col = encode_column("wall_time", stamps)
    back = decode_column(col)
    assert back.dtype == np.float64
    assert (back.view(np.int64) == stamps.view(np.int64)).all()  # bit for bit


def test_regular_stamps_pack_small_and_others_are_left_alone() -> None:
    stamps = 1.8e9 + np.arange(10_000) * 1e-3 + np.random.default_rng(0).normal(0, 1e-5, 10_000)
    stamps.sort()
    col = encode_column("wall_time", stamps)
    assert col.encoding == pb.BITS_DELTA_ZSTD and len(col.data) < 2.5 * stamps.size
    for other in (np.random.default_rng(1).normal(size=10_000),  # unsorted
                  -stamps[::-1],  # negative: bit patterns run backwards
                  np.where(np.arange(10_000) == 5, np.nan, stamps)):  # a NaN
        c = encode_column("v", other)
        assert c.encoding != pb.BITS_DELTA_ZSTD
        np.testing.assert_array_equal(decode_column(c), other)


def test_damaged_bits_delta_column_is_refused() -> None:
    col = encode_column("wall_time", 1.8e9 + np.arange(1000) * 1e-3)
    col.data = col.data[:-3]
    with pytest.raises(ValueError, match="wall_time"):
        decode_column(col)
    col = encode_column("wall_time", 1.8e9 + np.arange(1000) * 1e-3)
    col.dtype = pb.INT64
    with pytest.raises(ValueError, match="needs floats"):
        decode_column(col)


def test_large_records_with_stamps_read_back_exactly(log_path) -> None:
    """Records past the size read without protobuf (points_view) decode the stamps too."""
    n = 200_000
    stamps = 1.8e9 + np.cumsum(np.random.default_rng(0).exponential(1e-4, n))
    y = np.random.default_rng(1).normal(size=n).astype(np.float32)
    with DataLogger("run", delete_existing=True).init(path=log_path) as lg:
        lg.write("big", x=np.arange(n), y=y, wall_time=stamps)
    with Store.open(log_path, mode="r") as s:
        t = s.read("run", "big").tables[("run", "big")]
        back = t.column("wall_time").to_numpy()
        assert (back.view(np.int64) == stamps.view(np.int64)).all()
        np.testing.assert_array_equal(t.column("y").to_numpy(), y)


@pytest.mark.parametrize("value", [1.8e9, -0.0, 0.0, 5e-324, -3.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_constant_float_column_is_two_numbers_and_exact(value, dtype) -> None:
    """A batch write's one stamp for all its points: LINEAR with step 0, bit for bit."""
    arr = np.full(10_000, value, dtype=dtype)
    col = encode_column("wall_time", arr)
    assert col.encoding == pb.LINEAR and len(col.data) == 2 * arr.itemsize
    back = decode_column(col)
    assert back.dtype == dtype and back.tobytes() == arr.tobytes()


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_constants_are_not_linear(value) -> None:
    arr = np.full(1000, value)
    col = encode_column("v", arr)
    assert col.encoding != pb.LINEAR
    assert decode_column(col).tobytes() == arr.tobytes()
