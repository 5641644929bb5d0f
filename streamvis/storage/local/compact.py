"""Compaction: rewrite a log without tombstoned data, each group's points contiguous.

The new log is written beside the old one under the writer lock, with the same log
id and the next generation, the old one's mode (and owner, where allowed), then renamed
over it. A symlink is followed: its target is replaced, in the target's directory, and
the link stays. A log that may not be written (read-only mode bits, not writable by
us, or in a read-only directory) is refused: compaction would replace it.

Readers holding the old file keep reading it undisturbed; on their next refresh they
see the new generation, and a cursor from the old one gets ``CursorResetError``
instead of wrong data. Writers' last sequence numbers are carried over, so a retry
after compaction is still recognised as a duplicate.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from streamvis.errors import InvalidArgumentError, StorageIOError, StreamvisError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LogBackend
from streamvis.storage.format.framing import encode_frame
from streamvis.storage.format.media import read_media_records
from streamvis.storage.format.model import ConfigUpdate, Points
from streamvis.storage.format.ownership import check_log_file
from streamvis.storage.format.records import encode_batch, header_payload, normalize_items
from streamvis.storage.format.scan import ScanOutcome
from streamvis.storage.format.state import LogState
from streamvis.storage.local.log_file import LocalLog
from streamvis.storage.read.reading import read_entries
from streamvis.storage.read.tail_reading import TableBuilder

__all__ = ["CompactStats", "CompactableStore", "compact_file"]


class _Followed(Protocol):
    @property
    def state(self) -> LogState: ...
    def catch_up(self) -> ScanOutcome: ...


class CompactableStore(Protocol):
    """What the rewrite needs of a read-only ``Store`` (``streamvis.storage.engine.store``)."""

    @property
    def backend(self) -> LogBackend: ...
    @property
    def log(self) -> _Followed: ...
    @property
    def log_id(self) -> bytes: ...
    @property
    def generation(self) -> int: ...
    def refresh(self) -> None: ...
    def save_index(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class CompactStats:
    bytes_before: int
    bytes_after: int
    groups: int
    points: int
    generation: int
    objects_before: int | None = None  # object stores: what a fresh reader opens
    objects_after: int | None = None


def compact_file(
    path: str,
    open_reader: Callable[[str], CompactableStore],
    progress: Callable[[int, int], None] | None = None,
) -> CompactStats:
    """Rewrite the local log at ``path``, read through ``open_reader(path)`` (a read-only
    Store); ``progress(done, total)`` is called per group
    (``streamvis.storage.compaction.compact`` takes any log)."""
    store = open_reader(path)
    backend = store.backend
    if not isinstance(backend, LocalLog):
        store.close()
        raise InvalidArgumentError(
            f"compaction of object-store logs ({path}) is not supported yet; only local files"
        )
    try:
        st = _check_writable(backend.path)
    except StorageIOError:
        store.close()
        raise
    if backend.is_empty():  # an empty log: nothing to rewrite
        store.close()
        return CompactStats(0, 0, 0, 0, store.generation)
    tmp = backend.path + ".compact-tmp"  # beside the file itself (a symlink's target)
    compactor = os.urandom(8)
    created = False
    try:
        # a leftover of ours (a compaction that crashed) is replaced; anything else is refused
        check_log_file(tmp, "the output of a streamvis compaction")
        with backend.writer_lock():
            store.refresh()
            tail = store.log.catch_up().tail  # rescans only the tail
            if tail is not None:
                backend.discard_tail(*tail)  # a crashed writer's bytes: quarantined
            state = store.log.state
            before = os.path.getsize(backend.path)
            groups = list(state.iter_groups())
            total_points = 0
            seq = 0
            if os.path.lexists(tmp):
                check_log_file(tmp, "the output of a streamvis compaction")
                os.unlink(tmp)
            with open(tmp, "xb") as out:
                created = True
                out.write(encode_frame(header_payload(store.log_id, store.generation + 1)))
                for scope, sst in state.scopes.items():
                    if sst.config is not None:
                        seq += 1
                        _write_batch(out, [ConfigUpdate(scope, sst.config)], compactor, seq)
                for done, (scope, name, index, _ns, _grp) in enumerate(groups, 1):
                    res = _read_group(store, scope, name, index)
                    if res is not None:
                        seq += 1
                        total_points += len(next(iter(res.values())))
                        _write_batch(out, [Points(scope, name, index, res)], compactor, seq)
                    if progress:
                        progress(done, len(groups))
                for mn in list(state.media.values()):  # images and texts, as stored
                    for rec in read_media_records(backend, [mn.steps[s] for s in sorted(mn.steps)]):
                        seq += 1
                        out.write(encode_frame(rec.SerializeToString()))
                        done_rec = pb.Record(writer_id=compactor, seq=seq, commit=pb.Commit(record_count=1))
                        out.write(encode_frame(done_rec.SerializeToString()))
                for writer, last in state.writers.items():
                    rec = pb.Record(writer_id=writer, seq=last, commit=pb.Commit(record_count=0))
                    out.write(encode_frame(rec.SerializeToString()))
                out.flush()
                _keep_owner_and_mode(out.fileno(), st)
                os.fsync(out.fileno())
            backend.replace_log(tmp)
            after = os.path.getsize(backend.path)
            generation = store.generation + 1
    except OSError as exc:
        if isinstance(exc, StreamvisError):  # ForeignFileError, StorageIOError: as they are
            raise
        raise StorageIOError(f"compaction of {path} failed: {exc.strerror or exc}") from exc
    finally:
        store.close()
        if created and os.path.exists(tmp):
            os.unlink(tmp)
    fresh = open_reader(path)
    try:
        fresh.save_index()
    finally:
        fresh.close()
    return CompactStats(before, after, len(groups), total_points, generation)


def _check_writable(path: str) -> os.stat_result:
    """The log's stat, or StorageIOError when compaction may not replace it: the file is
    read-only (no write bit, or not writable by us) or its directory is."""
    st = os.stat(path)
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise StorageIOError(
            f"cannot compact {path}: it is read-only (mode {stat.S_IMODE(st.st_mode):04o}) and "
            "compaction rewrites it; make it writable first (chmod u+w) if it may change"
        )
    folder = os.path.dirname(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageIOError(
            f"cannot compact {path}: its directory {folder} is not writable (compaction "
            "writes the new log beside the old one)"
        )
    return st


def _keep_owner_and_mode(fd: int, st: os.stat_result) -> None:
    """Give the rewritten log the old one's permission bits (and, where allowed, owner)."""
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.fchown(fd, st.st_uid, st.st_gid)


def _read_group(store: CompactableStore, scope: str, name: str, index: int) -> dict | None:
    grp = store.log.state.scopes[scope].names[name].groups[index]
    builder = TableBuilder()
    for body in read_entries(store.backend, grp.entries):
        builder.add_record(body)
    tables = builder.build()
    if not tables:
        return None
    table = next(iter(tables.values()))
    return {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}


def _write_batch(out, items, writer: bytes, seq: int) -> None:  # type: ignore[no-untyped-def]
    for rec in encode_batch(normalize_items(items, limits=False), writer, seq):
        out.write(encode_frame(rec.payload))
