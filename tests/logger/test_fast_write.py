"""The scalar fast path of ``write`` (fast_write.py) and the short scalar records it
queues (buffer.py): same points, same errors as the full method."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis import DataLogger
from streamvis.errors import InvalidArgumentError, SchemaMismatchError, StreamvisError
from streamvis.logger.async_logger import AsyncDataLogger
from streamvis.logger.buffer import Control, build_items
from streamvis.storage.model import ConfigUpdate


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


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("s"), st.integers(0, 10**6), st.floats(allow_nan=False, width=32)),
    st.tuples(st.just("full"), st.integers(0, 10**6), st.floats(allow_nan=False, width=32)),
    st.tuples(st.just("ctl"), st.integers(0, 3), st.just(0.0)),
), min_size=1, max_size=40))
def test_scalar_records_build_like_full_records(entries) -> None:
    """Short scalar records, full records and controls in one drain build the same
    items as full records only."""
    dt = {"m": {"x": np.dtype(np.int64), "y": np.dtype(np.float32)}}
    short, full = [], []
    for kind, x, y in entries:
        if kind == "ctl":
            c = Control(ConfigUpdate("sc", {"k": x}))
            short.append(c)
            full.append(c)
            continue
        cols = {"x": x, "y": y}
        wall = 1.8e9 + x / 7
        short.append(("m", cols, wall) if kind == "s" else ("m", 0, 1, 1, cols, wall))
        full.append(("m", 0, 1, 1, dict(cols), wall))
    a, b = build_items("sc", short, dt), build_items("sc", full, dt)
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        assert type(p) is type(q)
        if hasattr(p, "columns"):
            assert p.index == q.index
            for c in ("x", "y", "wall_time"):
                np.testing.assert_array_equal(p.columns[c], q.columns[c])
                assert p.columns[c].dtype == q.columns[c].dtype
        else:
            assert p == q
