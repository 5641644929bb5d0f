"""Opening a log: the backend for a path or URL, and the check that what is there is ours."""

from __future__ import annotations

from streamvis.storage.backend import LogBackend
from streamvis.storage.format.ownership import (
    check_index_bytes,
    check_local_files,
    foreign_error,
    is_our_log,
)
from streamvis.storage.local.log_file import LocalLog
from streamvis.storage.objects.segments import SegmentLog

__all__ = ["check_ours", "open_backend"]


def open_backend(path: str, storage_options: dict | None = None) -> LogBackend:
    """The backend for a local path, ``file://`` URL or other fsspec URL."""
    if path.startswith("file://"):
        return LocalLog(path[len("file://") :])
    if "://" in path:
        return SegmentLog(path, storage_options or {})
    return LocalLog(path)


def check_ours(backend: LogBackend, mode: str) -> bytes | None:
    """Refuse (ForeignFileError, LegacyFormatError) when a file the store would create
    or replace exists and is not ours. Returns the index bytes when it had to read them
    whole (object stores), so that opening does not fetch them twice. A read-only open
    of an object store writes nothing, so it is not checked (its open reads the header
    and names a prefix of other objects itself)."""
    if isinstance(backend, LocalLog):
        check_local_files(backend.path, backend.index_path, backend.lock_path)
        return None
    if mode == "r":
        return None
    if backend.exists() and not is_our_log(backend.read_header()):
        raise foreign_error(f"{backend.url}/header", "the header of a streamvis log")
    data = backend.read_index()
    check_index_bytes(f"{backend.url}/index.arrow", data)
    return data
