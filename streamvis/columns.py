"""Column names with a meaning shared across streamvis (one place to change them).

``WALL_TIME_COLUMN``: seconds since the epoch (float64) at which each point was
logged, stored beside the step (``x``) and value (``y``) of the same group, as
TensorBoard's ``Event.wall_time``. The SummaryWriter, the integrations and
``streamvis import-tb`` fill it.
"""

from __future__ import annotations

__all__ = ["WALL_TIME_COLUMN", "STEP_COLUMN", "VALUE_COLUMN"]

WALL_TIME_COLUMN = "wall_time"
STEP_COLUMN = "x"
VALUE_COLUMN = "y"
