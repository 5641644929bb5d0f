"""The index page's summary columns: each run's ``NAME.STAT`` (``summary=`` in the
index's address, as on a plot page; by default the last value of the first loss-like
name), read after the page is shown.

The summaries are computed over every point of the names (``run_analysis.SummaryBook``),
in a worker, and fill their columns when done, so the table opens at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial

from bokeh.document import Document
from bokeh.models import ColumnDataSource
from tornado.ioloop import IOLoop

from streamvis.errors import InvalidArgumentError
from streamvis.run_analysis import SummaryBook

from ..address.summary_keys import parse_summary_param, split_key
from .app_config import AppConfig

__all__ = ["index_summary_keys", "summary_values", "fill_summaries"]

log = logging.getLogger(__name__)


def index_summary_keys(args: Mapping[str, Sequence[str]], names: Iterable[str]) -> tuple[tuple[str, ...], str]:
    """The index's summary columns and a note: ``summary=`` of the address (a bad one is
    named in the note), else ``NAME.last`` of the first name with "loss" in it."""
    given = args.get("summary")
    if given:
        try:
            return parse_summary_param(given[0]), ""
        except InvalidArgumentError as exc:
            return (), str(exc)
    loss = next((n for n in sorted(set(names)) if "loss" in n.lower()), None)
    return ((f"{loss}.last",) if loss is not None else ()), ""


def summary_values(source: SummaryBook | None, keys: Sequence[str], scopes: Sequence[str]
                   ) -> dict[str, list[float | None]]:
    """{key: each scope's value (None: the run lacks it or it is NaN)} from a refreshed book."""
    out: dict[str, list[float | None]] = {}
    for k in keys:
        sk = split_key(k)
        vals: list[float | None] = []
        for s in scopes:
            summ = None if source is None or sk is None else source.summaries.get((s, sk[0]))
            v = summ.stat(sk[1]) if summ is not None and sk is not None else math.nan
            vals.append(None if v != v else v)
        out[k] = vals
    return out


def fill_summaries(doc: Document, cfg: AppConfig, table: ColumnDataSource, keys: Sequence[str]) -> None:
    """Compute the runs' summaries in a worker, then set ``table``'s ``sum:KEY`` columns
    (per ``table.data["scope"]``) on the document's event loop."""
    names = sorted({sk[0] for k in keys if (sk := split_key(k)) is not None})
    if not names:
        return
    loop = IOLoop.current()
    scopes = list(table.data["scope"])

    def read() -> dict[str, list[float | None]]:  # in a worker
        book = SummaryBook(cfg.source, names)
        book.refresh()
        return summary_values(book, keys, scopes)

    def apply(fut: Future[dict[str, list[float | None]]]) -> None:
        try:
            values = fut.result()
        except Exception as exc:  # the page stays as it is, without the summaries
            log.warning("streamvis web: reading the runs' summaries failed: %s", exc)
            return
        table.data.update({f"sum:{k}": v for k, v in values.items()})

    def on_loop(fut: Future[dict[str, list[float | None]]]) -> None:
        with contextlib.suppress(Exception):  # the tab was closed meanwhile
            doc.add_next_tick_callback(partial(apply, fut))

    cfg.executor.submit(read).add_done_callback(lambda fut: loop.add_callback(on_loop, fut))
