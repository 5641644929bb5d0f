"""The scalar fast path of ``write`` (fast_write.py) and the short scalar records it
queues (buffer.py): same points, same errors as the full method."""

from __future__ import annotations

import enum
import struct
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis import DataLogger
from streamvis.errors import InvalidArgumentError, SchemaMismatchError, StreamvisError
from streamvis.logger.async_logger import AsyncDataLogger
from streamvis.logger.buffer import Control, build_items
from streamvis.logger.packed import packing_of
from streamvis.storage.format.model import ConfigUpdate


def test_fast_path_matches_the_full_method(log_path, read_points) -> None:
    lg = DataLogger("f", delete_existing=True).init(path=log_path, flush_every=60.0)
    write = lg.write  # a saved reference, as hot loops do
    with lg:
        for i in range(50):
            write("loss", x=i, y=0.5 * i)  # fast after the first
            write("loss", y=1.5, x=100 + i)  # other kwarg order
            lg.write("loss", x=200 + i, y=np.float32(2.0))  # numpy scalar: full method
            write("loss", start_index=3, x=300 + i, y=3.0)  # another index
            if i == 20:
                lg.write_config({"at": i})  # a control in the middle of a flush
        with pytest.raises(SchemaMismatchError):
            write("loss", x=1.5, y=1.0)  # float for the int64 step
        with pytest.raises(InvalidArgumentError):
            write("loss", x=2**63, y=1.0)  # past int64
        with pytest.raises(StreamvisError):
            write("loss", x=1, y=1.0, z=2.0)  # an unknown column
        with pytest.raises(InvalidArgumentError, match="name must be a non-empty string"):
            write(["loss"], x=1, y=1.0)  # unhashable: the full method's message
    with pytest.raises(StreamvisError, match="after close"):
        write("loss", x=1, y=1.0)
    pts = read_points(log_path, "f")
    x0 = pts[("loss", 0)]["x"]
    assert sorted(x0.tolist()) == sorted([*range(50), *range(100, 150), *range(200, 250)])
    assert x0.tolist()[:3] == [0, 100, 200]  # write order kept
    assert pts[("loss", 3)]["x"].tolist() == list(range(300, 350))
    assert pts[("loss", 0)]["y"].dtype == np.float32  # the default for Python floats


def test_subclass_keeps_its_method(log_path) -> None:
    lg = AsyncDataLogger("a", delete_existing=True).init(path=log_path)
    with lg:
        assert "write" not in vars(lg) or lg.write.__doc__ == DataLogger.write.__doc__
        lg.write("s", x=1, y=2.0)


_I64 = st.integers(-(2**63), 2**63 - 1)
_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)  # full width: cast in the flush


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("p"), _I64, _ANY_FLOAT),
    st.tuples(st.just("s"), _I64, _ANY_FLOAT),
    st.tuples(st.just("full"), _I64, _ANY_FLOAT),
    st.tuples(st.just("ctl"), st.integers(0, 3), st.just(0.0)),
), min_size=1, max_size=40), st.sampled_from([np.float32, np.float64]))
def test_scalar_records_build_like_full_records(entries, y_dtype) -> None:
    """Packed records (the fast path's), dict scalar records (the full method's), full
    records and controls in one drain build the same items as full records only:
    same values, same dtypes (float32 cast in the flush), same order."""
    dt = {"m": {"x": np.dtype(np.int64), "y": np.dtype(y_dtype)}}
    packing = packing_of(dt["m"])
    assert packing is not None
    short, full = [], []
    for kind, x, y in entries:
        if kind == "ctl":
            c = Control(ConfigUpdate("sc", {"k": x}))
            short.append(c)
            full.append(c)
            continue
        cols = {"x": x, "y": y}
        wall = 1.8e9 + x / 7e12
        short.append({"p": ("m", packing.pack(x, y, wall)), "s": ("m", cols, wall),
                      "full": ("m", 0, 1, 1, cols, wall)}[kind])
        full.append(("m", 0, 1, 1, dict(cols), wall))
    with np.errstate(over="ignore"):  # 1e300 in float32 is inf on both paths
        a, b = build_items("sc", short, dt), build_items("sc", full, dt)
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        assert type(p) is type(q)
        if hasattr(p, "columns"):
            assert p.index == q.index
            for c in ("x", "y", "wall_time"):
                np.testing.assert_array_equal(p.columns[c], q.columns[c])
                assert p.columns[c].dtype == q.columns[c].dtype
                assert p.columns[c].flags.c_contiguous
        else:
            assert p == q


def test_packed_records_of_names_without_wall_time_drop_it() -> None:
    dt = {"m": {"y": np.dtype(np.float64)}}
    packing = packing_of(dt["m"])
    assert packing is not None
    (p,) = build_items("sc", [("m", packing.pack(1.5, 1.8e9)), ("m", packing.pack(2.5, 1.8e9))],
                       dt, no_wall_time={"m"})
    assert set(p.columns) == {"y"} and p.columns["y"].tolist() == [1.5, 2.5]


