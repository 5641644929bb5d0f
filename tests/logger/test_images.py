"""write_image / write_text: exact round trips (numpy, torch, jax), no conversion at the
call, one line per bad input, media beside the numbers (export unchanged), the index,
compaction and deletion keep them, and a writer killed mid-image leaves a readable log."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from streamvis import DataLogger, script
from streamvis.errors import InvalidArgumentError, NotFoundError
from streamvis.storage import Store
from streamvis.storage.compaction import compact
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(7)


def _rgb(h: int = 16, w: int = 12, c: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, c), dtype=np.uint8)


def test_numpy_round_trips_exact_in_step_order(log_path: str) -> None:
    imgs = {s: _rgb() for s in (3, 1, 2)}
    grey = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
    floats = RNG.random((6, 4, 4)).astype(np.float32)
    with DataLogger("r", delete_existing=True).init(path=log_path) as lg:
        for s, im in imgs.items():
            lg.write_image("samples", im, step=s)
        lg.write_image("grey", grey, step=0)
        lg.write_image("f", floats, step=0)
        lg.write_image("chw", imgs[1].transpose(2, 0, 1), step=0, dataformats="CHW")
        lg.write_image("rgba", _rgb(c=4), step=5)
        lg.write("loss", x=0, y=1.0)
    got = script.images(log_path, "r", "samples")
    assert [s for s, _ in got] == [1, 2, 3]
    for s, arr in got:
        assert arr.dtype == np.uint8 and arr.shape == (16, 12, 3)
        np.testing.assert_array_equal(arr, imgs[s])
    np.testing.assert_array_equal(script.images(log_path, "r", "grey")[0][1], grey[:, :, None])
    np.testing.assert_array_equal(script.images(log_path, "r", "f")[0][1],
                                  np.rint(floats * 255).astype(np.uint8))
    np.testing.assert_array_equal(script.images(log_path, "r", "chw")[0][1], imgs[1])
    assert script.images(log_path, "r", "rgba")[0][1].shape == (16, 12, 4)
    assert [s for s, _ in script.images(log_path, "r", "samples", steps=[3])] == [3]
    with pytest.raises(NotFoundError, match="no step 9"):
        script.images(log_path, "r", "samples", steps=[9])
    # listing: media beside the numbers, never among them
    assert script.names(log_path, "r") == ["loss"]
    kinds = {(m.name, m.kind, m.steps) for m in script.media(log_path)}
    assert ("samples", "image", (1, 2, 3)) in kinds and len(kinds) == 5


def test_snapshots_are_the_values_at_the_call_numpy_and_cpu_torch(log_path: str) -> None:
    """The snapshot at the call (a numpy copy; a CPU tensor's too: ``_host_copy``) is
    what is stored, though the source changes in place after the call, flushes between
    calls or not."""
    src = _rgb(32, 32)
    tsrc = torch.from_numpy(_rgb(8, 8))
    want, twant = {}, {}
    with DataLogger("p", delete_existing=True).init(path=log_path, flush_every=3600) as lg:
        for step in range(6):
            src[:] = RNG.integers(0, 256, src.shape, dtype=np.uint8)
            tsrc.copy_(torch.from_numpy(_rgb(8, 8)))
            want[step], twant[step] = src.copy(), tsrc.numpy().copy()
            lg.write_image("a", src, step=step)
            lg.write_image("t", tsrc, step=step)
            src[:] = 0  # in place after the call: not what is stored
            tsrc.zero_()
            if step % 2:
                assert lg.flush()
    for name, expect in (("a", want), ("t", twant)):
        got = dict(script.images(log_path, "p", name))
        assert sorted(got) == list(range(6))
        for step, arr in got.items():
            np.testing.assert_array_equal(arr, expect[step])


def test_async_logger_awaits_write_image(log_path: str) -> None:
    import asyncio

    from streamvis.logger import AsyncDataLogger

    im = _rgb()

    async def main() -> None:
        async with AsyncDataLogger(scope="a", path=log_path) as lg:
            await lg.write_image("img", im, step=0)
            lg.write_image("img", im[::-1], step=1)  # not awaited: queued all the same
            await lg.write_text("t", "x", step=0)

    asyncio.run(main())
    got = script.images(log_path, "a", "img")
    np.testing.assert_array_equal(got[0][1], im)
    np.testing.assert_array_equal(got[1][1], im[::-1])
    assert script.texts(log_path, "a", "t") == [(0, "x")]


def test_batch_is_tiled_into_one_grid(log_path: str) -> None:
    batch = RNG.integers(0, 256, (5, 4, 3, 3), dtype=np.uint8)  # NHWC, 5 images of 4x3
    with DataLogger("r", delete_existing=True).init(path=log_path) as lg:
        lg.write_image("b", batch, step=0, dataformats="NHWC")
        lg.write_image("bc", batch.transpose(0, 3, 1, 2), step=0, dataformats="NCHW")
    (_, grid), = script.images(log_path, "r", "b")
    assert grid.shape == (8, 9, 3)  # ceil(sqrt(5)) = 3 columns, 2 rows
    np.testing.assert_array_equal(grid[0:4, 3:6], batch[1])
    np.testing.assert_array_equal(grid[4:8, 3:6], batch[4])
    assert not grid[4:8, 6:9].any()  # the empty cell is black
    np.testing.assert_array_equal(script.images(log_path, "r", "bc")[0][1], grid)


def test_text_per_step(log_path: str) -> None:
    with DataLogger("r", delete_existing=True).init(path=log_path) as lg:
        lg.write_text("notes", "<b>first</b>", step=1)
        lg.write_text("notes", "second", step=2)
    assert script.texts(log_path, "r", "notes") == [(1, "<b>first</b>"), (2, "second")]


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (np.zeros((2, 3, 3, 3, 1), np.uint8), {}, r"shape \(2, 3, 3, 3, 1\) and dtype uint8 does not fit"),
        (np.zeros((4, 4, 2), np.uint8), {}, r"shape \(4, 4, 2\) and dtype uint8: 2 channels; accepted"),
        (np.zeros((4, 4), np.int32), {}, r"shape \(4, 4\) and dtype int32: dtype not accepted"),
        (np.zeros((4001, 4001), np.uint8), {}, r"16 megapixels"),
        (np.full((2, 2), np.nan, np.float32), {}, r"holds NaN"),
        (np.zeros((3, 4, 4), np.uint8), {"dataformats": "XYZ"}, r"dataformats 'XYZ'"),
        ("not an image", {}, r"must be a numpy, torch or jax array, got str"),
    ],
)
def test_bad_input_one_line_at_the_call(log_path: str, image, kwargs, match) -> None:
    with DataLogger("r", delete_existing=True).init(path=log_path) as lg:
        with pytest.raises(InvalidArgumentError, match=match) as info:
            lg.write_image("bad", image, step=0, **kwargs)
        assert "\n" not in str(info.value)
        with pytest.raises(InvalidArgumentError, match="step must be an int"):
            lg.write_image("bad", _rgb(), step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="step must be an int64"):
            lg.write_image("bad", _rgb(), step=2**64)
    assert script.media(log_path) == []


def test_export_of_numbers_unchanged_by_images(tmp_path: Path) -> None:
    plain, mixed = str(tmp_path / "a.svl"), str(tmp_path / "b.svl")
    for path, with_images in ((plain, False), (mixed, True)):
        with DataLogger("r", delete_existing=True).init(path=path) as lg:
            for s in range(5):
                lg.write("loss", x=s, y=float(s) / 2, wall_time=1000.0 + s)
                if with_images:
                    lg.write_image("loss_img", _rgb(), step=s)
                    lg.write_text("loss", "a text named like a number", step=s)
    a, b = script.export(plain), script.export(mixed)
    assert a.keys() == b.keys() == {("r", "loss", 0)}
    for col in a[("r", "loss", 0)]:
        np.testing.assert_array_equal(a[("r", "loss", 0)][col], b[("r", "loss", 0)][col])
    with Store.open(mixed) as st:
        assert [g.name for g in st.groups()] == ["loss"]


def test_index_compaction_and_deletion_keep_media_right(log_path: str) -> None:
    im = _rgb()
    with DataLogger("r", delete_existing=True).init(path=log_path) as lg:
        lg.write_image("a", im, step=0)
        lg.write_image("a", im[::-1], step=0)  # the same step again: the latest wins
        lg.write_image("b", im, step=1)
        lg.write("loss", x=0, y=1.0)
    with Store.open(log_path) as st:
        assert {m.name for m in st.media()} == {"a", "b"}
    with Store.open(log_path) as st:  # opened from the saved index
        assert [m.steps for m in st.media()] == [(0,), (1,)]
    compact(log_path)
    np.testing.assert_array_equal(script.images(log_path, "r", "a")[0][1], im[::-1])
    with Store.open(log_path, "a") as st:
        st.delete("r", "a")
        assert [m.name for m in st.media()] == ["b"]
    with Store.open(log_path) as st:
        assert [m.name for m in st.media()] == ["b"]
        st.refresh()
    with Store.open(log_path, "a") as st:
        st.delete("r")
        assert st.media() == []


# ---------------------------------------------------------------- no device sync
torch = pytest.importorskip("torch", reason="torch is not installed: torch images untested")


def test_torch_no_conversion_at_call_one_at_flush(log_path: str) -> None:
    from tests.logger.test_tensors import Counting, counting

    Counting.calls.clear()
    imgs = [torch.rand(3, 8, 5) for _ in range(4)]
    kept = [im.clone() for im in imgs]
    with DataLogger("t", delete_existing=True).init(path=log_path, flush_every=3600) as lg:
        for s, im in enumerate(imgs):
            src = counting(im)
            lg.write_image("x", src, step=s, dataformats="CHW")
            src.mul_(0)  # changed after the call: the logged image is the value at the call
        assert sum(Counting.calls.values()) == 0, Counting.calls
        assert lg.flush()
        assert Counting.calls["cpu"] == 4, Counting.calls  # one host copy per image
    for s, arr in script.images(log_path, "t", "x"):
        want = np.rint(kept[s].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        np.testing.assert_array_equal(arr, want)


def test_torch_nan_dropped_at_flush_with_one_warning(log_path: str, caplog) -> None:
    bad = torch.full((4, 4), float("nan"))
    with caplog.at_level(logging.WARNING, logger="streamvis.logger"):
        with DataLogger("t", delete_existing=True).init(path=log_path) as lg:
            lg.write_image("n", bad, step=0)  # accepted at the call: checking would sync
            lg.write_image("n", bad, step=1)
            lg.write_image("ok", torch.zeros(4, 4, dtype=torch.uint8), step=0)
    warnings = [r for r in caplog.records if "image 'n'" in r.getMessage()]
    assert len(warnings) == 1 and "NaN" in warnings[0].getMessage()
    assert [m.name for m in script.media(log_path)] == ["ok"]


def test_jax_no_conversion_at_call(log_path: str, monkeypatch) -> None:
    jax = pytest.importorskip("jax", reason="jax is not installed: jax images untested")
    from tests.logger.test_tensors import JaxCounter

    imgs = [jax.numpy.asarray(_rgb()) for _ in range(3)]
    jax.block_until_ready(imgs)
    counter = JaxCounter(monkeypatch)
    with DataLogger("j", delete_existing=True).init(path=log_path, flush_every=3600) as lg:
        for s, im in enumerate(imgs):
            lg.write_image("x", im, step=s)
        assert sum(counter.calls.values()) == 0, counter.calls
        assert lg.flush()
        assert counter.calls["device_get"] == 3, counter.calls
    for s, arr in script.images(log_path, "j", "x"):
        np.testing.assert_array_equal(arr, np.asarray(imgs[s]))


def test_jax_inside_jit_refused_at_the_call(log_path: str) -> None:
    jax = pytest.importorskip("jax", reason="jax is not installed: jax images untested")
    with DataLogger("j", delete_existing=True).init(path=log_path) as lg:

        @jax.jit
        def f(x):
            lg.write_image("x", x, step=0)
            return x

        with pytest.raises(InvalidArgumentError, match=r"image of shape \(4, 4, 3\) is a jax tracer"):
            f(jax.numpy.zeros((4, 4, 3), jax.numpy.uint8))


# ---------------------------------------------------------------- kill mid-image
def _images_readable(path: str) -> int:
    """Steps of image ``big`` a reader of the live log finds now."""
    try:
        with Store.open(path, "r") as st:
            return sum(len(m.steps) for m in st.media() if m.name == "big")
    except (NotFoundError, FileNotFoundError):  # not created yet
        return 0


def test_writer_killed_mid_image_leaves_a_readable_log(tmp_path: Path, procs) -> None:
    path = str(tmp_path / "k.svl")
    code = textwrap.dedent(f"""
        import numpy as np, sys
        from streamvis import DataLogger
        lg = DataLogger("k", delete_existing=True).init(path={path!r}, flush_every=0.001)
        rng = np.random.default_rng(0)
        step = 0
        while True:
            lg.write_image("big", rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), step=step)
            lg.write("loss", x=step, y=float(step))
            if step == 3:
                print("ready", flush=True)
            step += 1
    """)
    proc = procs.popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    # (the file's size says nothing: the log grows its file ahead of the data)
    seen = wait_for(lambda: (n := _images_readable(path)) >= 3 and n, timeout=30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    got = script.images(path, "k", "big")
    # what a reader saw before the kill is there after it; nothing torn is returned
    assert len(got) >= seen and [s for s, _ in got] == list(range(len(got)))
    assert all(a.shape == (512, 512, 3) for _, a in got)
    with Store.open(path, "a") as st:  # the next writer quarantines the torn tail
        assert [m.steps for m in st.media()] == [tuple(range(len(got)))]


def test_export_writes_pngs_beside_parquet_and_never_replaces_foreign_files(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    from streamvis.errors import ForeignFileError
    from streamvis.storage.export import export_parquet

    path, out = str(tmp_path / "e.svl"), tmp_path / "out"
    ims = {s: _rgb() for s in range(2)}
    with DataLogger("r/1", delete_existing=True).init(path=path) as lg:
        for s, im in ims.items():
            lg.write_image("img/x", im, step=s)
            lg.write("loss", x=s, y=float(s))
        lg.write_text("notes", "hello", step=4)
    res = export_parquet(path, str(out))
    folder = out / "_media" / "scope=r%2F1" / "name=img%2Fx"
    assert sorted(res.media) == sorted([str(folder / "step=0.png"), str(folder / "step=1.png"),
                                        str(out / "_media" / "scope=r%2F1" / "name=notes" / "step=4.txt")])
    for s, im in ims.items():
        np.testing.assert_array_equal(np.asarray(PILImage.open(folder / f"step={s}.png")), im)
    assert len(res.files) == 1 and res.points == 2  # the numbers as before
    again = export_parquet(path, str(out))  # our own files are replaced
    assert sorted(again.media) == sorted(res.media)
    (folder / "step=1.png").write_bytes(b"someone else's picture")
    with pytest.raises(ForeignFileError, match="step=1.png"):
        export_parquet(path, str(out))
    assert (folder / "step=1.png").read_bytes() == b"someone else's picture"
