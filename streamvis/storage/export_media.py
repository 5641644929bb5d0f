"""Images and texts of a log written beside its Parquet export (``streamvis export``).

``DIR/_media/scope=<scope>/name=<name>/step=<step>.png`` (an image, the PNG bytes as
stored plus one ``tEXt`` chunk ``streamvis-export``) or ``.txt`` (a text, UTF-8 with
its own marker line first, ``# streamvis-export``). Partition values are encoded as
for the Parquet files. The leading ``_`` keeps the folder out of the points when DIR is
read as a hive dataset. A file at one of those paths that an earlier export did not
write (no marker) is never replaced: ``ForeignFileError`` before anything is written.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable

from streamvis.storage.engine.store import Store
from streamvis.storage.format.model import Image
from streamvis.storage.format.ownership import foreign_error

__all__ = ["MEDIA_DIR", "export_media", "mark_png"]

MEDIA_DIR = "_media"
_KEYWORD = b"streamvis-export"
_TEXT_MARK = "# streamvis-export\n"


def mark_png(png: bytes) -> bytes:
    """``png`` with a ``tEXt`` chunk naming streamvis's export, right after IHDR."""
    data = _KEYWORD + b"\x00" + b"1"
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


def _ours(target: str) -> bool:
    with open(target, "rb") as f:
        head = f.read(33 + 12 + len(_KEYWORD) + 2)
    if target.endswith(".png"):
        return head[33 + 8:].startswith(_KEYWORD)
    return head.startswith(_TEXT_MARK.encode())


def _check_ours(target: str) -> None:
    if os.path.lexists(target) and not (os.path.isfile(target) and _ours(target)):
        raise foreign_error(target, "an image or text file of a streamvis export")


def export_media(
    store: Store,
    out_dir: str,
    part: Callable[[str, str], str],
    *,
    scope_pattern: str | None = None,
    name_match: Callable[[str], bool] = lambda _n: True,
) -> list[str]:
    """Write every image and text of ``store`` under ``out_dir/_media``; the paths written."""
    infos = [m for m in store.media(scope_pattern=scope_pattern) if name_match(m.name)]
    targets = {}
    for m in infos:
        folder = os.path.join(out_dir, MEDIA_DIR, part("scope", m.scope), part("name", m.name))
        ext = "png" if m.kind == "image" else "txt"
        for step in m.steps:
            targets[(m.scope, m.name, step)] = os.path.join(folder, f"step={step}.{ext}")
    for target in targets.values():  # before writing anything
        _check_ours(target)
    written = []
    for m in infos:
        for item in store.read_media(m.scope, m.name):
            target = targets[(m.scope, m.name, item.step)]
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if isinstance(item, Image):
                data = mark_png(item.png)
            else:
                data = (_TEXT_MARK + item.text).encode("utf-8", "surrogatepass")
            with open(target, "wb") as f:
                f.write(data)
            written.append(target)
    return written
