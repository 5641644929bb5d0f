"""The run summaries a page uses: ``NAME.STAT`` values per run, kept current by its polls.

A page asks for summaries in three places: ``where=`` (``loss.min<0.2``), ``color_by=``
(``loss.last``) and the runs panel's summary columns (``summary=loss.min,acc.last``).
A key spelled ``NAME.STAT`` (``STAT`` one of ``summaries.STATS``) is a summary when some
run logged ``NAME``; else it stays a config key (``config:KEY`` always is one).

One ``SummaryBook`` per page session (``run_analysis``): each ``refresh`` (called from
the session's poll, in a worker) reads only what was appended since the last, so a
poll's cost follows the new points; ``touched`` says which runs' values may have moved.
Columns chosen later from the panel's menu add names: the book is rebuilt once for them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

from streamvis.run_analysis import PointReader, SummaryBook

from ..address.layout import Layout
from ..address.summary_keys import parse_summary_param, split_key

__all__ = ["RunSummaries", "page_summaries"]

class RunSummaries:
    """The ``NAME.STAT`` values of a page's runs (see the module doc)."""

    def __init__(self, keys: Iterable[str] = (), *, scope_pattern: str | None = None) -> None:
        self.scope_pattern = scope_pattern
        self._keys: dict[str, tuple[str, str]] = {}
        self._book: SummaryBook | None = None
        self._lock = threading.Lock()
        self.logged: set[str] = set()  # the wanted names some run logged
        self.want(keys)

    def want(self, keys: Iterable[str]) -> None:
        """Also keep these keys current (keys not spelled like a summary are ignored)."""
        with self._lock:
            for k in keys:
                sk = split_key(k)
                if sk is not None:
                    self._keys.setdefault(k, sk)

    @property
    def ready(self) -> bool:
        """Whether the summaries were read once (``logged`` says which names some run has)."""
        book = self._book
        return book is not None and set(book.names) >= set(self.names)

    @property
    def names(self) -> list[str]:
        return sorted({n for n, _ in self._keys.values()})

    def refresh(self, source: PointReader) -> set[str]:
        """(In a worker.) Fold in the new points; the runs whose values may have changed."""
        with self._lock:
            names = self.names
            if not names:
                return set()
            if self._book is None or set(self._book.names) != set(names):
                self._book = SummaryBook(source, names, scope_pattern=self.scope_pattern)
                self.logged = set()
                self._book.refresh()
                touched = {s for s, _ in self._book.summaries}
            else:
                self._book.refresh()
                touched = set(self._book.touched)
            if touched and len(self.logged) < len(names):  # (a name, once logged, stays)
                self.logged = {n for _, n in self._book.summaries}
            return touched

    def is_summary(self, key: str) -> bool:
        """Whether ``key`` reads a summary (spelled NAME.STAT and NAME logged by a run)."""
        sk = split_key(key)
        return sk is not None and sk[0] in self.logged

    def value(self, scope: str, key: str) -> float | None:
        """``key``'s value for ``scope`` (None where the run lacks it or it is NaN)."""
        sk = self._keys.get(key)
        book = self._book
        if sk is None or book is None:
            return None
        s = book.summaries.get((scope, sk[0]))
        v = s.stat(sk[1]) if s is not None else math.nan
        return None if v != v else v

    def values(self, scope: str, keys: Sequence[str]) -> dict[str, float | None]:
        """The summaries among ``keys`` of run ``scope`` (keys whose NAME is logged)."""
        return {k: self.value(scope, k) for k in keys if self.is_summary(k)}


def page_summaries(layout: Layout) -> RunSummaries:
    """The summaries a page asks for: its ``summary=`` columns and ``color_by=`` (the
    ``where=`` keys are added by ``RunFilter``)."""
    keys = list(parse_summary_param(dict(layout.panel).get("summary", "")))
    if layout.color_by:
        keys.append(layout.color_by)
    return RunSummaries(keys, scope_pattern=layout.scopes)
