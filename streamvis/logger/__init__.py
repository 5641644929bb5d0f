"""Logging from training programs: ``DataLogger`` (see ``streamvis.logger.logger``) and
``AsyncDataLogger``, the original streamvis's asyncio form of it."""

from __future__ import annotations

from streamvis.logger.async_logger import AsyncDataLogger
from streamvis.logger.logger import DataLogger

__all__ = ["AsyncDataLogger", "DataLogger"]
