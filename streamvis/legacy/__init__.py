"""The original streamvis's data (its 2025 Bokeh + gRPC era): ``import_legacy`` converts
a data prefix (``PREFIX.log`` + ``PREFIX.idx``) into a streamvis log; the command is
``streamvis import-legacy PREFIX PATH`` (``streamvis.legacy.cli``). An importer: it sits
on the storage layer, which itself only recognises that format
(``streamvis.storage.format.legacy_records``)."""

from __future__ import annotations

from streamvis.legacy.importer import ImportStats, import_legacy

__all__ = ["ImportStats", "import_legacy"]
