"""TensorBoard compatibility: a ``SummaryWriter`` that logs to streamvis, and
``streamvis import-tb`` for existing event files (``streamvis.tensorboard.importer``,
which needs the ``tensorboard`` extra for its protos)."""

from __future__ import annotations

from streamvis.tensorboard.writer import SummaryWriter, UnsupportedSummaryError

__all__ = ["SummaryWriter", "UnsupportedSummaryError"]
