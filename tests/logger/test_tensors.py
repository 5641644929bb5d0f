"""No host conversion at write; one per name+column (hence at most one per group+column)
at flush; values captured at call time. torch via a ``__torch_function__`` subclass,
jax by counting its conversion entry points (``jax.transfer_guard`` cannot see CPU
arrays, so it would prove nothing here)."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pytest

from streamvis import DataLogger

torch = pytest.importorskip("torch", reason="torch is not installed: torch adapter untested")

# methods that move data to the host or synchronise the device
CONVERSIONS = {"cpu", "numpy", "item", "tolist", "__array__", "__float__", "__int__",
               "__bool__", "__index__", "__len__", "to", "__repr__", "__format__"}


class Counting(torch.Tensor):
    """A tensor subclass that counts every conversion-like call made on it."""

    calls: collections.Counter[str] = collections.Counter()

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", str(func))
        if name in CONVERSIONS:
            cls.calls[name] += 1
        return super().__torch_function__(func, types, args, kwargs or {})


def counting(t: Any) -> Any:
    return t.as_subclass(Counting)


@pytest.fixture
def calls() -> collections.Counter[str]:
    Counting.calls.clear()
    return Counting.calls


def test_torch_write_converts_nothing_flush_one_per_name_column(log_path, read_points, calls):
    lg = DataLogger("t", delete_existing=True).init(path=log_path, flush_every=3600)
    w = counting(torch.zeros(4))
    steps = 20
    for step in range(steps):
        loss = counting(torch.tensor(0.5 * step))
        lg.write("loss", x=step, y=loss)  # x: Python int (host), y: tensor
        lg.write("vec", start_index=0, y=w * step)  # one index, 4 points
        lg.write("rows", y=counting(torch.ones(3, 2)) * step)  # 3 indices x 2 points
    assert sum(calls.values()) == 0, calls
    assert lg.flush()
    # loss.y, vec.y, rows.y: one .cpu() each, although "rows" spans three groups
    assert calls["cpu"] == 3, calls
    assert calls["item"] == calls["tolist"] == calls["__float__"] == calls["__bool__"] == 0
    lg.close()
    pts = read_points(log_path, "t")
    np.testing.assert_allclose(pts[("loss", 0)]["y"], 0.5 * np.arange(steps))
    assert len(pts[("vec", 0)]["y"]) == 4 * steps
    for i in range(3):
        np.testing.assert_array_equal(pts[("rows", i)]["y"], np.repeat(np.arange(steps), 2))


def test_torch_in_place_update_after_write_not_logged(log_path, read_points):
    p = torch.zeros(3, requires_grad=False)
    g = torch.ones(2, requires_grad=True)
    with DataLogger("t", delete_existing=True).init(path=log_path) as lg:
        for _ in range(3):
            p.add_(1.0)  # an optimizer step updating in place
            lg.write("p", y=p)
            lg.write("g", y=g * 1.0)  # requires grad: detached, not kept in the graph
    pts = read_points(log_path, "t")
    np.testing.assert_array_equal(pts[("p", 0)]["y"], np.repeat([1.0, 2.0, 3.0], 3))


def test_torch_dtypes_stored_as_storage_does(log_path):
    from streamvis.storage import Store

    with DataLogger("t", delete_existing=True).init(path=log_path, tensor_type="torch") as lg:
        lg.write("d", a=torch.ones(2, dtype=torch.bfloat16), b=torch.ones(2, dtype=torch.float16),
                 c=torch.ones(2, dtype=torch.bool), d=torch.ones(2, dtype=torch.int64),
                 e=torch.ones(2, dtype=torch.float64), f=torch.ones(2, dtype=torch.uint8))
    with Store.open(log_path, mode="r") as st:
        assert {c: str(d) for c, d in st.schema("t", "d").items()} == {
            "a": "float32", "b": "float32", "c": "int32", "d": "int64", "e": "float64", "f": "int32",
            "wall_time": "float64",
        }


def test_mixed_kinds_in_one_column(log_path, read_points):
    with DataLogger("t", delete_existing=True).init(path=log_path) as lg:
        lg.write("m", x=0, y=torch.tensor(0.5))
        lg.write("m", x=1, y=1.5)
        lg.write("m", x=np.arange(2, 4), y=torch.tensor([2.5, 3.5]))
        lg.write("m", x=4, y=np.float32(4.5))
    pts = read_points(log_path, "t")
    np.testing.assert_array_equal(pts[("m", 0)]["x"], np.arange(5))
    np.testing.assert_allclose(pts[("m", 0)]["y"], np.arange(5) + 0.5)


# ---------------------------------------------------------------------------- jax
class JaxCounter:
    """Counts calls of jax's host-conversion entry points."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import jax
        from jax._src import array as jarray

        self.calls: collections.Counter[str] = collections.Counter()
        impl = jarray.ArrayImpl
        for name in ("__array__", "tolist", "item", "__float__", "__int__", "__bool__",
                     "__index__", "copy_to_host_async"):
            self._wrap(monkeypatch, impl, name)
        orig_get = jax.device_get

        def device_get(x: Any) -> Any:
            self.calls["device_get"] += 1
            return orig_get(x)

        monkeypatch.setattr(jax, "device_get", device_get)
        orig_value = impl._value

        def value(arr: Any) -> Any:
            self.calls["_value"] += 1
            return orig_value.fget(arr)

        monkeypatch.setattr(impl, "_value", property(value))

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, cls: type, name: str) -> None:
        orig = getattr(cls, name, None)
        if orig is None:
            return

        def wrapper(this: Any, *a: Any, **k: Any) -> Any:
            self.calls[name] += 1
            return orig(this, *a, **k)

        monkeypatch.setattr(cls, name, wrapper)


