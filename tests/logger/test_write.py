"""write(): dtypes, broadcasting, call-site errors, schemas, capture at call time, configs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from streamvis import DataLogger
from streamvis.errors import (
    InvalidArgumentError,
    ReservedNameError,
    SchemaMismatchError,
    StreamvisError,
)
from streamvis.storage import Store


def make(log_path: str, scope: str = "run", **kw: object) -> DataLogger:
    delete = bool(kw.pop("delete_existing", True))
    return DataLogger(scope=scope, delete_existing=delete).init(path=log_path, **kw)  # type: ignore[arg-type]


def test_seed_usage_sync(log_path, read_points):
    logger = DataLogger(scope="run", delete_existing=True)
    logger.init(path=log_path, flush_every=1.0, tensor_type="numpy")
    xs = np.arange(5, dtype=np.float32)
    with logger:
        logger.write_config({"start-time": 1.5})
        logger.write("top_left", x=xs, y=xs * 2)
        logger.write(name="cloud", x=xs, y=xs, t=3)
    pts = read_points(log_path, "run")
    np.testing.assert_array_equal(pts[("top_left", 0)]["y"], xs * 2)
    np.testing.assert_array_equal(pts[("cloud", 0)]["t"], np.full(5, 3))
    with Store.open(log_path, mode="r") as st:
        assert st.config("run") == {"start-time": 1.5}


def test_seed_usage_async(log_path, read_points):
    async def main() -> None:
        logger = DataLogger(scope="run", delete_existing=True)
        logger.init(path=log_path, flush_every=1.0, tensor_type="numpy")
        async with logger:
            await logger.write_config({"a": 1})
            for step in range(10):
                await logger.write("loss", x=step, y=0.5 * step)
            assert await logger.aflush()
            await logger.write("loss", x=10, y=5.0)

    asyncio.run(main())
    pts = read_points(log_path, "run")
    np.testing.assert_array_equal(pts[("loss", 0)]["x"], np.arange(11))


def test_python_scalars_dtypes(log_path):
    with make(log_path) as lg:
        lg.write("s", a=1, b=1.5, c=True)
    with Store.open(log_path, mode="r") as st:
        assert st.schema("run", "s") == {
            "a": np.dtype("int64"), "b": np.dtype("float32"), "c": np.dtype("int32"),
            "wall_time": np.dtype("float64"),
        }


def test_arrays_keep_dtype_and_widen_like_storage(log_path):
    with make(log_path) as lg:
        lg.write("a", f8=np.zeros(2), f2=np.zeros(2, np.float16), u1=np.zeros(2, np.uint8),
                 i4=np.zeros(2, np.int32), u4=np.zeros(2, np.uint32))
        lg.write("a", f8=np.ones(2), f2=np.ones(2, np.float16), u1=np.ones(2, np.uint8),
                 i4=np.ones(2, np.int32), u4=np.ones(2, np.uint32))
        with pytest.raises(SchemaMismatchError):  # float32 where float64 was fixed
            lg.write("a", f8=np.ones(2, np.float32), f2=np.ones(2, np.float16),
                     u1=np.ones(2, np.uint8), i4=np.ones(2, np.int32), u4=np.ones(2, np.uint32))
    with Store.open(log_path, mode="r") as st:
        assert {c: str(d) for c, d in st.schema("run", "a").items()} == {
            "f8": "float64", "f2": "float32", "u1": "int32", "i4": "int32", "u4": "int64",
            "wall_time": "float64",
        }


def test_broadcasting(log_path, read_points):
    with make(log_path) as lg:
        lg.write("b", x=7, y=np.arange(6, dtype=np.float32).reshape(3, 2))  # (3, 2)
        lg.write("b", start_index=3, x=np.array([8, 9]), y=np.float32(1.0))  # (1, 2)
        lg.write("c", x=np.arange(2).reshape(2, 1), y=np.zeros(3, np.float32))  # (2, 3)
    pts = read_points(log_path, "run")
    for i in range(3):
        np.testing.assert_array_equal(pts[("b", i)]["x"], [7, 7])
        np.testing.assert_array_equal(pts[("b", i)]["y"], [2 * i, 2 * i + 1])
    np.testing.assert_array_equal(pts[("b", 3)]["x"], [8, 9])
    np.testing.assert_array_equal(pts[("c", 1)]["x"], [1, 1, 1])
    assert len(pts[("c", 0)]["y"]) == 3


@pytest.mark.parametrize(
    ("columns", "error", "words"),
    [
        ({"x": np.zeros((2, 3)), "y": np.zeros((3, 2))}, InvalidArgumentError, ["broadcast", "(2, 3)", "(3, 2)"]),
        ({"x": np.zeros((1, 2, 3))}, InvalidArgumentError, ["rank 3", "(1, 2, 3)"]),
        ({"x": np.array(["a", "b"])}, InvalidArgumentError, ["dtype", "<U1"]),
        ({"x": "text"}, InvalidArgumentError, ["unsupported type str"]),
        ({"x": np.zeros(2, np.complex64)}, InvalidArgumentError, ["complex64"]),
        ({"x": 2**70}, InvalidArgumentError, ["int64"]),
        ({"index": 1}, ReservedNameError, ["reserved"]),
        ({"scope": 1}, ReservedNameError, ["reserved"]),
        ({}, InvalidArgumentError, ["at least one column"]),
    ],
)
def test_call_site_errors_name_scope_name_column(log_path, columns, error, words):
    with make(log_path) as lg:
        with pytest.raises(error) as info:
            lg.write("w", **columns)
        msg = str(info.value)
        assert "'run'" in msg and "'w'" in msg, msg
        for w in words:
            assert w in msg, msg
        lg.write("ok", x=1)
        assert lg.flush()
        assert lg.stats()["queued_points"] == 1  # nothing of the bad write was queued


def test_schema_mismatch_message(log_path):
    with make(log_path) as lg:
        lg.write("m", x=1, y=0.5)
        with pytest.raises(SchemaMismatchError) as info:
            lg.write("m", x=1, y=np.float64(0.5))
        assert "column" in str(info.value) and "float64" in str(info.value)
        with pytest.raises(SchemaMismatchError):
            lg.write("m", x=1)
        with pytest.raises(SchemaMismatchError):
            lg.write("m", x=1, y=0.5, z=2)
        lg.write("m", x=2, y=3)  # a Python int takes the float column's dtype
        with pytest.raises(SchemaMismatchError):
            lg.write("m", x=2.5, y=1.0)  # a float into an int column is refused


def test_resume_loads_schemas_so_mismatch_caught_at_call_site(log_path, read_points):
    with make(log_path) as lg:
        lg.write("loss", x=1, y=0.5)
    lg2 = make(log_path, delete_existing=False)
    with lg2:
        with pytest.raises(SchemaMismatchError):
            lg2.write("loss", x=1.5, y=0.5)
        lg2.write("loss", x=2, y=0.25)
    pts = read_points(log_path, "run")
    np.testing.assert_array_equal(pts[("loss", 0)]["x"], [1, 2])


def test_delete_existing_hides_old_data_and_schemas(log_path, read_points):
    with make(log_path) as lg:
        lg.write("loss", x=1, y=0.5)
        lg.write("old", x=1)
    with make(log_path) as lg:
        lg.write("loss", x=np.float64(3.0), y=np.int32(1))  # a fresh schema
    pts = read_points(log_path, "run")
    assert set(pts) == {("loss", 0)}
    assert pts[("loss", 0)]["x"].dtype == np.float64


def test_captures_numpy_value_at_call_time(log_path, read_points):
    buf = np.zeros(3, np.float32)
    with make(log_path) as lg:
        for step in range(4):
            buf[:] = step
            lg.write("v", y=buf)
        buf[:] = 99
    pts = read_points(log_path, "run")
    np.testing.assert_array_equal(pts[("v", 0)]["y"], np.repeat(np.arange(4), 3))


def test_config_captured_and_validated(log_path):
    cfg = {"lr": 0.1, "layers": [1, 2]}
    with make(log_path) as lg:
        lg.write_config(cfg)
        cfg["layers"].append(3)
        with pytest.raises(InvalidArgumentError):
            lg.write_config({"bad": object()})
    with Store.open(log_path, mode="r") as st:
        assert st.config("run") == {"lr": 0.1, "layers": [1, 2]}


def test_lifecycle_errors(log_path):
    lg = DataLogger(scope="run")
    with pytest.raises(StreamvisError):
        lg.write("x", x=1)
    with pytest.raises(InvalidArgumentError):
        DataLogger(scope="")
    with pytest.raises(InvalidArgumentError):
        DataLogger(scope="r").init(path=log_path, tensor_type="tf")
    lg.init(path=log_path)
    lg.close()
    lg.close()  # idempotent
    with pytest.raises(StreamvisError):
        lg.write("x", x=1)


def test_lists_and_numpy_scalars(log_path, read_points):
    with make(log_path) as lg:
        lg.write("l", x=[1, 2, 3], y=[0.5, 1.5, 2.5])
        lg.write("l", x=np.int64(4), y=np.float32(3.5))
    pts = read_points(log_path, "run")
    np.testing.assert_array_equal(pts[("l", 0)]["x"], [1, 2, 3, 4])
    assert pts[("l", 0)]["y"].dtype == np.float32


def test_uint64_past_int64_dropped_at_flush_not_wrapped(log_path, read_points):
    with make(log_path) as lg:
        lg.write("u", x=np.array([2**63 + 5], np.uint64))
        lg.write("ok", x=1)
    assert set(read_points(log_path, "run")) == {("ok", 0)}
    assert lg.stats()["refused_points"] == 1


def test_large_writes_split_into_bounded_batches(log_path, read_points):
    lg = make(log_path, max_batch_bytes=10_000)
    xs = np.arange(10_000, dtype=np.int64)
    lg.write("big", x=xs, y=np.ones((2, 1), np.float32))  # 2 indices x 10,000 points
    lg.close()
    assert lg.stats()["delivered_batches"] >= 2 * 10_000 * 12 // 10_000
    pts = read_points(log_path, "run")
    for i in range(2):
        np.testing.assert_array_equal(pts[("big", i)]["x"], xs)
