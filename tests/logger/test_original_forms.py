"""The original streamvis's logger forms (issue 14): its demo programs, unchanged but for
their import lines, log through the real data server and (with ``path=`` in place of
``grpc_uri=``) to a local log; the data read back is exactly what they wrote.

Also the forms one by one: ``DataLogger(scope=, grpc_uri=|path=, tensor_type=,
delete_existing=, flush_every=)`` with ``start``/``write``/``write_config``/``stop``;
``AsyncDataLogger`` with ``async with``, awaited and un-awaited ``write``/
``write_config``, ``write_sync`` and ``yield_to_flush``; the original's defaults
(``delete_existing=True``, ``flush_every=2.0``) in that form only.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import types
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from streamvis import AsyncDataLogger as TopAsync
from streamvis import DataLogger as TopSync
from streamvis import script
from streamvis.errors import InvalidArgumentError, StreamvisError
from streamvis.logger import AsyncDataLogger, DataLogger
from streamvis.storage import Store
from tests.logger.original_programs import demo_async, demo_funcs, demo_sync
from tests.server.conftest import ServerProc, free_port

NUM_STEPS = 60  # the demos log every 10th step and sleep 0.1 s each: 0.6 s a run
SEED = 1234


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    srv = ServerProc(str(tmp_path_factory.mktemp("orig") / "log.svl"), free_port()).start()
    yield srv
    srv.stop()


def _path_form(module: types.ModuleType) -> Callable:
    """The demo's function with ``path=`` in place of ``grpc_uri=`` (the one word a
    program changes to log to a file), and nothing else changed."""
    source = inspect.getsource(module)
    assert source.count("grpc_uri=grpc_uri") == 1
    namespace: dict = {}
    exec(compile(source.replace("grpc_uri=grpc_uri", "path=grpc_uri"), module.__file__, "exec"),
         namespace)
    return next(v for k, v in namespace.items() if k.startswith("demo_log_data"))


def _expected() -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """What the demos write, computed with their own generators from the same seed."""
    np.random.seed(SEED)
    cloud = demo_funcs.Cloud(num_points=10000, num_steps=NUM_STEPS)
    sinusoidal = demo_funcs.Sinusoidal()
    out: dict[tuple[str, int], dict[str, list]] = {}
    for step in range(0, NUM_STEPS, 10):
        xs, top = sinusoidal.step(step)
        for i in range(3):
            d = out.setdefault(("sinusoidal", i), {"x": [], "y": []})
            d["x"].append(xs[0])
            d["y"].append(top[i])
        pts = cloud.step(step)
        d = out.setdefault(("cloud", 0), {"x": [], "y": [], "t": []})
        d["x"].append(pts[:, 0])
        d["y"].append(pts[:, 1])
        d["t"].append(np.full(len(pts), step, np.int64))
    return {k: {c: np.concatenate(v) for c, v in cols.items()} for k, cols in out.items()}


def _assert_exact(got: dict, scope: str) -> None:
    want = _expected()
    assert set(got) == {(scope, n, i) for n, i in want}
    for (name, index), cols in want.items():
        back = dict(got[(scope, name, index)])
        wall = back.pop("wall_time")  # the logger's own per-write time stamps
        assert wall.dtype == np.float64 and abs(wall[-1] - time.time()) < 600
        assert set(back) == set(cols)
        for c, values in cols.items():
            assert back[c].dtype == values.dtype, (name, c)  # arrays keep their dtype
            np.testing.assert_array_equal(back[c], values, err_msg=f"{name}/{index}/{c}")


def _run(fn: Callable, target: str, scope: str) -> None:
    np.random.seed(SEED)
    result = fn(target, scope, NUM_STEPS)
    if inspect.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("demo", [demo_sync, demo_async], ids=["DataLogger", "AsyncDataLogger"])
def test_original_demo_logs_through_the_data_server(server, demo) -> None:
    scope = f"srv-{demo.__name__.rsplit('.', 1)[-1]}"
    fn = demo.demo_log_data if demo is demo_sync else demo.demo_log_data_async
    _run(fn, server.uri, scope)  # stop() / leaving ``async with`` flushed everything
    _assert_exact(script.gfetch_sync(server.uri, scope), scope)
    assert abs(script.gconfigs(server.uri)[scope]["start-time"] - time.time()) < 600


@pytest.mark.parametrize("demo", [demo_sync, demo_async], ids=["DataLogger", "AsyncDataLogger"])
def test_original_demo_logs_to_a_local_path(tmp_path, demo) -> None:
    path = str(tmp_path / "runs.svl")
    scope = "local"
    _run(_path_form(demo), path, scope)
    with Store.open(path) as s:
        assert abs(s.config(scope)["start-time"] - time.time()) < 600
        _assert_exact(s.read_arrays(scope=scope), scope)


def test_both_import_paths_name_the_same_classes() -> None:
    assert TopSync is DataLogger and TopAsync is AsyncDataLogger
    assert issubclass(AsyncDataLogger, DataLogger)


# -- the forms one by one -------------------------------------------------------------
def test_original_form_keeps_the_original_defaults_and_the_seed_form_its_own(tmp_path):
    path = str(tmp_path / "d.svl")
    original = DataLogger(scope="s", path=path)
    assert original.delete_existing is True
    seed = DataLogger("s")
    assert seed.delete_existing is False
    original.start()
    assert original._flush_every == 2.0  # noqa: SLF001 - the default under test
    original.stop()
    seed.init(path=str(tmp_path / "e.svl"))
    assert seed._flush_every == 1.0  # noqa: SLF001
    seed.close()


def test_original_form_replaces_the_scope_by_default(tmp_path):
    path = str(tmp_path / "r.svl")
    for run in range(2):
        lg = DataLogger(scope="s", path=path, tensor_type="numpy")
        lg.start()
        lg.write("loss", x=np.arange(3) + 10 * run, y=np.zeros(3, np.float32))
        lg.write_config({"run": run})
        lg.stop()
    with Store.open(path) as s:
        assert s.read_arrays(scope="s")[("s", "loss", 0)]["x"].tolist() == [10, 11, 12]
        assert s.config("s") == {"run": 1}
    lg = DataLogger(scope="s", path=path, delete_existing=False, flush_every=0.05)
    with lg:  # entering starts the original form too
        lg.write("loss", x=20, y=0.5)
    with Store.open(path) as s:
        assert s.read_arrays(scope="s")[("s", "loss", 0)]["x"].tolist() == [10, 11, 12, 20]


def test_original_positional_form(tmp_path, server):
    lg = DataLogger("positional", server.uri)  # the original's DataLogger(scope, grpc_uri)
    lg.start()
    lg.write("v", x=1, y=2.0)
    lg.stop()
    got = script.gfetch_sync(server.uri, "positional")
    assert got[("positional", "v", 0)]["y"].tolist() == [2.0]


def test_async_logger_forms(tmp_path):
    path = str(tmp_path / "a.svl")

    async def program() -> None:
        logger = AsyncDataLogger(scope="a", path=path, tensor_type="numpy",
                                 delete_existing=True, flush_every=1.0)
        async with logger:
            logger.write_config({"lr": 0.1})          # un-awaited
            await logger.write_config({"lr": 0.2})    # awaited
            for step in range(5):
                await logger.write("loss", x=step, y=float(step) / 2)
                logger.write_sync("loss", start_index=1, x=step, y=float(step))
                await logger.yield_to_flush()

    asyncio.run(program())
    with Store.open(path) as s:
        got = s.read_arrays(scope="a")
        assert s.config("a") == {"lr": 0.2}
    assert got[("a", "loss", 0)]["y"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert got[("a", "loss", 1)]["y"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert got[("a", "loss", 1)]["x"].tolist() == [0, 1, 2, 3, 4]


def test_misuse_is_refused_with_clear_errors(tmp_path):
    with pytest.raises(StreamvisError, match="start\\(\\) needs the destination"):
        DataLogger("s").start()
    with pytest.raises(InvalidArgumentError, match="not both"):
        DataLogger(scope="s", path="a.svl", grpc_uri="h:1")
    with pytest.raises(InvalidArgumentError, match="tensor_type"):
        DataLogger(scope="s", path="a.svl", tensor_type="tf")
    lg = DataLogger(scope="s", path=str(tmp_path / "x.svl"))
    with pytest.raises(InvalidArgumentError, match="given to DataLogger\\(\\) already"):
        lg.init(path=str(tmp_path / "y.svl"))
    with pytest.raises(StreamvisError, match="call start\\(\\) before write"):  # its form's call
        lg.write("v", x=1)
    with pytest.raises(StreamvisError, match="call init\\(\\) before write"):
        DataLogger("s").write_config({"lr": 0.1})
