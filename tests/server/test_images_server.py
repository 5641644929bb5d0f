"""Images and texts through a real data server: a logger writing over gRPC, and
gmedia/gimages/gtexts/DataSource.read_media equal to the local reads, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamvis import DataLogger, script
from streamvis.errors import NotFoundError
from streamvis.server.client import GrpcSource


def test_images_through_the_server_equal_local(start_server, tmp_path: Path) -> None:
    path = str(tmp_path / "img.svl")
    srv = start_server(path)
    rng = np.random.default_rng(3)
    imgs = {s: rng.integers(0, 256, (9, 7, 3), dtype=np.uint8) for s in range(4)}
    with DataLogger("run", delete_existing=True).init(grpc_uri=srv.uri) as lg:
        for s, im in imgs.items():
            lg.write_image("samples", im, step=s)
            lg.write_text("notes", f"step {s}", step=s)
            lg.write("loss", x=s, y=float(s))
    remote = script.gimages(srv.uri, "run", "samples")
    local = script.images(path, "run", "samples")
    assert [s for s, _ in remote] == [s for s, _ in local] == [0, 1, 2, 3]
    for (_, a), (_, b) in zip(remote, local, strict=True):
        np.testing.assert_array_equal(a, b)
    for s, a in remote:
        np.testing.assert_array_equal(a, imgs[s])
    assert script.gtexts(srv.uri, "run", "notes", steps=[2]) == [(2, "step 2")]
    assert script.gmedia(srv.uri) == script.media(path)
    assert script.gnames(srv.uri, "run") == ["loss"]
    from click.testing import CliRunner

    from streamvis.server.cli import names_cmd

    for target in (srv.uri, path):
        out = CliRunner().invoke(names_cmd, [target, "run", "--media"]).output
        assert out == "samples\timage\t4\nnotes\ttext\t4\n"
    with GrpcSource(srv.uri) as src:  # the page's fetch: one image, PNG bytes as stored
        (one,) = src.read_media("run", "samples", [3])
        with pytest.raises(NotFoundError, match="no step 7"):
            src.read_media("run", "samples", [7])
    with GrpcSource(srv.uri) as src:
        assert one.png == src.read_media("run", "samples")[3].png


def test_an_image_over_the_message_limit_is_refused_and_the_rest_delivered(start_server, tmp_path: Path, caplog) -> None:
    path = str(tmp_path / "big.svl")
    srv = start_server(path)
    noise = np.random.default_rng(0).integers(0, 256, (1400, 1400, 3), dtype=np.uint8)  # ~5.9 MB PNG
    with DataLogger("run", delete_existing=True).init(grpc_uri=srv.uri) as lg:
        lg.write_image("big", noise, step=0)
        lg.write_image("small", noise[:8, :8], step=0)
        lg.write("loss", x=0, y=1.0)
        assert lg.flush(timeout=30)
    assert "over the data server's message limit" in caplog.text
    assert [m.name for m in script.gmedia(srv.uri)] == ["small"]
    np.testing.assert_array_equal(script.gimages(srv.uri, "run", "small")[0][1], noise[:8, :8])


def test_summary_writer_and_tensors_through_the_server(start_server, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    jax = pytest.importorskip("jax", reason="jax is not installed")
    from streamvis.tensorboard import SummaryWriter

    srv = start_server(str(tmp_path / "tb.svl"))
    rng = np.random.default_rng(5)
    chw = rng.random((3, 5, 4)).astype(np.float32)
    hwc = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    with SummaryWriter(str(tmp_path / "runs" / "exp"), grpc_uri=srv.uri) as w:
        w.add_image("chw", torch.from_numpy(chw), 0)
        w.add_images("batch", torch.from_numpy(chw[None].repeat(4, 0)), 0)
        w.add_text("note", "hello", 3)
    with DataLogger("tensors", delete_existing=True).init(grpc_uri=srv.uri) as lg:
        lg.write_image("jax", jax.numpy.asarray(hwc), step=0)
        lg.write_image("torch", torch.from_numpy(hwc), step=0)
    want = np.rint(chw.transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(script.gimages(srv.uri, "exp", "chw")[0][1], want)
    grid = script.gimages(srv.uri, "exp", "batch")[0][1]
    np.testing.assert_array_equal(grid, np.concatenate([np.concatenate([want, want], 1)] * 2, 0))
    assert script.gtexts(srv.uri, "exp", "note") == [(3, "hello")]
    for name in ("jax", "torch"):
        np.testing.assert_array_equal(script.gimages(srv.uri, "tensors", name)[0][1], hwc)


def test_import_tb_images_served_as_stored(start_server, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from streamvis.storage import Store
    from tests.tensorboard.tb_support import import_tb

    imgs = [np.random.default_rng(s).integers(0, 256, (3, 6, 5), dtype=np.uint8) for s in range(2)]
    with TorchWriter(str(tmp_path / "tb" / "run")) as w:
        for s, im in enumerate(imgs):
            w.add_image("samples", torch.from_numpy(im), s)
    path = str(tmp_path / "imp.svl")
    assert import_tb(str(tmp_path / "tb"), path) == 0
    with Store.open(path) as st:
        stored = [it.png for it in st.read_media("run", "samples")]
    srv = start_server(path)
    with GrpcSource(srv.uri) as src:
        assert [it.png for it in src.read_media("run", "samples")] == stored
    for s, arr in script.gimages(srv.uri, "run", "samples"):
        np.testing.assert_array_equal(arr, imgs[s].transpose(1, 2, 0))
