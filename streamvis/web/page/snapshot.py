"""``snapshot_html``: a page's view as one self-contained HTML file, without a server.

The CLI (``streamvis snapshot``) and the notebook (``show(..., live=False)``) call it;
the header's button gets the same file from the web server (``snapshot_route``). Both
build it with ``snapshot_render.render_snapshot``, the live page's own code. Here that
runs on a private event loop in a thread of its own (so a caller inside a running loop,
as a Jupyter kernel is, can call it), with a private worker pool closed afterwards;
nothing listens on a port. ``write_snapshot`` writes a file, overwriting only a file
that is a snapshot already (``MARK``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from streamvis.errors import InvalidArgumentError
from streamvis.source import DataSource

from ..address.layout import parse_layout
from ..plots.line_state import PlotLimits
from ..schema import Schema
from .app_config import AppConfig
from .server import DEFAULT_BUDGET, DEFAULT_MAX_LINES, source_name
from .snapshot_render import DEFAULT_HEIGHT, DEFAULT_WIDTH, MARK, check_size, render_snapshot

__all__ = ["snapshot_html", "write_snapshot", "check_target", "is_snapshot", "MARK"]

MARK_WITHIN = 4096  # bytes at the start of a file where a snapshot carries its mark


def snapshot_html(source: DataSource, schema: Schema, args: Mapping[str, Sequence[str]], *,
                  width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT, title: str | None = None,
                  log_name: str | None = None, budget: int = DEFAULT_BUDGET,
                  max_lines: int = DEFAULT_MAX_LINES, timeout: float = 300.0) -> str:
    """The HTML file (BokehJS inline, opens offline) of the page ``args`` describe (the
    page's query arguments, e.g. ``{"rows": ["loss"], "where": ["lr>0.01"]}``) on a
    ``width`` x ``height`` screen: its plots as the live page holds them (decimated
    to the plots' widths), its runs table, and a note of the address. A parameter the
    page would refuse raises ``InvalidArgumentError`` with the page's message; a source
    that does not answer within ``timeout`` seconds raises one too. ``log_name``: what
    the note calls the data (default: the log's path or URL)."""
    check_size(width, height)
    parse_layout(args, schema)  # refused before anything starts
    cfg = AppConfig(source=source, schema=schema, limits=PlotLimits(budget=budget, max_lines=max_lines),
                    log_name=log_name or source_name(source))
    out: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            out["html"] = loop.run_until_complete(render_snapshot(
                cfg, args, width=width, height=height, title=title, timeout=timeout))
        except BaseException as exc:  # handed to the caller's thread
            out["error"] = exc
        finally:
            loop.close()

    worker = threading.Thread(target=run, name="streamvis-snapshot", daemon=True)
    try:
        worker.start()
        worker.join()
    finally:
        cfg.executor.shutdown(wait=True, cancel_futures=True)
    if "error" in out:
        raise out["error"]
    html: str = out["html"]
    return html


def is_snapshot(path: str) -> bool:
    """Whether the file at ``path`` is a streamvis snapshot (carries ``MARK``)."""
    try:
        with open(path, "rb") as f:
            head = f.read(MARK_WITHIN)
    except OSError:
        return False
    return MARK.encode() in head


def check_target(path: str) -> None:
    """Refuse ``path`` as a snapshot's file unless it is new or an earlier snapshot (one
    line naming it)."""
    if os.path.isdir(path):
        raise InvalidArgumentError(f"{path!r} is a directory; give a file name for the snapshot")
    if os.path.lexists(path) and not is_snapshot(path):
        raise InvalidArgumentError(
            f"{path!r} exists and is not a streamvis snapshot; refusing to overwrite it "
            "(remove it or choose another name)")


def write_snapshot(path: str, html: str) -> None:
    """Write ``html`` to ``path``: a new file, or over an earlier snapshot; any other
    existing file is refused (``check_target``)."""
    check_target(path)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    created = False
    try:
        with open(tmp, "x", encoding="utf-8") as f:  # "x": never over a file not ours
            created = True
            f.write(html)
        os.replace(tmp, path)
        created = False
    except OSError as exc:
        raise InvalidArgumentError(f"cannot write the snapshot {path!r}: {exc.strerror or exc}") from None
    finally:
        if created:
            os.unlink(tmp)
