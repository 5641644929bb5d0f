"""Import TensorBoard event files into a streamvis log (``streamvis import-tb``).

Each run directory under LOGDIR becomes a scope with the names our SummaryWriter
gives the same program (``streamvis.tensorboard.naming``); torch's ``add_hparams``
sub-run (a directory whose event file holds an hparams Experiment and a session's
hparams, as torch and tensorboardX write them) is folded into its parent run.

Idempotent and resumable: every event file is imported under a writer id of its
own (a hash of its scope, its path in the run and its first record) and each batch
carries, as its sequence number, the file offset where it ends. The store keeps a
writer's last sequence number, so a second import starts where the first stopped
and a repeated batch is stored once. ``follow`` re-scans for new files and bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from streamvis.columns import STEP_COLUMN, VALUE_COLUMN, WALL_TIME_COLUMN
from streamvis.errors import CorruptDataError, InvalidArgumentError, NotFoundError
from streamvis.storage import ConfigUpdate, Image, Points, Store
from streamvis.storage import Text as TextItem
from streamvis.storage.format.records import normalize_items
from streamvis.tensorboard import histograms as H
from streamvis.tensorboard.events import EventDecoder, Hist, HParams, Picture, Scalar, Text
from streamvis.tensorboard.naming import HIST_STATS, hist_name, hist_stat_name, run_name, text_key
from streamvis.tensorboard.records import RecordStop, iter_records

__all__ = ["FileProblem", "ImportReport", "Importer", "find_event_files", "import_tb"]

BATCH_RECORDS = 20_000
PRESCAN_RECORDS = 32
_F4, _F8, _I8 = np.dtype("<f4"), np.dtype("<f8"), np.dtype("<i8")
_HIST_DTYPES = {H.BUCKET: _F8, H.COUNT: _F8, H.LEFT: _F8, H.RIGHT: _F8, H.STEP: _I8,
                WALL_TIME_COLUMN: _F8}


@dataclass
class FileProblem:
    """Where and why an event file could not be read to its end."""

    path: str
    kind: str  # "torn" or "corrupt"
    offset: int
    detail: str
    records: int  # whole records imported from the file before the problem

    def message(self) -> str:
        if self.kind == "torn":
            return (f"{self.path}: the file ends mid-record at byte {self.offset} (a torn "
                    f"tail: {self.detail}); imported the {self.records} whole records before it")
        return (f"{self.path}: corrupt record at byte {self.offset} ({self.detail}); imported "
                f"the {self.records} records before it and skipped the rest of the file")


@dataclass
class ImportReport:
    """What one pass imported and what it could not."""

    files: int = 0
    records: int = 0
    points: int = 0
    runs: set[str] = field(default_factory=set)
    problems: list[FileProblem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def corrupt(self) -> list[FileProblem]:
        return [p for p in self.problems if p.kind == "corrupt"]

    @property
    def torn(self) -> list[FileProblem]:
        return [p for p in self.problems if p.kind == "torn"]


def find_event_files(logdir: str) -> dict[str, list[str]]:
    """Directories under ``logdir`` (itself included) -> their ``*tfevents*`` files,
    both sorted (file names begin with their creation time)."""
    found: dict[str, list[str]] = {}
    for d, dirs, files in os.walk(logdir):
        dirs.sort()
        ev = sorted(f for f in files if "tfevents" in f)
        if ev:
            found[os.path.normpath(d)] = [os.path.join(d, f) for f in ev]
    return dict(sorted(found.items()))


def committed_seq(store: Store, writer_id: bytes) -> int | None:
    """The last sequence number the store holds for ``writer_id`` (None: none)."""
    return store.committed_seq(writer_id)


class _Batch:
    """Observations of one file's records, column by column, until appended."""

    def __init__(self) -> None:
        self.scalars: dict[str, tuple[list[int], list[Any], list[float]]] = {}
        self.hists: dict[str, list[dict[str, Any]]] = {}
        self.config: dict[str, Any] = {}
        self.media: list[Picture | Text] = []  # images, and texts per step
        self.records = 0

    def scalar(self, name: str, step: int, value: Any, wt: float) -> None:
        cols = self.scalars.get(name)
        if cols is None:
            cols = self.scalars[name] = ([], [], [])
        cols[0].append(step)
        cols[1].append(value)
        cols[2].append(wt)

    def add(self, obs: Any) -> None:
        if isinstance(obs, Scalar):
            self.scalar(obs.tag, obs.step, obs.value, obs.wall_time)
        elif isinstance(obs, Hist):
            h = obs.hist
            if h.count.size:
                cols: dict[str, Any] = h.columns()
                n = h.count.size
                cols[H.STEP] = np.full(n, obs.step, dtype=_I8)
                cols[WALL_TIME_COLUMN] = np.full(n, obs.wall_time, dtype=_F8)
                self.hists.setdefault(hist_name(obs.tag), []).append(cols)
            for stat, v in zip(HIST_STATS, (h.min, h.max, h.mean), strict=True):
                self.scalar(hist_stat_name(obs.tag, stat), obs.step, np.float64(v), obs.wall_time)
        elif isinstance(obs, Text):
            self.config[text_key(obs.tag)] = obs.text
            if obs.tag:
                self.media.append(obs)
        elif isinstance(obs, Picture):
            self.media.append(obs)
        elif isinstance(obs, HParams):
            self.config.update(obs.values)

    def empty(self) -> bool:
        return not (self.scalars or self.hists or self.config or self.media)


