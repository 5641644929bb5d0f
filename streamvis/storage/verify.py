"""``verify``: check every record of a log and report the damage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from streamvis.errors import CorruptDataError
from streamvis.storage.engine.opening import open_backend
from streamvis.storage.format.ownership import check_local_log
from streamvis.storage.format.scan import ScannedRecord, parse_header, scan_chunks
from streamvis.storage.local.log_file import LocalLog
from streamvis.storage.read.reading import decode_points

__all__ = ["VerifyReport", "verify"]


@dataclass
class VerifyReport:
    """What ``verify`` found: counts, damaged regions and an uncommitted tail."""

    records: int = 0
    batches: int = 0
    points: int = 0
    bytes: int = 0
    damaged: list[tuple[str, int, str]] = field(default_factory=list)
    tail: tuple[str, int] | None = None

    @property
    def ok(self) -> bool:
        return not self.damaged


def verify(
    path: str,
    progress: Callable[[int], None] | None = None,
    storage_options: dict | None = None,
) -> VerifyReport:
    """Scan the whole log at ``path``, decoding every record and column.

    ``progress(bytes_done)`` is called after each batch. Damage does not stop the
    scan: it resyncs at the next valid frame and records what it skipped.
    """
    backend = open_backend(path, storage_options)
    if isinstance(backend, LocalLog):
        check_local_log(backend.path)  # name a foreign file or the original's format
    report = VerifyReport()
    try:
        head = backend.read_header()  # LogNotFoundError when there is no log
        if not head and backend.is_empty():
            return report  # an empty file is an empty log: nothing to check
        parse_header(head)
        positions: dict[str, int] = {}
        seen: dict[str, int] = {}  # bytes checked per object, for a progress that only grows
        done = 0

        def on_batch(batch: list[ScannedRecord]) -> None:
            nonlocal done
            report.batches += 1
            report.records += len(batch)
            for r in batch:
                if r.record.WhichOneof("body") == "points":
                    try:
                        cols = decode_points(r.record.points, f"at offset {r.offset}")
                    except CorruptDataError as exc:
                        report.damaged.append((r.key, r.offset, str(exc)))
                        continue
                    report.points += len(next(iter(cols.values()), []))
            last = batch[-1]
            done += last.end - seen.get(last.key, 0)
            seen[last.key] = last.end
            if progress:
                progress(done)

        outcome = scan_chunks(
            backend.new_chunks(positions),
            on_batch,
            lambda k, e: backend.advance(positions, k, e),
            skip_damaged=True,
            stop_at_tail=False,
        )
        report.bytes = outcome.bytes_scanned
        report.damaged.extend(outcome.damaged)
        report.tail = outcome.tail
    finally:
        backend.close()
    return report
