"""streamvis.tensorboard.SummaryWriter on its own: naming, tolerance, the schema."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pytest

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.errors import InvalidArgumentError
from streamvis.tensorboard import SummaryWriter, UnsupportedSummaryError
from streamvis.web.schema import load_schema
from tests.tensorboard.tb_support import read_log

SCHEMA = Path(__file__).resolve().parents[2] / "streamvis" / "schemas" / "tensorboard.yaml"


def test_runs_are_log_dirs_relative_to_root(tmp_path: Path, monkeypatch) -> None:
    log = str(tmp_path / "a.svl")
    monkeypatch.chdir(tmp_path)
    with SummaryWriter("runs/exp1", path=log) as w:
        assert w.run == "exp1" and w.get_logdir() == "runs/exp1"
    with SummaryWriter("runs/group/exp2", path=log, root="runs") as w:
        assert w.run == "group/exp2"
    with SummaryWriter(comment="_lr0.1", path=log) as w:  # torch's default log_dir
        assert re.fullmatch(r"[A-Z][a-z]{2}\d\d_\d\d-\d\d-\d\d_.+_lr0\.1", w.run), w.run
        assert w.get_logdir() == os.path.join("runs", w.run)
    with pytest.raises(InvalidArgumentError, match="not inside root"):
        SummaryWriter("elsewhere/exp3", path=log, root="runs")


def test_default_store_is_the_default_log(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STREAMVIS_LOG", str(tmp_path / "default.svl"))
    with SummaryWriter(str(tmp_path / "runs" / "d")) as w:
        w.add_scalar("a", 1.0, 1)
    tables, _ = read_log(tmp_path / "default.svl")
    assert tables[("d", "a")]["x"].tolist() == [1]


def test_unsupported_methods_warn_once_or_raise_when_strict(tmp_path: Path) -> None:
    log = str(tmp_path / "u.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        with pytest.warns(UserWarning, match="add_audio is not supported"):
            w.add_audio("snd", np.zeros(16), 0)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            w.add_audio("snd", np.zeros(16), 1)  # once only
        with pytest.raises(AttributeError):
            _ = w.not_a_method
    with SummaryWriter(str(tmp_path / "r"), path=log, strict=True) as w:
        with pytest.raises(UnsupportedSummaryError, match="add_graph"):
            w.add_graph(None)
    with pytest.warns(UserWarning, match="purge_step"):
        SummaryWriter(str(tmp_path / "r"), path=log, purge_step=5).close()


def test_bad_values_never_raise_into_the_loop(tmp_path: Path, caplog) -> None:
    torch = pytest.importorskip("torch")
    log = str(tmp_path / "b.svl")
    caplog.set_level(logging.WARNING, logger="streamvis.faces")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_scalar("x", "not a number", 0)
        w.add_scalar("x", torch.ones(3), 1)  # torch raises: more than one element
        w.add_scalar("x", 2.0, 2)
        w.add_histogram("h", [], 0)
        w.add_hparams("not a dict", {})  # type: ignore[arg-type]
        w.add_scalar("y", np.float64(0.5), torch.tensor(7))
        w.add_scalar("z", torch.tensor(1.5, dtype=torch.bfloat16), 3)
        w.add_scalar("d", 0.1, 3, new_style=True, double_precision=True)
        stats = w.stats()
    assert stats["refused_calls"] == 4
    assert sum("not logged" in r.message for r in caplog.records) == 3  # once per name
    tables, _ = read_log(log)
    assert tables[("r", "x")]["x"].tolist() == [2]
    assert tables[("r", "y")]["x"].tolist() == [7] and tables[("r", "y")]["y"].dtype == np.float32
    assert tables[("r", "z")]["y"].tolist() == [1.5]
    assert tables[("r", "d")]["y"].dtype == np.float64 and tables[("r", "d")]["y"][0] == 0.1


def test_text_keeps_the_last_per_tag_beside_hparams(tmp_path: Path) -> None:
    log = str(tmp_path / "t.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_hparams({"lr": 0.1, "skip": None}, {"m": 1.0}, global_step=4)
        w.add_text("a", "first", 0)
        w.add_text("a", "second", 1)
        w.add_text("b", "other", 1)
    tables, configs = read_log(log)
    assert configs["r"] == {"lr": 0.1, "text.a": "second", "text.b": "other"}
    assert tables[("r", "m")]["x"].tolist() == [4]


def test_walltime_argument_is_kept(tmp_path: Path) -> None:
    log = str(tmp_path / "w.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_scalar("a", 1.0, 0, walltime=1234.5)
        w.add_scalars("m", {"k": 2.0}, 0, walltime=99.25)
        w.add_histogram("h", [1.0, 2.0], 0, walltime=7.0)
    tables, _ = read_log(log)
    assert tables[("r", "a")][WALL_TIME_COLUMN].tolist() == [1234.5]
    assert tables[("r/m_k", "m")][WALL_TIME_COLUMN].tolist() == [99.25]
    assert set(tables[("r", "h:hist")][WALL_TIME_COLUMN].tolist()) == {7.0}


def test_schema_draws_scalars_and_histograms_apart() -> None:
    schema = load_schema(SCHEMA)
    plots = schema.plots
    assert plots["histogram"].filter_column == "step"
    assert plots["histogram"].columns == ("bucket", "count", "step")

    def matches(plot: str, name: str) -> bool:
        return re.search(plots[plot].name_pattern, name) is not None

    for name in ("Loss/train", "acc", "hparam/accuracy"):
        assert matches("scalars", name) and not matches("histogram", name)
    assert matches("histogram", "weights/l1:hist") and not matches("scalars", "weights/l1:hist")
    for stat in ("min", "max", "mean"):
        assert matches("histogram_stats", f"w:{stat}") and not matches("scalars", f"w:{stat}")


def test_writer_through_a_data_server(tmp_path: Path) -> None:
    """One DataClient shared by the runs of add_scalars, against a real server."""
    import asyncio
    import socket
    import threading

    from streamvis.server.server import DataServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = str(tmp_path / "srv.svl")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = DataServer(log, port=port)
    try:
        uri = asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        with SummaryWriter(str(tmp_path / "runs" / "g"), grpc_uri=str(uri)) as w:
            for step in range(5):
                w.add_scalar("loss", 1.0 / (step + 1), step)
                w.add_scalars("pair", {"a": step, "b": -step}, step)
            assert w.stats()["refused_calls"] == 0
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    tables, _ = read_log(log)
    assert sorted(tables) == [("g", "loss"), ("g/pair_a", "pair"), ("g/pair_b", "pair")]
    assert tables[("g/pair_b", "pair")]["y"].tolist() == [0.0, -1.0, -2.0, -3.0, -4.0]


def test_calls_after_close_log_nothing_and_do_not_raise(tmp_path: Path, caplog) -> None:
    log = str(tmp_path / "c.svl")
    w = SummaryWriter(str(tmp_path / "r"), path=log)
    w.add_scalar("a", 1.0, 0)
    w.close()
    caplog.set_level(logging.WARNING, logger="streamvis.faces")
    w.add_scalar("a", 2.0, 1)
    w.add_scalars("m", {"k": 1.0}, 1)
    w.close()  # idempotent
    assert w.stats()["refused_calls"] == 2
    tables, _ = read_log(log)
    assert list(tables) == [("r", "a")] and tables[("r", "a")]["x"].tolist() == [0]


def test_a_resumed_run_extends_its_stored_config(tmp_path: Path) -> None:
    log = str(tmp_path / "resume.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        w.add_hparams({"lr": 0.1}, {})
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:  # resumed from a checkpoint
        w.add_text("note", "resumed")
    _, configs = read_log(log)
    assert configs["r"] == {"lr": 0.1, "text.note": "resumed"}
    with SummaryWriter(str(tmp_path / "r"), path=log, delete_existing=True) as w:
        w.add_text("note", "fresh")
    _, configs = read_log(log)
    assert configs["r"] == {"text.note": "fresh"}


def test_jax_scalars_are_taken_as_they_are(tmp_path: Path) -> None:
    jnp = pytest.importorskip("jax.numpy")
    log = str(tmp_path / "j.svl")
    with SummaryWriter(str(tmp_path / "r"), path=log) as w:
        for step in range(3):
            w.add_scalar("loss", jnp.float32(0.5) * step, step)
            w.add_scalar("wide", jnp.asarray([1.5 * step]), step)  # one element, shape (1,)
        assert w.stats()["refused_calls"] == 0
    tables, _ = read_log(log)
    assert tables[("r", "loss")]["y"].tolist() == [0.0, 0.5, 1.0]
    assert tables[("r", "wide")]["y"].tolist() == [0.0, 1.5, 3.0]