class Importer:
    """Imports a logdir into an open Store (mode "a"), one pass per ``run_once``."""

    def __init__(self, logdir: str | os.PathLike[str], store: Store, *,
                 progress: bool | None = False) -> None:
        self.logdir = os.path.normpath(os.fspath(logdir))
        self.store = store
        self.progress = progress
        self._subrun: dict[str, bool] = {}
        self._done: dict[str, tuple[int, float]] = {}  # path -> (size, mtime) fully read
        self._dead: set[str] = set()  # files with a corrupt record: not read again
        self._configs: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ runs
    def scope_of(self, run_dir: str) -> tuple[str, str]:
        """The scope of a run directory, folding torch's add_hparams sub-run, and the
        directory that scope names (the parent, for a sub-run)."""
        if run_dir != self.logdir and self._is_hparams_subrun(run_dir):
            parent = os.path.dirname(run_dir)
            return run_name(parent, self.logdir), parent
        return run_name(run_dir, self.logdir), run_dir

    def _is_hparams_subrun(self, run_dir: str) -> bool:
        known = self._subrun.get(run_dir)
        if known is not None:
            return known
        files = [os.path.join(run_dir, f) for f in os.listdir(run_dir) if "tfevents" in f]
        found, decided = False, False
        for path in files:
            dec = EventDecoder()
            stop = RecordStop()
            experiment = session = False
            try:
                with open(path, "rb") as f:
                    for i, (_, payload) in enumerate(iter_records(f, 0, stop)):
                        if i >= PRESCAN_RECORDS:
                            break
                        decided = decided or i >= 1
                        try:
                            obs = dec.decode(payload)
                        except CorruptDataError:
                            break
                        for o in obs:
                            if isinstance(o, HParams):
                                experiment = experiment or o.experiment
                                session = session or not o.experiment
                        if experiment and session:  # both in one file: torch's / tensorboardX's
                            found = True
                            break
            except OSError:
                continue
            if found:
                break
        if found or decided:
            self._subrun[run_dir] = found
        return found

    # ------------------------------------------------------------------ passes
    def run_once(self, *, quiet_torn: bool = False) -> ImportReport:
        """Import what is new. Torn tails are reported unless ``quiet_torn`` (a live
        logdir, where a torn tail is the record being written)."""
        report = ImportReport()
        self.store.refresh()
        runs = find_event_files(self.logdir) if os.path.isdir(self.logdir) else {}
        todo: list[tuple[str, str, str, int]] = []
        for run_dir, files in runs.items():
            scope, scope_dir = self.scope_of(run_dir)
            for path in files:
                report.files += 1
                if path in self._dead:
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if self._done.get(path) == (st.st_size, st.st_mtime):
                    report.runs.add(scope)
                    continue
                todo.append((scope, os.path.relpath(path, scope_dir), path, st.st_size))
        bar = self._bar(sum(t[-1] for t in todo))
        try:
            for scope, rel, path, size in todo:
                report.runs.add(scope)
                wid = partial(self._writer_id, scope, rel)
                self._import_file(scope, wid, path, size, report,
                                  bar.update if bar else None, quiet_torn)
        finally:
            if bar is not None:
                bar.close()
        return report

    def _bar(self, total: int) -> Any:
        if self.progress is False or total == 0:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="B", unit_scale=True, desc="import-tb",
                    disable=None if self.progress is None else not self.progress)

    @staticmethod
    def _writer_id(scope: str, rel: str, first: bytes) -> bytes:
        """The file's identity: its scope, its path within the run (so importing
        ``runs`` and then ``runs/exp1`` is the same file) and its first record."""
        h = hashlib.blake2b(digest_size=16, person=b"sv-import-tb")
        for part in (scope.encode(), rel.replace(os.sep, "/").encode(), first):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.digest()

    def _import_file(self, scope: str, writer_id: Callable[[bytes], bytes], path: str,
                     size: int, report: ImportReport, advance: Callable[[int], Any] | None,
                     quiet_torn: bool) -> None:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            return
        with f:
            # Taken before reading: bytes flushed while this pass reads change the
            # mtime, so the next pass cannot take them for bytes already read.
            mtime_before = os.fstat(f.fileno()).st_mtime
            stop = RecordStop()
            first = next(iter_records(f, 0, stop), None)
            if first is None:
                self._note_stop(path, stop, 0, report, quiet_torn)
                return
            wid = writer_id(bytes(first[1]))
            start = committed_seq(self.store, wid) or 0
            if advance is not None and start:
                advance(min(start, size))
            decoder = EventDecoder()
            batch = _Batch()
            records = 0
            prev = start
            for end, payload in iter_records(f, start, stop):
                try:
                    observations = decoder.decode(payload)
                except CorruptDataError as exc:
                    stop.kind, stop.offset, stop.detail = "corrupt", prev, str(exc)
                    break
                for obs in observations:
                    batch.add(obs)
                batch.records += 1
                records += 1
                if advance is not None:
                    advance(end - prev)
                prev = end
                if batch.records >= BATCH_RECORDS:
                    report.points += self._append(scope, batch, wid, end)
                    batch = _Batch()
            if not batch.empty():
                report.points += self._append(scope, batch, wid, prev)
            report.records += records
            report.skipped.update(decoder.skipped)
        if stop.kind == "end":
            self._done[path] = (prev, mtime_before)
        self._note_stop(path, stop, records, report, quiet_torn)

    def _note_stop(self, path: str, stop: RecordStop, records: int, report: ImportReport,
                   quiet_torn: bool) -> None:
        if stop.kind == "corrupt":
            self._dead.add(path)
            report.problems.append(FileProblem(path, "corrupt", stop.offset, stop.detail, records))
        elif stop.kind == "torn" and not quiet_torn:
            report.problems.append(FileProblem(path, "torn", stop.offset, stop.detail, records))

    def _config(self, scope: str) -> dict[str, Any]:
        cfg = self._configs.get(scope)
        if cfg is None:
            try:
                cfg = dict(self.store.config(scope))
            except NotFoundError:
                cfg = {}
            self._configs[scope] = cfg
        return cfg

    def _y_dtype(self, scope: str, name: str, first: Any) -> np.dtype:
        try:
            schema = self.store.schema(scope, name)
        except NotFoundError:
            return _F4 if isinstance(first, np.float32) else _F8
        return np.dtype(schema.get(VALUE_COLUMN, _F4))

    def _append(self, scope: str, batch: _Batch, wid: bytes, end: int) -> int:
        items: list[Any] = []
        points = 0
        for name, (steps, values, wts) in batch.scalars.items():
            cols = {STEP_COLUMN: np.asarray(steps, dtype=_I8),
                    VALUE_COLUMN: np.asarray(values, dtype=self._y_dtype(scope, name, values[0])),
                    WALL_TIME_COLUMN: np.asarray(wts, dtype=_F8)}
            items.append(Points(scope, name, 0, cols))
            points += len(steps)
        for name, parts in batch.hists.items():
            cols = {c: np.concatenate([p[c] for p in parts]).astype(dt, copy=False)
                    for c, dt in _HIST_DTYPES.items()}
            items.append(Points(scope, name, 0, cols))
            points += len(cols[H.COUNT])
        for m in batch.media:
            item = (Image(scope, m.tag, m.step, m.png, m.wall_time) if isinstance(m, Picture)
                    else TextItem(scope, m.tag, m.step, m.text, m.wall_time))
            try:
                normalize_items([item])  # a tag over the key limits, a damaged PNG header
            except InvalidArgumentError:
                continue
            items.append(item)
        if batch.config:
            cfg = self._config(scope)
            new = {**cfg, **batch.config}
            if new != cfg:
                items.append(ConfigUpdate(scope, new))
                self._configs[scope] = new
        if items:
            res = self.store.append(items, writer_id=wid, seq=end)
            if res.duplicate:
                return 0
        return points


def import_tb(logdir: str | os.PathLike[str], path: str | os.PathLike[str], *,
              progress: bool | None = False, follow: bool = False, interval: float = 2.0,
              on_pass: Callable[[ImportReport], Any] | None = None,
              should_stop: Callable[[], bool] | None = None) -> ImportReport:
    """Import ``logdir`` into the log at ``path``; the report of the (last) pass.

    NotFoundError when a one-off import finds no event file. With ``follow``, passes
    repeat every ``interval`` seconds until ``should_stop()`` (or Ctrl-C)."""
    logdir = os.fspath(logdir)
    if not os.path.isdir(logdir):
        raise NotFoundError(f"LOGDIR {logdir!r} is not a directory")
    with Store.open(os.fspath(path), mode="a") as store:
        imp = Importer(logdir, store, progress=progress)
        while True:
            report = imp.run_once(quiet_torn=follow)
            if on_pass is not None:
                on_pass(report)
            if not follow:
                break
            if should_stop is not None and should_stop():
                break
            time.sleep(interval)
    if not follow and report.files == 0:
        raise NotFoundError(f"no TensorBoard event files (*tfevents*) under {logdir}")
    return report
