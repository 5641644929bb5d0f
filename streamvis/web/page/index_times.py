"""The index page's "last update" column: each run's last written point, read after the
page is shown.

A run's last update is the largest ``wall_time`` of the last point of each of its
groups (the logger stamps every point; the TensorBoard importer keeps the events'
times). The index lists groups, not points, so the times take one batched range read of
every group's last x (about 0.6 s for 10,000 groups): it runs in a worker and fills the
column when done, so the table opens at once. Runs logged without wall times keep an
empty cell.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import Future
from functools import partial

import pyarrow.compute as pc
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from tornado.ioloop import IOLoop

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.source import DataSource
from streamvis.storage import GroupInfo, RangeRequest

from ..local_time import epoch_ms
from .app_config import AppConfig

__all__ = ["last_writes", "fill_last_updates", "MAX_GROUPS_READ"]

log = logging.getLogger(__name__)
MAX_GROUPS_READ = 100_000  # past this many groups the column stays empty (a long read)


def last_writes(source: DataSource, groups: Sequence[GroupInfo]) -> dict[str, float]:
    """{scope: wall time of its last written point}, for scopes whose points have one."""
    reqs = [
        RangeRequest(g.scope, g.name, g.index, x_min=g.x_max, x_max=g.x_max)
        for g in groups
        if g.count and g.x_max == g.x_max  # a NaN x_max (no x) reads nothing
    ]
    out: dict[str, float] = {}
    if not reqs:
        return out
    for req, table in zip(reqs, source.read_ranges(reqs).tables, strict=True):
        if table is not None and WALL_TIME_COLUMN in table.column_names and table.num_rows:
            last = pc.max(table.column(WALL_TIME_COLUMN)).as_py()
            if last is not None and last == last and last > out.get(req.scope, float("-inf")):
                out[req.scope] = float(last)
    return out


def fill_last_updates(
    doc: Document, cfg: AppConfig, table: ColumnDataSource, groups: Sequence[GroupInfo]
) -> None:
    """Read the runs' last writes in a worker, then set ``table``'s ``updated`` column
    (epoch ms per ``table.data["scope"]``, a date in the viewer's zone) on the document's event loop."""
    if not groups or len(groups) > MAX_GROUPS_READ:
        return
    loop = IOLoop.current()

    def apply(fut: Future[dict[str, float]]) -> None:
        try:
            times = fut.result()
        except Exception as exc:  # the page stays as it is, without the times
            log.warning("streamvis web: reading the runs' last updates failed: %s", exc)
            return
        table.data["updated"] = [epoch_ms(times.get(s)) for s in table.data["scope"]]

    def on_loop(fut: Future[dict[str, float]]) -> None:
        with contextlib.suppress(Exception):  # the tab was closed meanwhile
            doc.add_next_tick_callback(partial(apply, fut))

    def done(fut: Future[dict[str, float]]) -> None:  # on the worker: hand over to the loop
        loop.add_callback(on_loop, fut)

    def read() -> dict[str, float]:  # in a worker; the read decoded groups into the cache
        try:
            return last_writes(cfg.source, groups)
        finally:
            cfg.release_cache_if_idle()  # kept only while a plot page needs it

    cfg.executor.submit(read).add_done_callback(done)

