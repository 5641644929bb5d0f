"""A real lightning.Trainer.fit logging through StreamvisLogger (tiny model, CPU).

Lightning's own CSVLogger runs beside ours in the same fit: it is the reference
for which metrics arrive at which steps."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.tensorboard.tb_support import read_log

L = pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

from streamvis.integrations.lightning import StreamvisLogger  # noqa: E402

STEPS = 12


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.05, width: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(width, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt,
                "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)}


def test_fit_logs_loss_and_lr_at_lightnings_steps(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(STEPS * 2, 4, generator=g)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)),
                                       batch_size=2)
    ours = StreamvisLogger(name="tiny", version=0, path=str(tmp_path / "l.svl"))
    ref = L.pytorch.loggers.CSVLogger(str(tmp_path / "csv"), name="ref")
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=[ours, ref],
                        log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[L.pytorch.callbacks.LearningRateMonitor("step")],
                        default_root_dir=str(tmp_path))
    trainer.fit(Tiny(), data)
    assert ours.scope == "tiny/version_0"

    with open(Path(ref.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    want: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k != "step" and v != "":
                want.setdefault(k, []).append((int(r["step"]), float(v)))
    assert {"train_loss", "lr-SGD"} <= set(want)

    tables, configs = read_log(tmp_path / "l.svl")
    assert configs["tiny/version_0"] == {"lr": 0.05, "width": 4}
    for name in ("train_loss", "lr-SGD", "epoch"):
        got = tables[("tiny/version_0", name)]
        assert got["x"].tolist() == [s for s, _ in want[name]], name
        np.testing.assert_allclose(got["y"], [v for _, v in want[name]], rtol=1e-6)
    lr = tables[("tiny/version_0", "lr-SGD")]
    assert lr["y"][0] == np.float32(0.05) and lr["y"][-1] < lr["y"][0]  # the schedule
    assert len(tables[("tiny/version_0", "train_loss")]["x"]) == 2 * STEPS


def test_other_ranks_never_open_the_store(tmp_path: Path, monkeypatch) -> None:
    from lightning.pytorch.utilities import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)  # what DDP sets on a non-zero rank
    lg = StreamvisLogger(name="ddp", path=str(tmp_path / "r.svl"))
    lg.log_hyperparams({"lr": 1.0})
    lg.log_metrics({"loss": 1.0}, step=0)
    lg.save()
    lg.finalize("success")
    assert not (tmp_path / "r.svl").exists()


def test_system_metrics_sampled_through_the_fit_at_lightnings_steps(tmp_path: Path) -> None:
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)),
                                       batch_size=2)
    ours = StreamvisLogger(name="sys", path=str(tmp_path / "s.svl"), system_metrics=0.05)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=ours,
                        log_every_n_steps=1, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=str(tmp_path))
    trainer.fit(Tiny(), data)
    assert ours._runs is None  # finalize closed the run: its sampler with it
    assert not [t for t in threading.enumerate() if t.name.startswith("streamvis-system")]
    tables, _ = read_log(tmp_path / "s.svl")
    names = {n for s, n in tables if s == "sys"}
    assert {"sys/cpu_percent", "sys/memory_percent", "sys/process_rss_bytes"} <= names
    steps = tables[("sys", "train_loss")]["x"].tolist()
    sampled = tables[("sys", "sys/memory_percent")]["x"].tolist()
    assert sampled[-1] == steps[-1]  # the last sample, at finalize, is at the last step
    assert set(sampled) - set(steps) <= set(range(len(sampled)))  # else sample numbers


@pytest.mark.parametrize("value", [0, -2.0, "fast"])
def test_a_bad_system_metrics_value_is_refused_at_construction(value) -> None:
    from streamvis.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="system_metrics.*" + repr(value)):
        StreamvisLogger(name="bad", system_metrics=value)


def test_other_ranks_never_sample(tmp_path: Path, monkeypatch) -> None:
    from lightning.pytorch.utilities import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)  # what DDP sets on a non-zero rank
    lg = StreamvisLogger(name="ddp", path=str(tmp_path / "r.svl"), system_metrics=0.05)
    lg.log_graph(torch.nn.Linear(1, 1))  # the start of a fit
    lg.log_metrics({"loss": 1.0}, step=0)
    assert not [t for t in threading.enumerate() if t.name.startswith("streamvis-system")]
    lg.finalize("success")
    assert not (tmp_path / "r.svl").exists()


def test_sampling_starts_with_the_fit(tmp_path: Path) -> None:
    """Lightning calls log_graph at the start of every fit: sampling starts there, even
    for a model without hyperparameters and before the first logged step."""
    lg = StreamvisLogger(name="start", path=str(tmp_path / "g.svl"), system_metrics=0.05)
    lg.log_graph(torch.nn.Linear(1, 1))
    assert [t for t in threading.enumerate() if t.name.startswith("streamvis-system")]
    lg.finalize("success")
    tables, _ = read_log(tmp_path / "g.svl")
    assert tables[("start", "sys/memory_percent")]["x"].tolist()[0] == 0  # sample number 0