def test_packing_takes_only_float_and_int64_columns() -> None:
    assert packing_of({"x": np.dtype(np.int32), "y": np.dtype(np.float32)}) is None
    assert packing_of({}) is None and packing_of(None) is None


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_fast_path_edges_keep_every_point(log_path, read_points) -> None:
    """One-column names, the int64 limits, a float32 overflow, a kwarg order other than
    the schema's, and a column given twice the wrong way: all stored as written."""
    lg = DataLogger("e", delete_existing=True).init(path=log_path, flush_every=60.0)
    write = lg.write
    with lg:
        for i in range(5):
            write("one", y=float(i))  # a single column: itemgetter of one key
            write("lim", x=-(2**63) if i % 2 else 2**63 - 1, y=1e39)  # float32 overflow
            write("ord", b=float(i), a=i)  # schema order (b, a) kept for later calls
            write("ord", a=10 + i, b=0.5)  # the other order: same columns
            write("three", a=i, b=float(i), c=-i)  # three columns: spelled out
            write("four", a=i, b=1.0, c=2.0, d=3.0)  # four: the general loop
        write("one", y=5)  # an int for a float column: the full method takes it
        for name, bad in (("one", {"y": 1.0, "z": 1.0}), ("one", {"z": 1.0}),
                          ("three", {"a": 1, "b": 1.0, "d": 1}), ("three", {"a": 1.0, "b": 1.0, "c": 1}),
                          ("four", {"a": 1, "b": 1.0, "c": 2.0, "d": "x"})):
            with pytest.raises(StreamvisError):
                write(name, **bad)  # a wrong column or type: the full method's error
    pts = read_points(log_path, "e")
    assert pts[("one", 0)]["y"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert pts[("three", 0)]["c"].tolist() == [0, -1, -2, -3, -4]
    assert pts[("three", 0)]["b"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert pts[("four", 0)]["a"].tolist() == list(range(5))
    assert pts[("four", 0)]["d"].tolist() == [3.0] * 5
    assert pts[("lim", 0)]["x"].tolist() == [2**63 - 1, -(2**63)] * 2 + [2**63 - 1]
    assert np.isinf(pts[("lim", 0)]["y"]).all()
    assert pts[("ord", 0)]["a"].tolist() == [0, 10, 1, 11, 2, 12, 3, 13, 4, 14]
    assert pts[("ord", 0)]["b"].tolist() == [0.0, 0.5, 1.0, 0.5, 2.0, 0.5, 3.0, 0.5, 4.0, 0.5]
    walls = pts[("ord", 0)]["wall_time"]
    assert (np.diff(walls) >= 0).all() and abs(walls[0] - time.time()) < 600


def test_writes_from_many_threads_keep_their_rows_whole(log_path, read_points) -> None:
    """Each fast write is one queue append: rows never mix between threads."""
    lg = DataLogger("t", delete_existing=True).init(path=log_path, flush_every=0.01)
    n, threads = 5_000, 4

    def work(k: int) -> None:
        w = lg.write
        for i in range(n):
            w("m", x=k * n + i, y=float(k * n + i))

    with lg:
        lg.write("m", x=-1, y=-1.0)
        ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    pts = read_points(log_path, "t")[("m", 0)]
    assert sorted(pts["x"].tolist()) == list(range(-1, n * threads))
    np.testing.assert_array_equal(pts["x"].astype(np.float32), pts["y"])  # y is float32
    for k in range(threads):  # each thread's writes in its own order
        mine = pts["x"][(pts["x"] >= k * n) & (pts["x"] < (k + 1) * n)]
        assert (np.diff(mine) > 0).all()


def test_a_signalling_nan_is_stored_even_with_warnings_as_errors(log_path, read_points) -> None:
    """The flush's float32 cast of a signalling NaN warns "invalid value"; with warnings
    as errors that once dropped the whole drain of the name."""
    snan = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000001))[0]
    lg = DataLogger("n", delete_existing=True).init(path=log_path, flush_every=60.0)
    with lg:
        for i in range(3):
            lg.write("m", x=i, y=snan if i == 2 else float(i))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert lg.flush()
        assert lg.stats()["dropped_points"] == lg.stats()["refused_points"] == 0
    y = read_points(log_path, "n")[("m", 0)]["y"]
    assert y[:2].tolist() == [0.0, 1.0] and np.isnan(y[2])


class Step(enum.IntEnum):
    WARMUP = 1
    MAIN = 2


class Seconds(float):
    pass


def test_int_and_float_subclasses_are_stored_as_their_numbers(log_path, read_points) -> None:
    """An IntEnum step, a float subclass as a value and as wall_time: taken by the full
    method, stored as plain numbers (they once went the jax route in the flush, which
    dropped every point of the name in that drain)."""
    lg = DataLogger("c", delete_existing=True).init(path=log_path, flush_every=60.0)
    with lg:
        lg.write("m", x=0, y=0.0)
        lg.write("m", x=Step.WARMUP, y=Seconds(0.5))
        lg.write("m", x=Step.MAIN, y=2.0, wall_time=Seconds(1.8e9))
        lg.write("m", x=3, y=3.0)
        assert lg.flush()
        assert lg.stats()["dropped_points"] == lg.stats()["refused_points"] == 0
    pts = read_points(log_path, "c")[("m", 0)]
    assert pts["x"].tolist() == [0, 1, 2, 3] and pts["y"].tolist() == [0.0, 0.5, 2.0, 3.0]
    assert pts["wall_time"][2] == 1.8e9
