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
