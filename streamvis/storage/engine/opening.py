"""Opening a log: the backend for a path or URL."""

from __future__ import annotations

from streamvis.storage.backend import LogBackend
from streamvis.storage.local.log_file import LocalLog
from streamvis.storage.objects.segments import SegmentLog

__all__ = ["open_backend"]


def open_backend(path: str, storage_options: dict | None = None) -> LogBackend:
    """The backend for a local path, ``file://`` URL or other fsspec URL."""
    if path.startswith("file://"):
        return LocalLog(path[len("file://") :])
    if "://" in path:
        return SegmentLog(path, storage_options or {})
    return LocalLog(path)
