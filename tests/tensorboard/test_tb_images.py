"""The TensorBoard face for images and text: add_image/add_images/add_figure/add_text
round trips, and import-tb of TensorBoard's own event files with images (PNG bytes as
stored) and per-step text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis import script
from streamvis.storage import Store
from streamvis.tensorboard import SummaryWriter
from tests.tensorboard.tb_support import import_tb, read_log

RNG = np.random.default_rng(11)


def test_add_image_add_images_add_text_round_trip(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    log = str(tmp_path / "w.svl")
    chw = RNG.random((3, 6, 5)).astype(np.float32)
    hwc = RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    batch = torch.rand(4, 3, 2, 3)
    with SummaryWriter(str(tmp_path / "runs" / "exp"), path=log) as w:
        w.add_image("samples", chw, 0)  # torch's default: CHW
        w.add_image("samples", torch.from_numpy(chw), 1)
        w.add_image("rgba", hwc, 2, dataformats="HWC")
        w.add_images("grid", batch, 3)
        w.add_text("note", "first", 0)
        w.add_text("note", "second <i>x</i>", 5)
        w.add_scalar("loss", 1.0, 0)
    want = np.rint(chw.transpose(1, 2, 0) * 255).astype(np.uint8)
    got = script.images(log, "exp", "samples")
    assert [s for s, _ in got] == [0, 1]
    for _, arr in got:
        np.testing.assert_array_equal(arr, want)
    np.testing.assert_array_equal(script.images(log, "exp", "rgba")[0][1], hwc)
    (_, grid), = script.images(log, "exp", "grid")
    tiles = np.rint(batch.numpy().transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(grid[2:4, 3:6], tiles[3])  # 2 x 2 grid of 2x3 tiles
    assert script.texts(log, "exp", "note") == [(0, "first"), (5, "second <i>x</i>")]
    tables, configs = read_log(log)
    assert list(tables) == [("exp", "loss")]  # the numbers as before
    assert configs["exp"]["text.note"] == "second <i>x</i>"  # the config entry as before


def test_add_image_bad_input_never_raises_into_the_loop(tmp_path: Path, caplog) -> None:
    log = str(tmp_path / "b.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_image("bad", np.zeros((2, 4, 4)), 0)  # 2 channels
        w.add_image("ok", np.zeros((1, 4, 4)), 0)
        assert w.stats()["refused_calls"] == 1
    assert "shape (2, 4, 4) and dtype float64: 2 channels" in caplog.text
    assert [m.name for m in script.media(log)] == ["ok"]


def test_add_figure_rendered_at_the_call_and_closed(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: add_figure untested")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = str(tmp_path / "f.svl")
    fig = plt.figure(figsize=(2, 1), dpi=50)
    fig.patch.set_facecolor("red")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_figure("fig", fig, 0)
    assert not plt.fignum_exists(fig.number)
    (_, arr), = script.images(log, "r", "fig")
    assert arr.shape == (50, 100, 4) and (arr[..., 0] == 255).all() and (arr[..., 1] == 0).all()


def test_import_tb_images_as_stored_and_text_per_step(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    logdir = tmp_path / "tb"
    imgs = [RNG.integers(0, 256, (3, 7, 6), dtype=np.uint8) for _ in range(3)]
    with TorchWriter(str(logdir / "torchrun")) as w:  # torch's writer: v1 Summary.Image
        for s, im in enumerate(imgs):
            w.add_image("samples", torch.from_numpy(im), s)
            w.add_text("note", f"text at {s}", s)
            w.add_scalar("loss", float(s), s)
    from streamvis.logger.images import encode_png

    pngs = [encode_png(RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8)) for _ in range(2)]
    native = EventFileWriter(str(logdir / "native"))  # a v2 "images" tensor of 2 images
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="images"))
    tensor = tensor_util.make_tensor_proto([b"4", b"4", *pngs])
    native.add_event(Event(wall_time=1.7e9, step=9, summary=Summary(
        value=[Summary.Value(tag="gen", metadata=meta, tensor=tensor)])))
    native.add_event(Event(wall_time=1.7e9, step=9, summary=Summary(value=[Summary.Value(
        tag="jpeg", image=Summary.Image(encoded_image_string=b"\xff\xd8 not a png"))])))
    native.close()
    log = str(tmp_path / "i.svl")
    assert import_tb(str(logdir), log) == 0
    stored = []
    for f in sorted((logdir / "torchrun").glob("*tfevents*")):
        for rec in RawEventFileLoader(str(f)).Load():
            ev = Event.FromString(rec)
            stored += [v.image.encoded_image_string for v in ev.summary.value
                       if v.WhichOneof("value") == "image"]
    with Store.open(log) as st:
        got = st.read_media("torchrun", "samples")
        assert [it.png for it in got] == stored  # the PNG bytes as stored
        assert [it.png for it in st.read_media("native", "gen/0") + st.read_media("native", "gen/1")] == pngs
        assert {m.name for m in st.media(scope_pattern="native")} == {"gen/0", "gen/1"}
    for s, arr in script.images(log, "torchrun", "samples"):
        np.testing.assert_array_equal(arr, imgs[s].transpose(1, 2, 0))
    assert script.texts(log, "torchrun", "note") == [(s, f"text at {s}") for s in range(3)]
    assert import_tb(str(logdir), log) == 0  # again: nothing stored twice
    assert len(script.images(log, "torchrun", "samples")) == 3
