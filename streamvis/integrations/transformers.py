"""``StreamvisCallback``: a Hugging Face ``Trainer`` callback that logs to streamvis.

    from streamvis.integrations.transformers import StreamvisCallback
    trainer = Trainer(model, args, train_dataset=ds, callbacks=[StreamvisCallback(path="runs.svl")])

``on_log`` writes every numeric value the Trainer logs (loss, learning_rate,
grad_norm, epoch, eval metrics, ...) as a scalar at ``state.global_step``;
``on_train_begin`` stores the training arguments and the model config as the run's
config (``{"args": ..., "model_config": ...}``). The scope defaults to
``args.run_name`` (else the output directory's name). Only the world process zero
logs. ``on_evaluate`` sends what was logged at once (an ``evaluate()`` after
``train()`` logs into the reopened run).

``system_metrics=True`` (or a number of seconds; default 10) also logs the machine's
CPU, memory, disk, network and GPUs under ``sys/`` from world process zero while its
run is open, from ``on_train_begin`` to ``on_train_end`` (``streamvis.logger.system_metrics``).
"""

from __future__ import annotations

import numbers
import os
from typing import Any

from transformers import TrainerCallback

from streamvis.logger.system_metrics import sampling_interval
from streamvis.scalar_log import RunLog, RunSet, json_config

__all__ = ["StreamvisCallback"]


def _default_scope(args: Any) -> str:
    name = getattr(args, "run_name", None)
    if name:
        return str(name)
    out = getattr(args, "output_dir", None)
    return os.path.basename(os.path.normpath(out)) if out else "trainer"


class StreamvisCallback(TrainerCallback):
    """Log the Trainer's logs to a streamvis log (``path``) or data server
    (``grpc_uri``; ``token``/``tls_ca``); with neither, the default local log."""

    def __init__(self, scope: str | None = None, *, path: str | os.PathLike[str] | None = None,
                 grpc_uri: str | None = None, token: str | None = None,
                 tls_ca: str | None = None, flush_every: float = 1.0,
                 delete_existing: bool = False, system_metrics: bool | float = False) -> None:
        self._scope = scope
        self._system_metrics = sampling_interval(system_metrics)  # a bad value fails here
        self._open: dict[str, Any] = {"path": path, "grpc_uri": grpc_uri, "token": token,
                                      "tls_ca": tls_ca, "flush_every": flush_every,
                                      "delete_existing": delete_existing}
        self._runs: RunSet | None = None
        self._run: RunLog | None = None

    @property
    def run(self) -> RunLog | None:
        """The run being logged (None before training starts or off process zero)."""
        return self._run

    def _ensure(self, args: Any) -> RunLog:
        if self._run is None:
            self._runs = RunSet(**self._open)
            self._run = self._runs.run(self._scope or _default_scope(args),
                                       system_metrics=self._system_metrics)
            self._open["delete_existing"] = False  # a later train() appends
        return self._run

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        run = self._ensure(args)
        config: dict[str, Any] = {"args": json_config(args.to_dict())}
        model_config = getattr(model, "config", None)
        if model_config is not None and hasattr(model_config, "to_dict"):
            config["model_config"] = json_config(model_config.to_dict())
        run.update_config(config)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        run = self._ensure(args)
        step = int(state.global_step)
        for key, value in logs.items():
            if isinstance(value, numbers.Number) and not isinstance(value, bool) or (
                hasattr(value, "numel") and value.numel() == 1
            ):
                run.scalar(str(key), value, step)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # evaluate() after train() logs into a reopened run: send it now, not at exit
        if self._runs is not None:
            self._runs.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._runs is not None:
            self._runs.close()
        self._runs = None
        self._run = None
