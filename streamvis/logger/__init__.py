"""Logging from training programs: ``DataLogger`` (see ``streamvis.logger.logger``) and
``AsyncDataLogger``, the original streamvis's asyncio form of it; with
``system_metrics=``, the machine sampled into ``sys/`` names (``system_metrics.py``)."""

from __future__ import annotations

from streamvis.logger.async_logger import AsyncDataLogger
from streamvis.logger.logger import DataLogger

__all__ = ["AsyncDataLogger", "DataLogger"]
