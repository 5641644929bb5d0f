"""``StreamvisError`` <-> gRPC status, both directions, in this one place.

The server turns an error into a status code plus its message, and puts the exact
error ``code`` in the trailing metadata (``streamvis-error-code``); the client turns
it back into the same error class (``errors.error_for_code``), falling back to the
status code alone when the metadata is missing (a proxy, another implementation).

    InvalidArgumentError, SchemaMismatchError, ReservedNameError -> INVALID_ARGUMENT
    NotFoundError, LogNotFoundError                              -> NOT_FOUND
    CorruptDataError                                             -> DATA_LOSS
    CursorResetError                                             -> FAILED_PRECONDITION
    StorageIOError                                               -> INTERNAL
    ConflictError                                                -> ABORTED
    UnavailableError                                             -> UNAVAILABLE
    UnauthenticatedError                                         -> UNAUTHENTICATED
    VersionMismatchError                                         -> FAILED_PRECONDITION
    any other error                                              -> INTERNAL
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from streamvis import errors as E

__all__ = ["ERROR_CODE_KEY", "status_for", "trailing_metadata", "error_from_rpc"]

ERROR_CODE_KEY = "streamvis-error-code"

_STATUS_OF_CODE: dict[str, grpc.StatusCode] = {
    E.InvalidArgumentError.code: grpc.StatusCode.INVALID_ARGUMENT,
    E.SchemaMismatchError.code: grpc.StatusCode.INVALID_ARGUMENT,
    E.ReservedNameError.code: grpc.StatusCode.INVALID_ARGUMENT,
    E.NotFoundError.code: grpc.StatusCode.NOT_FOUND,
    E.LogNotFoundError.code: grpc.StatusCode.NOT_FOUND,
    E.CorruptDataError.code: grpc.StatusCode.DATA_LOSS,
    E.CursorResetError.code: grpc.StatusCode.FAILED_PRECONDITION,
    E.StorageIOError.code: grpc.StatusCode.INTERNAL,
    E.ConflictError.code: grpc.StatusCode.ABORTED,
    E.UnavailableError.code: grpc.StatusCode.UNAVAILABLE,
    E.UnauthenticatedError.code: grpc.StatusCode.UNAUTHENTICATED,
    E.VersionMismatchError.code: grpc.StatusCode.FAILED_PRECONDITION,
}

_ERROR_OF_STATUS: dict[grpc.StatusCode, type[E.StreamvisError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: E.InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: E.InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: E.NotFoundError,
    grpc.StatusCode.DATA_LOSS: E.CorruptDataError,
    grpc.StatusCode.FAILED_PRECONDITION: E.CursorResetError,
    grpc.StatusCode.ABORTED: E.ConflictError,
    grpc.StatusCode.UNAVAILABLE: E.UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: E.UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: E.UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: E.UnauthenticatedError,
}


def status_for(exc: BaseException) -> grpc.StatusCode:
    """The status code a server answers with for ``exc``."""
    if isinstance(exc, E.StreamvisError):
        return _STATUS_OF_CODE.get(exc.code, grpc.StatusCode.INTERNAL)
    return grpc.StatusCode.INTERNAL


def trailing_metadata(exc: BaseException) -> tuple[tuple[str, str], ...]:
    """Trailing metadata naming the exact error class."""
    code = exc.code if isinstance(exc, E.StreamvisError) else E.StreamvisError.code
    return ((ERROR_CODE_KEY, code),)


def _metadata_code(metadata: Sequence[Any] | None) -> str | None:
    for item in metadata or ():
        key, value = (item.key, item.value) if hasattr(item, "key") else item
        if key == ERROR_CODE_KEY:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def error_from_rpc(exc: grpc.RpcError, uri: str = "") -> E.StreamvisError:
    """The ``StreamvisError`` a failed call stands for (raise it ``from None``)."""
    code: grpc.StatusCode | None = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    metadata = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    ecode = _metadata_code(metadata)  # type: ignore[arg-type]
    if ecode is not None:
        cls = E.error_for_code(ecode)
    else:
        cls = _ERROR_OF_STATUS.get(code, E.StreamvisError) if code else E.StreamvisError
    if cls is E.UnavailableError and ecode is None:
        where = f" at {uri}" if uri else ""
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return E.UnavailableError(f"data server{where} did not answer in time ({details})")
        from streamvis.server.reach import unreachable_hint

        hint = unreachable_hint(uri, details) if uri else ""
        return E.UnavailableError(
            f"data server{where} is unavailable: {details}" + (f"; {hint}" if hint else "")
        )
    if cls is E.CorruptDataError:
        return E.CorruptDataError(details)
    return cls(details)
