"""Never replace bytes we did not write: is the file at one of our paths ours?

Before streamvis creates or replaces a file (the log, its index, its lock, a
quarantine file, compaction's output, an export's Parquet file) it checks that the
file is absent, empty, or carries our mark:

* the log (and compaction's output): a valid streamvis header frame at its start;
* the index: our trailer magic at its end, or (an index of ours cut short) Arrow's
  file magic at its start with our ``streamvis`` metadata after it. An index with our
  mark but a bad checksum is ours: it is rebuilt from the log, as always;
* the lock: empty (older versions), starting with ``LOCK_MAGIC``, or a start of it;
* an export's Parquet file: our ``streamvis.scope`` key in its schema metadata.

Anything else raises ``ForeignFileError`` naming the file, or ``LegacyFormatError``
when it is a file of the original streamvis (``PREFIX.log``/``PREFIX.idx``), and
nothing is written. A directory at one of these paths is refused the same way; a
TensorBoard log directory (event files in it or below) gets the command that imports
it. The checks read a file's first 64 KiB and last bytes only.
"""

from __future__ import annotations

import os
import stat

from google.protobuf.message import DecodeError

from streamvis.errors import ForeignFileError, LegacyFormatError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.format.framing import scan_frames
from streamvis.storage.format.legacy_records import INDEX_KINDS, LOG_KINDS, looks_legacy

__all__ = [
    "INDEX_TRAILER_MAGIC",
    "LOCK_MAGIC",
    "check_index_bytes",
    "check_local_files",
    "check_local_log",
    "check_log_file",
    "check_index_file",
    "is_our_index",
    "is_our_log",
    "foreign_error",
    "legacy_error",
    "directory_error",
    "is_tensorboard_dir",
]

INDEX_TRAILER_MAGIC = b"SVIDXC1\n"  # the last bytes of every index we write
LOCK_MAGIC = b"streamvis lock file: appenders hold an flock on it\n"
SNIFF_BYTES = 64 << 10
TB_EVENT_PREFIX = "events.out.tfevents."
_ARROW_MAGIC = b"ARROW1\x00\x00"


def is_our_log(head: bytes) -> bool:
    """Does a log (or segment-log header object) start with our header frame?"""
    for frame in scan_frames(head, 0):
        try:
            rec = pb.Record.FromString(frame.payload)
        except DecodeError:
            return False
        return rec.WhichOneof("body") == "header"
    return False


def _holds_our_frames(head: bytes) -> bool:
    """Is there a valid frame holding one of our records anywhere in ``head``? (A log
    of ours whose header was damaged: that is corruption, reported as such on open.)"""
    view = memoryview(head)
    for pos in range(1, max(0, len(head) - 12)):
        for frame in scan_frames(view[pos:], pos):
            try:
                pb.Record.FromString(frame.payload)
            except DecodeError:
                break
            return True
    return False


def is_our_index(head: bytes, tail: bytes) -> bool:
    """Is this index ours (``head``: its first bytes; ``tail``: its last bytes)?"""
    if tail.endswith(INDEX_TRAILER_MAGIC):
        return True
    return head.startswith(_ARROW_MAGIC) and b"streamvis" in head


