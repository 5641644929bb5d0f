"""What the original streamvis showed of a data prefix: its ``PREFIX.idx`` replayed.

The original's reader (``util.Index.update``) walked ``PREFIX.idx`` in order: a Scope
record starts a run (``scope_id``) of a scope; a Name belongs to a live run; a
``Control(DELETE_SCOPE)`` removes every run of that scope with its names and entries
(the logger's ``delete_existing``); a DataEntry or ConfigEntry points at one record
of ``PREFIX.log`` for a live name or run. ``replay`` does the same (a
``DELETE_NAME``, which that era never wrote, removes the name) and returns the live
state in index order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamvis.errors import CorruptDataError
from streamvis.proto import legacy_data_pb2 as lpb
from streamvis.storage.format.legacy_records import INDEX_KINDS, LegacyFormatProblem, iter_records

__all__ = ["LegacyIndex", "replay"]


@dataclass
class LegacyIndex:
    """The live records of a legacy index, each dict in index order."""

    scopes: dict[int, lpb.Scope] = field(default_factory=dict)  # scope_id -> Scope
    names: dict[int, lpb.Name] = field(default_factory=dict)  # name_id -> Name
    entries: dict[int, lpb.DataEntry] = field(default_factory=dict)  # entry_id -> DataEntry
    config_entries: dict[int, lpb.ConfigEntry] = field(default_factory=dict)
    torn_tail: int = 0  # bytes of an incomplete last record (a crash mid-write), ignored

    def _delete(self, scope: str, name: str | None) -> None:
        runs = {sid for sid, s in self.scopes.items() if s.scope == scope}
        names = {
            nid for nid, n in self.names.items()
            if n.scope_id in runs and (name is None or n.name == name)
        }
        self.entries = {k: e for k, e in self.entries.items() if e.name_id not in names}
        self.names = {k: n for k, n in self.names.items() if k not in names}
        if name is None:
            self.config_entries = {
                k: c for k, c in self.config_entries.items() if c.scope_id not in runs
            }
            self.scopes = {k: s for k, s in self.scopes.items() if k not in runs}

    def apply(self, kind: int, msg: object) -> None:
        if kind == lpb.SCOPE:
            assert isinstance(msg, lpb.Scope)
            self.scopes.setdefault(msg.scope_id, msg)
        elif kind == lpb.NAME:
            assert isinstance(msg, lpb.Name)
            if msg.scope_id in self.scopes:
                self.names.setdefault(msg.name_id, msg)
        elif kind == lpb.CONTROL:
            assert isinstance(msg, lpb.Control)
            if msg.action == lpb.DELETE_SCOPE:
                self._delete(msg.scope, None)
            elif msg.action == lpb.DELETE_NAME:
                self._delete(msg.scope, msg.name)
        elif kind == lpb.DATA_ENTRY:
            assert isinstance(msg, lpb.DataEntry)
            if msg.name_id in self.names:
                self.entries[msg.entry_id] = msg
        elif kind == lpb.CONFIG_ENTRY:
            assert isinstance(msg, lpb.ConfigEntry)
            if msg.scope_id in self.scopes:
                self.config_entries[msg.entry_id] = msg


def replay(idx_path: str) -> LegacyIndex:
    """Replay the legacy index at ``idx_path`` (read whole: it holds ~20 bytes a record)."""
    with open(idx_path, "rb") as f:
        data = f.read()
    index = LegacyIndex()
    end = 0
    try:
        for rec in iter_records(data, 0, INDEX_KINDS):
            index.apply(rec.kind, rec.message)
            end = rec.end
    except LegacyFormatProblem as exc:
        raise CorruptDataError(f"{idx_path}: {exc}", offset=end) from None
    index.torn_tail = len(data) - end
    return index
