"""The filter slider's reads: a plot's points at the chosen filter value (a step)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from streamvis.source import DataSource
from streamvis.storage import RangeRequest

from ..plots.plot_view import Key, PlotView
from ..plots.rows import Cols, select_rows

__all__ = ["SelectionReads"]

log = logging.getLogger("streamvis.web")


class SelectionReads:
    """Reads, for a plot whose filter slider moved, each group's rows at the largest
    filter value <= the slider's. ``submit(work, apply)`` runs ``work`` in a worker and
    ``apply`` on the event loop; ``live()`` is False once the session closed."""

    def __init__(self, source: DataSource, submit: Callable[..., None],
                 live: Callable[[], bool]) -> None:
        self._source, self._submit, self._live = source, submit, live

    def select(self, v: PlotView, value: float) -> None:
        """Read and show ``v``'s points at ``value`` (on the event loop)."""
        reqs = [
            (key, RangeRequest(key[0], key[1], key[2], upto=line.count))
            for key, line in v.lines.items()
        ]
        self._submit(partial(self._read, v, reqs, value), partial(self._apply, v, value))

    def _read(self, v: PlotView, reqs: list[tuple[Key, RangeRequest]], value: float) -> dict[Key, Cols]:
        out: dict[Key, Cols] = {}
        result = self._source.read_ranges([r for _, r in reqs])
        for (key, _), table in zip(reqs, result.tables, strict=True):
            if table is None:
                continue
            cols = {c: table.column(c).to_numpy() for c in table.column_names}
            if v.wants(cols):
                out[key] = select_rows(v.pick(cols, key), value)
        return out

    def _apply(self, v: PlotView, value: float, fut: Future[Any]) -> None:
        try:
            data = fut.result()
        except Exception as exc:
            log.warning("streamvis web: filter read failed: %s", exc)
            return
        if self._live():
            v.show_selection(value, data)
