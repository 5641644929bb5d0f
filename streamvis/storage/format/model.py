"""The values that cross the storage API: what is appended and what is read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "Points",
    "ConfigUpdate",
    "Deletion",
    "Image",
    "Text",
    "Item",
    "MediaInfo",
    "GroupInfo",
    "GroupSnapshot",
    "ReadResult",
    "ArraysRead",
    "AppendResult",
]


@dataclass(frozen=True)
class Points:
    """Points of one group: 1-D columns of equal length."""

    scope: str
    name: str
    index: int
    columns: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class ConfigUpdate:
    """A scope's config (JSON-serialisable); replaces the previous one."""

    scope: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Deletion:
    """Hide everything logged so far under ``scope`` (or only ``scope``/``name``)."""

    scope: str
    name: str | None = None


@dataclass(frozen=True)
class Image:
    """One PNG image of (scope, name) at ``step``; ``wall_time``: when it was logged."""

    scope: str
    name: str
    step: int
    png: bytes
    wall_time: float


@dataclass(frozen=True)
class Text:
    """One text of (scope, name) at ``step``; ``wall_time``: when it was logged."""

    scope: str
    name: str
    step: int
    text: str
    wall_time: float


Item = Points | ConfigUpdate | Deletion | Image | Text


@dataclass(frozen=True)
class MediaInfo:
    """An image or text name (``kind``) and its steps, in step order."""

    scope: str
    name: str
    kind: str
    steps: tuple[int, ...]


@dataclass(frozen=True)
class GroupInfo:
    """A live group: its key, point count and the range of its x column."""

    scope: str
    name: str
    index: int
    count: int
    x_min: float
    x_max: float


@dataclass
class GroupSnapshot:
    """Every matching live group and the cursor of the same state of the log."""

    groups: list[GroupInfo]
    cursor: str


@dataclass
class ReadResult:
    """What a read returns.

    ``tables`` has one Arrow table per (scope, name): an int64 ``index`` column, then
    the data columns. ``deleted`` lists the tombstones passed since the ``since``
    cursor: a live reader drops what they cover before appending ``tables``.
    """

    tables: dict[tuple[str, str], pa.Table]
    cursor: str
    deleted: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def num_points(self) -> int:
        """Total rows over all tables."""
        return sum(t.num_rows for t in self.tables.values())


@dataclass
class ArraysRead:
    """A read since a cursor as numpy arrays, without an Arrow table per (scope, name).

    ``groups`` maps (scope, name, index) to that group's columns in the log's dtypes
    (read-only: one read is shared by a page's poll and the books that follow it):
    a ``ReadResult`` table split by index (a name's indices in order, each index's rows
    in log order), groups without rows left out. What a live page draws from; building
    and splitting a table per run cost more than decoding a poll's few points.
    """

    groups: dict[tuple[str, str, int], dict[str, np.ndarray]]
    cursor: str
    deleted: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def num_points(self) -> int:
        """Total rows over all groups."""
        return sum(len(next(iter(c.values()))) for c in self.groups.values() if c)


@dataclass(frozen=True)
class AppendResult:
    """``duplicate`` is True when the batch's (writer_id, seq) was already stored."""

    duplicate: bool
    cursor: str
