"""``StreamvisLogger``: a PyTorch Lightning logger that logs to streamvis.

    from streamvis.integrations.lightning import StreamvisLogger
    trainer = lightning.Trainer(logger=StreamvisLogger(name="mnist", path="runs.svl"))

The run (scope) is ``name``, or ``name/version_<N>`` (``name/<version>`` for a
string) when a ``version`` is given, as TensorBoard's logger lays out its runs.
Metrics are scalars at Lightning's step with the wall time of the call; the
hyperparameters are the run's config. Only the global rank zero process logs
(DDP): the others never open the store.

``system_metrics=True`` (or a number of seconds; default 10) also logs the machine's
CPU, memory, disk, network and GPUs under ``sys/`` from rank zero, from the start of
the fit to ``finalize`` (``streamvis.logger.system_metrics``).
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only

from streamvis.logger.system_metrics import sampling_interval
from streamvis.scalar_log import RunLog, RunSet, json_config

__all__ = ["StreamvisLogger"]


class StreamvisLogger(Logger):
    """Log Lightning metrics and hyperparameters to a streamvis log (``path``) or data
    server (``grpc_uri``; ``token``/``tls_ca``); with neither, the default local log."""

    def __init__(self, name: str = "lightning_logs", version: int | str | None = None, *,
                 path: str | os.PathLike[str] | None = None, grpc_uri: str | None = None,
                 token: str | None = None, tls_ca: str | None = None,
                 flush_every: float = 1.0, delete_existing: bool = False,
                 prefix: str = "", system_metrics: bool | float = False) -> None:
        super().__init__()
        self._system_metrics = sampling_interval(system_metrics)  # a bad value fails here
        self._name = name
        self._version = version
        self._prefix = prefix
        self._open: dict[str, Any] = {"path": path, "grpc_uri": grpc_uri, "token": token, "tls_ca": tls_ca,
                      "flush_every": flush_every, "delete_existing": delete_existing}
        self._runs: RunSet | None = None
        self._run: RunLog | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str | None:
        return self._version

    @property
    def scope(self) -> str:
        """The streamvis scope this logger writes to."""
        v = self._version
        if v is None:
            return self._name
        return f"{self._name}/version_{v}" if isinstance(v, int) else f"{self._name}/{v}"

    @property
    def experiment(self) -> RunLog:
        """The run being logged (opened on first use, on rank zero only)."""
        if self._run is None:
            self._runs = RunSet(**self._open)
            self._run = self._runs.run(self.scope, system_metrics=self._system_metrics)
            self._open["delete_existing"] = False  # a reopened run appends
        return self._run

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        run = self.experiment
        for key, value in metrics.items():
            run.scalar(self._prefix + key, value, step)

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None, *args: Any,
                        **kwargs: Any) -> None:
        if isinstance(params, Namespace):
            params = vars(params)
        self.experiment.update_config(json_config(params or {}))

    @rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Called at the start of a fit: sampling the machine starts here."""
        if self._system_metrics is not None:
            self.experiment  # noqa: B018 - opens the run

    @rank_zero_only
    def save(self) -> None:
        if self._runs is not None:
            self._runs.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._runs is not None:
            self._runs.close()
            self._runs = None
            self._run = None
