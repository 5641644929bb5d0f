"""Compaction: rewrite a log without tombstoned data, each group's points contiguous.

The new log is written beside the old one under the writer lock, with the same log
id and the next generation, then renamed over it. Readers holding the old file keep
reading it undisturbed; on their next refresh they see the new generation, and a
cursor from the old one gets ``CursorResetError`` instead of wrong data. Writers'
last sequence numbers are carried over, so a retry after compaction is still
recognised as a duplicate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from streamvis.errors import InvalidArgumentError
from streamvis.proto import data_pb2 as pb
from streamvis.storage.backend import LocalLog
from streamvis.storage.framing import encode_frame
from streamvis.storage.model import ConfigUpdate, Points
from streamvis.storage.ownership import check_log_file
from streamvis.storage.records import encode_batch, header_payload, normalize_items
from streamvis.storage.store import Store

__all__ = ["CompactStats", "compact"]


@dataclass(frozen=True)
class CompactStats:
    bytes_before: int
    bytes_after: int
    groups: int
    points: int
    generation: int
    objects_before: int | None = None  # object stores: what a fresh reader opens
    objects_after: int | None = None


def compact(path: str, progress: Callable[[int, int], None] | None = None) -> CompactStats:
    """Rewrite the log at ``path``; ``progress(done, total)`` is called per group."""
    if "://" in path and not path.startswith("file://"):  # object stores: online, by segments
        from streamvis.storage.object_compact import compact_object_log

        return compact_object_log(path, progress=progress)
    store = Store.open(path, "r")
    backend = store.backend
    if not isinstance(backend, LocalLog):
        store.close()
        raise InvalidArgumentError(
            f"compaction of object-store logs ({path}) is not supported yet; only local files"
        )
    tmp = backend.path + ".compact-tmp"
    compactor = os.urandom(8)
    created = False
    try:
        # a leftover of ours (a compaction that crashed) is replaced; anything else is refused
        check_log_file(tmp, "the output of a streamvis compaction")
        with backend.writer_lock():
            store.refresh()
            tail = store._catch_up().tail  # noqa: SLF001 - same package; rescans only the tail
            if tail is not None:
                backend.discard_tail(*tail)  # a crashed writer's bytes: quarantined
            state = store._state  # noqa: SLF001
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
                for scope, st in state.scopes.items():
                    if st.config is not None:
                        seq += 1
                        _write_batch(out, [ConfigUpdate(scope, st.config)], compactor, seq)
                for done, (scope, name, index, _ns, _grp) in enumerate(groups, 1):
                    res = _read_group(store, scope, name, index)
                    if res is not None:
                        seq += 1
                        total_points += len(next(iter(res.values())))
                        _write_batch(out, [Points(scope, name, index, res)], compactor, seq)
                    if progress:
                        progress(done, len(groups))
                for writer, last in state.writers.items():
                    rec = pb.Record(writer_id=writer, seq=last, commit=pb.Commit(record_count=0))
                    out.write(encode_frame(rec.SerializeToString()))
                out.flush()
                os.fsync(out.fileno())
            backend.replace_log(tmp)
            after = os.path.getsize(backend.path)
            generation = store.generation + 1
    finally:
        store.close()
        if created and os.path.exists(tmp):
            os.unlink(tmp)
    with Store.open(path, "r") as fresh:
        fresh.save_index()
    return CompactStats(before, after, len(groups), total_points, generation)


def _read_group(store: Store, scope: str, name: str, index: int) -> dict | None:
    from streamvis.storage.reading import TableBuilder, read_entries

    grp = store._state.scopes[scope].names[name].groups[index]  # noqa: SLF001
    builder = TableBuilder()
    for body in read_entries(store.backend, grp.entries):
        builder.add_record(body)
    tables = builder.build()
    if not tables:
        return None
    table = next(iter(tables.values()))
    return {c: table.column(c).to_numpy() for c in table.column_names if c != "index"}


def _write_batch(out, items, writer: bytes, seq: int) -> None:  # type: ignore[no-untyped-def]
    for rec in encode_batch(normalize_items(items), writer, seq):
        out.write(encode_frame(rec.payload))
