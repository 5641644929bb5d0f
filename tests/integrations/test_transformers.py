"""A real transformers.Trainer.train logging through StreamvisCallback: a tiny model
built from a config, random data, CPU, nothing downloaded. The Trainer's own
``state.log_history`` is the reference for values and steps."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tests.tensorboard.tb_support import read_log

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from streamvis.integrations.transformers import StreamvisCallback  # noqa: E402

STEPS = 6


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, n: int, vocab: int, length: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, length), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def test_train_logs_loss_and_lr_at_global_steps(tmp_path: Path) -> None:
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1,
                                     n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, max_steps=STEPS,
        logging_steps=1, per_device_train_batch_size=2, learning_rate=1e-3,
        lr_scheduler_type="linear", save_strategy="no", disable_tqdm=True, run_name="hf-tiny",
        dataloader_num_workers=0)
    callback = StreamvisCallback(path=str(tmp_path / "hf.svl"))
    trainer = transformers.Trainer(model=model, args=args,
                                   train_dataset=RandomTokens(32, 64, 8),
                                   eval_dataset=RandomTokens(4, 64, 8), callbacks=[callback])
    trainer.train()
    metrics = trainer.evaluate()  # after on_train_end: the run is reopened and appended to

    history = [h for h in trainer.state.log_history if "loss" in h]
    assert [h["step"] for h in history] == list(range(1, STEPS + 1))
    tables, configs = read_log(tmp_path / "hf.svl")
    loss = tables[("hf-tiny", "loss")]
    lr = tables[("hf-tiny", "learning_rate")]
    assert loss["x"].tolist() == [h["step"] for h in history]
    assert lr["x"].tolist() == [h["step"] for h in history]
    np.testing.assert_array_equal(loss["y"], np.array([h["loss"] for h in history], np.float32))
    np.testing.assert_array_equal(lr["y"], np.array([h["learning_rate"] for h in history],
                                                    np.float32))
    assert lr["y"][0] > lr["y"][-1]  # the linear decay
    assert "train_runtime" in {n for s, n in tables if s == "hf-tiny"}
    ev = tables[("hf-tiny", "eval_loss")]
    assert ev["x"].tolist() == [STEPS] and ev["y"][0] == np.float32(metrics["eval_loss"])
    cfg = configs["hf-tiny"]
    assert cfg["args"]["learning_rate"] == 1e-3 and cfg["args"]["max_steps"] == STEPS
    assert cfg["model_config"]["n_embd"] == 16 and cfg["model_config"]["vocab_size"] == 64


def test_only_world_process_zero_logs(tmp_path: Path) -> None:
    state = transformers.TrainerState(is_world_process_zero=False, global_step=3)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none",
                                          use_cpu=True)
    cb = StreamvisCallback(path=str(tmp_path / "z.svl"))
    cb.on_train_begin(args, state, transformers.TrainerControl())
    cb.on_log(args, state, transformers.TrainerControl(), logs={"loss": 1.0})
    cb.on_train_end(args, state, transformers.TrainerControl())
    assert cb.run is None and not (tmp_path / "z.svl").exists()


def test_system_metrics_sampled_while_training_at_global_steps(tmp_path: Path) -> None:
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1,
                                     n_head=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, max_steps=4,
        logging_steps=1, per_device_train_batch_size=2, save_strategy="no", disable_tqdm=True,
        run_name="hf-sys", dataloader_num_workers=0)
    callback = StreamvisCallback(path=str(tmp_path / "sys.svl"), system_metrics=0.05)
    trainer = transformers.Trainer(model=transformers.GPT2LMHeadModel(config), args=args,
                                   train_dataset=RandomTokens(16, 64, 8), callbacks=[callback])
    trainer.train()
    assert callback.run is None  # on_train_end closed the run: its sampler with it
    assert not [t for t in threading.enumerate() if t.name.startswith("streamvis-system")]
    tables, _ = read_log(tmp_path / "sys.svl")
    names = {n for s, n in tables if s == "hf-sys"}
    assert {"sys/cpu_percent", "sys/memory_percent", "sys/process_rss_bytes"} <= names
    sampled = tables[("hf-sys", "sys/memory_percent")]["x"].tolist()
    steps = tables[("hf-sys", "loss")]["x"].tolist()
    assert sampled[-1] == steps[-1] == 4  # the last sample, at on_train_end: the last step
    assert set(sampled) - set(steps) <= set(range(len(sampled)))  # else sample numbers


@pytest.mark.parametrize("value", [0, float("nan"), "10s"])
def test_a_bad_system_metrics_value_is_refused_at_construction(value) -> None:
    from streamvis.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as err:
        StreamvisCallback(system_metrics=value)
    assert "system_metrics" in str(err.value) and repr(value) in str(err.value)


def test_other_processes_never_sample(tmp_path: Path) -> None:
    state = transformers.TrainerState(is_world_process_zero=False, global_step=3)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "o"), report_to="none",
                                          use_cpu=True)
    cb = StreamvisCallback(path=str(tmp_path / "z.svl"), system_metrics=0.05)
    cb.on_train_begin(args, state, transformers.TrainerControl())
    cb.on_log(args, state, transformers.TrainerControl(), logs={"loss": 1.0})
    assert not [t for t in threading.enumerate() if t.name.startswith("streamvis-system")]
    cb.on_train_end(args, state, transformers.TrainerControl())
    assert cb.run is None and not (tmp_path / "z.svl").exists()
