"""Logging from training programs: ``DataLogger`` (see ``streamvis.logger.logger``)."""

from __future__ import annotations

from streamvis.logger.logger import DataLogger

__all__ = ["DataLogger"]
