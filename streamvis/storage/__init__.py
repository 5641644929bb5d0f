"""The storage engine: a crash-safe append-only log of protobuf records plus an Arrow index.

See ``Store`` for the API and docs/CONTRACTS.md for how the other parts use it.
"""

from streamvis.storage.engine.store import Store
from streamvis.storage.format.model import (
    AppendResult,
    ArraysRead,
    ConfigUpdate,
    Deletion,
    GroupInfo,
    GroupSnapshot,
    Image,
    Item,
    MediaInfo,
    Points,
    ReadResult,
    Text,
)
from streamvis.storage.read.ranges import RangeRequest, RangesResult

__all__ = [
    "Store",
    "Points",
    "ConfigUpdate",
    "Deletion",
    "Image",
    "Text",
    "MediaInfo",
    "Item",
    "GroupInfo",
    "GroupSnapshot",
    "RangeRequest",
    "RangesResult",
    "ReadResult",
    "ArraysRead",
    "AppendResult",
]
