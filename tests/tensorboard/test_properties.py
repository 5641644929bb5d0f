"""Property tests: bucketing as torch does it, values bit-exact along both routes,
and no host copy of a tensor inside ``add_scalar``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.tensorboard import SummaryWriter
from streamvis.tensorboard.histograms import make_histogram
from tests.tensorboard.tb_support import import_tb, read_log

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402
from torch.utils.tensorboard.summary import make_histogram as torch_make_histogram  # noqa: E402

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
values = st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.floats(-1e-10, 1e-10),
                  min_size=1, max_size=60)


@given(values, st.sampled_from(["tensorflow", 7, "sturges"]), st.none() | st.integers(1, 20))
def test_histograms_bucket_as_torch_does(vals: list[float], bins, max_bins) -> None:
    arr = np.asarray(vals)
    v, b = 1e-12, []  # torch's SummaryWriter.default_bins, built as its __init__ does
    while v < 1e20:
        b.append(v)
        v *= 1.1
    torch_bins = [-x for x in b[::-1]] + [0] + b
    want = torch_make_histogram(arr.astype(float), torch_bins if bins == "tensorflow" else bins,
                                max_bins)
    got = make_histogram(arr, bins, max_bins)
    assert got.right.tolist() == list(want.bucket_limit)
    assert got.count.tolist() == list(want.bucket)
    assert (got.min, got.max) == (want.min, want.max)
    assert got.mean == want.sum / want.num


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@settings(max_examples=15, deadline=None)
@given(st.lists(finite | st.sampled_from([0.0, -0.0, 1e-45, 3.4e38, 3.5e38, -1e300, 5e-324]),
                min_size=1, max_size=40))
def test_any_float_is_stored_as_torchs_route_stores_it(tmp_path_factory, xs: list[float]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    with TorchWriter(str(tmp / "logs" / "r")) as w:
        for i, x in enumerate(xs):
            w.add_scalar("v", x, i)
    assert import_tb(str(tmp / "logs"), str(tmp / "theirs.svl")) == 0
    with SummaryWriter(str(tmp / "mine" / "r"), path=str(tmp / "ours.svl")) as w:
        for i, x in enumerate(xs):
            w.add_scalar("v", x, i)
    theirs, _ = read_log(tmp / "theirs.svl")
    ours, _ = read_log(tmp / "ours.svl")
    assert ours[("r", "v")]["y"].tobytes() == theirs[("r", "v")]["y"].tobytes()
    assert ours[("r", "v")]["x"].tolist() == list(range(len(xs)))


def test_add_scalar_never_copies_a_tensor_to_the_host(tmp_path: Path, monkeypatch) -> None:
    """Every route from a tensor to a Python number or the host fails inside the loop;
    the values still arrive (copied later, by the logger's flush thread)."""
    w = SummaryWriter(str(tmp_path / "r"), path=str(tmp_path / "t.svl"), flush_secs=1000)
    values = [torch.tensor(0.25 * i) for i in range(5)]
    doubles = [torch.tensor(0.5 * i, dtype=torch.float64) for i in range(5)]
    steps = [torch.tensor(10 + i) for i in range(5)]

    def host_copy(*_a, **_k):
        raise AssertionError("a host copy inside add_scalar")

    with monkeypatch.context() as m:
        for attr in ("item", "cpu", "numpy", "tolist", "__float__", "__int__", "__index__"):
            m.setattr(torch.Tensor, attr, host_copy)
        for i in range(5):
            w.add_scalar("t", values[i], steps[i])
            w.add_scalar("d", doubles[i], i)
        assert w.stats()["refused_calls"] == 0
    w.close()
    tables, _ = read_log(tmp_path / "t.svl")
    assert tables[("r", "t")]["x"].tolist() == [10, 11, 12, 13, 14]
    assert tables[("r", "t")]["y"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tables[("r", "d")]["y"].dtype == np.float32
