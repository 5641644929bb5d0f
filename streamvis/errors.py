"""The errors streamvis raises, as one tree.

Every error a user can act on is a ``StreamvisError``. Subclasses also inherit the
matching built-in where one exists, so ``except FileNotFoundError`` or
``except ValueError`` keep working::

    StreamvisError
    ├── InvalidArgumentError (ValueError)      bad input: a value, a shape, a pattern
    │   ├── SchemaMismatchError                columns/dtypes differ from a name's schema
    │   └── ReservedNameError                  'scope', 'name' or 'index' used as a column
    ├── NotFoundError (LookupError)            unknown scope or name
    │   └── LogNotFoundError (FileNotFoundError)  no log at the path
    ├── CorruptDataError                       a checksum or structure failed; names the offset
    ├── CursorResetError                       the cursor predates a compaction: read from scratch
    ├── StorageIOError (OSError)               the byte store failed (disk full, I/O error)
    ├── ConflictError                          a concurrent writer won a race (segment exists)
    ├── ForeignFileError (FileExistsError)     a file streamvis would create or replace is not ours
    │   └── LegacyFormatError                  ... it is the original streamvis's PREFIX.log/.idx
    ├── UnavailableError (ConnectionError)     the data server cannot be reached
    ├── UnauthenticatedError (PermissionError) a missing or wrong token
    └── VersionMismatchError                   client and data server speak different versions

Each error carries ``code``, a short name used to translate it at the edges
(gRPC status codes, CLI exit messages, web page messages), once, in one place.
"""

from __future__ import annotations

__all__ = [
    "StreamvisError",
    "InvalidArgumentError",
    "SchemaMismatchError",
    "ReservedNameError",
    "NotFoundError",
    "LogNotFoundError",
    "CorruptDataError",
    "CursorResetError",
    "StorageIOError",
    "ConflictError",
    "ForeignFileError",
    "LegacyFormatError",
    "UnavailableError",
    "UnauthenticatedError",
    "VersionMismatchError",
    "error_for_code",
]


class StreamvisError(Exception):
    """Base of every error streamvis raises on purpose."""

    code = "internal"


class InvalidArgumentError(StreamvisError, ValueError):
    """A value given by the caller is not acceptable; the message says what is."""

    code = "invalid_argument"


class SchemaMismatchError(InvalidArgumentError):
    """A write's columns or dtypes differ from the ones fixed by the name's first write."""

    code = "schema_mismatch"


class ReservedNameError(InvalidArgumentError):
    """A column is named like a key field ('scope', 'name', 'index')."""

    code = "reserved_name"


class NotFoundError(StreamvisError, LookupError):
    """A scope or name that the store does not hold."""

    code = "not_found"


class LogNotFoundError(NotFoundError, FileNotFoundError):
    """No log exists at the given path."""

    code = "log_not_found"


class CorruptDataError(StreamvisError):
    """Stored bytes failed a checksum or do not decode; the message names the offset."""

    code = "corrupt_data"

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


class CursorResetError(StreamvisError):
    """The cursor belongs to an older generation of the log (before a compaction)."""

    code = "cursor_reset"


class StorageIOError(StreamvisError, OSError):
    """The underlying byte store failed: disk full, permission, network file system."""

    code = "storage_io"


class ConflictError(StreamvisError):
    """Another writer created the same object first."""

    code = "conflict"


class ForeignFileError(StreamvisError, FileExistsError):
    """A file at a path streamvis would create or replace exists and was not written by
    streamvis: nothing was written; the message names the file and what to do."""

    code = "foreign_file"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class LegacyFormatError(ForeignFileError):
    """The file is in the format of the original streamvis (``PREFIX.log`` and
    ``PREFIX.idx`` of its 2025 Bokeh + gRPC era): convert it with
    ``streamvis import-legacy PREFIX PATH``."""

    code = "legacy_format"


class UnavailableError(StreamvisError, ConnectionError):
    """The data server could not be reached."""

    code = "unavailable"


class UnauthenticatedError(StreamvisError, PermissionError):
    """The call carried no token or a wrong one."""

    code = "unauthenticated"


class VersionMismatchError(StreamvisError):
    """The client and the data server run streamvis versions that cannot talk (the
    message names both sides' data protocol)."""

    code = "version_mismatch"


_BY_CODE: dict[str, type[StreamvisError]] = {
    cls.code: cls
    for cls in (
        StreamvisError,
        InvalidArgumentError,
        SchemaMismatchError,
        ReservedNameError,
        NotFoundError,
        LogNotFoundError,
        CorruptDataError,
        CursorResetError,
        StorageIOError,
        ConflictError,
        ForeignFileError,
        LegacyFormatError,
        UnavailableError,
        UnauthenticatedError,
        VersionMismatchError,
    )
}


def error_for_code(code: str) -> type[StreamvisError]:
    """The error class for a ``code`` string (``StreamvisError`` when unknown)."""
    return _BY_CODE.get(code, StreamvisError)