def test_jax_write_converts_nothing_flush_one_per_name_column(log_path, read_points, monkeypatch):
    jax = pytest.importorskip("jax", reason="jax is not installed: jax adapter untested")
    jnp = jax.numpy
    values = [jnp.float32(0.5) * s for s in range(10)]
    vecs = [jnp.arange(3, dtype=jnp.float32) + s for s in range(10)]
    jax.block_until_ready(values + vecs)
    counter = JaxCounter(monkeypatch)
    lg = DataLogger("j", delete_existing=True).init(path=log_path, flush_every=3600,
                                                    tensor_type="jax")
    for step in range(10):
        lg.write("loss", x=step, y=values[step])
        lg.write("vec", y=vecs[step])
    assert sum(counter.calls.values()) == 0, counter.calls
    assert lg.flush()
    assert counter.calls["device_get"] == 2, counter.calls  # loss.y and vec.y
    lg.close()
    pts = read_points(log_path, "j")
    np.testing.assert_allclose(pts[("loss", 0)]["y"], 0.5 * np.arange(10))
    np.testing.assert_allclose(pts[("vec", 0)]["y"], np.concatenate([np.arange(3) + s for s in range(10)]))


def test_jax_inside_jit_refused(log_path):
    jax = pytest.importorskip("jax", reason="jax is not installed: jax adapter untested")
    from streamvis.errors import InvalidArgumentError

    with DataLogger("j", delete_existing=True).init(path=log_path) as lg:
        @jax.jit
        def f(x: Any) -> Any:
            lg.write("in_jit", y=x)
            return x

        with pytest.raises(InvalidArgumentError, match="tracer"):
            f(jax.numpy.ones(2))
        lg.write("bf", y=jax.numpy.ones(2, dtype=jax.numpy.bfloat16))


def test_jax_multi_device_replicated_logged_sharded_refused(tmp_path, read_points):
    pytest.importorskip("jax", reason="jax is not installed: jax adapter untested")
    import os
    import subprocess
    import sys
    import textwrap

    path = str(tmp_path / "log.svl")
    script = textwrap.dedent("""
        import sys
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        from streamvis import DataLogger
        from streamvis.errors import InvalidArgumentError
        mesh = Mesh(np.array(jax.devices()), ("d",))
        assert len(jax.devices()) == 2
        rep = jax.device_put(jnp.arange(4.0), NamedSharding(mesh, P()))
        split = jax.device_put(jnp.arange(4.0), NamedSharding(mesh, P("d")))
        with DataLogger("m", delete_existing=True).init(path=sys.argv[1], tensor_type="jax") as lg:
            lg.write("rep", y=rep)
            try:
                lg.write("split", y=split)
            except InvalidArgumentError as exc:
                assert "split over 2 devices" in str(exc), exc
            else:
                raise SystemExit("a split array was accepted")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", script, path], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_points(path, "m")[("rep", 0)]["y"], np.arange(4.0))


def test_jax_deleted_buffer_drops_that_name_only(log_path, read_points, caplog):
    jax = pytest.importorskip("jax", reason="jax is not installed: jax adapter untested")
    import logging

    x = jax.numpy.ones(3)
    with DataLogger("j", delete_existing=True).init(path=log_path, flush_every=3600) as lg:
        lg.write("gone", y=x)
        lg.write("kept", y=jax.numpy.zeros(2))
        x.delete()  # e.g. donated to a jitted step
        with caplog.at_level(logging.ERROR, logger="streamvis.logger"):
            assert lg.flush()
    assert set(read_points(log_path, "j")) == {("kept", 0)}
    assert lg.stats()["refused_points"] == 3
    assert any("'gone'" in r.message for r in caplog.records)