def _read_ends(path: str, role: str = "log") -> tuple[bytes, bytes, int] | None:
    """(first 64 KiB, last 8 bytes, size) of a file, None when there is none; a
    directory there is refused (``directory_error``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise directory_error(path, role) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):  # Linux opens a directory O_RDONLY; reads then fail
            raise directory_error(path, role)
        size = st.st_size
        head = os.pread(fd, SNIFF_BYTES, 0)
        tail = os.pread(fd, len(INDEX_TRAILER_MAGIC), max(0, size - len(INDEX_TRAILER_MAGIC)))
        return head, tail, size
    finally:
        os.close(fd)


def _is_event_file(name: str) -> bool:
    return name.startswith(TB_EVENT_PREFIX)


def is_tensorboard_dir(path: str, limit: int = 10_000) -> bool:
    """Does the directory ``path`` hold TensorBoard event files (``events.out.tfevents.*``),
    directly or in subdirectories? Looks at no more than ``limit`` entries."""
    seen = 0
    for _root, dirs, files in os.walk(path):
        if any(map(_is_event_file, files)):
            return True
        seen += len(dirs) + len(files)
        if seen > limit:
            return False
        dirs.sort()
    return False


def directory_error(path: str, role: str = "log") -> ForeignFileError:
    """The error for a directory where the log (``role``: "log"), its index ("index") or
    its lock ("lock file") should be; for a TensorBoard log directory, how to import it."""
    if role != "log":
        return ForeignFileError(
            f"{path} is a directory where streamvis keeps the log's {role}: move it "
            "elsewhere, or choose another PATH",
            path=path,
        )
    if is_tensorboard_dir(path):
        return ForeignFileError(
            f"{path}: this is a TensorBoard log directory: import it with "
            f"`streamvis import-tb {path} LOG` and give LOG (a file) instead",
            path=path,
        )
    return ForeignFileError(
        f"{path} is a directory, not a streamvis log: give the path of a log file "
        f"(e.g. {os.path.join(path, 'runs.svl')})",
        path=path,
    )


def _prefix_of(path: str) -> str:
    return path[:-4] if path.endswith((".log", ".idx")) else path


def foreign_error(path: str, what: str) -> ForeignFileError:
    return ForeignFileError(
        f"{path} exists and was not written by streamvis (it is not {what}); streamvis "
        "never replaces a file it did not write, and wrote nothing: move that file "
        "elsewhere, or choose another PATH",
        path=path,
    )


def legacy_error(path: str, prefix: str | None = None) -> LegacyFormatError:
    prefix = prefix if prefix is not None else _prefix_of(path)
    return LegacyFormatError(
        f"{path} is a file of the original streamvis (the 2025 Bokeh + gRPC format "
        f"that kept {prefix}.log and {prefix}.idx), which this streamvis neither reads "
        f"nor replaces; nothing was written: convert it with "
        f"`streamvis import-legacy {prefix} NEW_LOG_PATH`, or choose another PATH",
        path=path,
    )


def check_log_file(path: str, what: str = "a streamvis log") -> None:
    """Refuse a non-empty file at ``path`` that does not start with our header."""
    ends = _read_ends(path)
    if ends is None or ends[2] == 0 or is_our_log(ends[0]):
        return
    if _is_event_file(os.path.basename(path)):
        raise ForeignFileError(
            f"{path} is a TensorBoard event file, not a streamvis log: import its "
            f"directory with `streamvis import-tb {os.path.dirname(path) or '.'} LOG`",
            path=path,
        )
    if looks_legacy(ends[0], ends[2]):
        raise legacy_error(path)
    if _holds_our_frames(ends[0]):
        return  # ours, with a damaged header: opening it reports the corruption
    raise foreign_error(path, what)


def check_index_file(path: str) -> None:
    """Refuse a non-empty file at ``path`` that is not an index of ours."""
    ends = _read_ends(path, "index")
    if ends is None or ends[2] == 0 or is_our_index(ends[0], ends[1]):
        return
    if looks_legacy(ends[0], ends[2], INDEX_KINDS):
        raise legacy_error(path)
    raise foreign_error(path, "a streamvis index")


def check_lock_file(path: str) -> None:
    """Refuse a non-empty file at ``path`` that is not our lock file."""
    ends = _read_ends(path, "lock file")
    if ends is None or ends[0].startswith(LOCK_MAGIC) or LOCK_MAGIC.startswith(ends[0]):
        return  # absent, ours, or ours cut short (a crash as it was created)
    raise foreign_error(path, "a streamvis lock file")


def check_local_log(log_path: str) -> None:
    """The log at ``log_path`` is absent, empty or ours. When it is absent and
    ``PATH.log``/``PATH.idx`` hold the original streamvis's records, PATH was meant as
    that streamvis's data prefix: LegacyFormatError says so."""
    if os.path.lexists(log_path):
        check_log_file(log_path)
        return
    for legacy, kinds in ((log_path + ".log", LOG_KINDS), (log_path + ".idx", INDEX_KINDS)):
        ends = _read_ends(legacy) if os.path.isfile(legacy) else None
        if ends is not None and looks_legacy(ends[0], ends[2], kinds):
            raise legacy_error(legacy, log_path)


def check_local_files(log_path: str, index_path: str, lock_path: str) -> None:
    """Before opening a local log: the log, its index and its lock are each absent,
    empty or ours (``check_local_log`` for the log)."""
    check_local_log(log_path)
    check_index_file(index_path)
    check_lock_file(lock_path)


def check_index_bytes(where: str, data: bytes | None) -> None:
    """An index object read whole (object stores): refuse it when it is not ours."""
    if data and not is_our_index(data[:SNIFF_BYTES], data[-len(INDEX_TRAILER_MAGIC) :]):
        raise foreign_error(where, "a streamvis index")
