"""Driving the plot toolbar's CSV download in Chromium (``streamvis/web/plots/csv_download.py``):
click a plot's button, parse what was downloaded; read what the plot's sources hold."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from streamvis.web.plots.csv_download import DESCRIPTION

__all__ = ["download_csv", "download_held", "held_lines", "CsvFile"]

# the CSV button of the figure named ``plot``: searched in that figure's view, shadow roots included
BUTTON_JS = """([plot, title]) => {
  const find = (root) => { for (const el of root.querySelectorAll('*')) {
      if (el.title === title) return el;
      if (el.shadowRoot) { const got = find(el.shadowRoot); if (got) return got; } }
    return null; };
  const walk = (v) => { if (v.model.name === plot) return v;
    for (const c of (v.child_views ?? v.element_views ?? [])) { const got = walk(c); if (got) return got; } return null; };
  for (const v of Object.values(Bokeh.index)) { const fig = walk(v); if (fig) return find(fig.el.shadowRoot ?? fig.el); }
  return null; }"""

# {label: [[x...], [y...]]} of what source ``name`` holds for rows ``scopes`` do not hide
HELD_JS = """([name, hidden]) => { const s = Bokeh.documents[0].get_model_by_name(name);
  if (!s) return null; const d = s.data, out = {};
  for (let j = 0; j < d.xs.length; j++) {
    if (hidden.includes(d.scope[j])) continue;
    const n = d.n[j];
    out[d.scope[j] + '|' + d.name[j] + '|' + d.index[j]] = [Array.from(d.xs[j].slice(0, n)), Array.from(d.ys[j].slice(0, n))];
  }
  return out; }"""


class CsvFile:
    """A downloaded CSV: its file name, header and rows (as the csv module reads them)."""

    def __init__(self, filename: str, raw: bytes) -> None:
        self.filename, self.raw = filename, raw
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
        self.header, self.rows = rows[0], rows[1:]

    def lines(self, series: str | None = None) -> dict[str, list[list[float]]]:
        """``{"run|name|index": [[x...], [y...]]}`` of the rows (of ``series``, if given)."""
        out: dict[str, list[list[float]]] = {}
        col = {c: i for i, c in enumerate(self.header)}
        for r in self.rows:
            if series is not None and r[col["series"]] != series:
                continue
            xy = out.setdefault(f"{r[0]}|{r[1]}|{r[2]}", [[], []])
            xy[0].append(float(r[col["x"]]))
            xy[1].append(float(r[col["y"]]))
        return out


def download_csv(page: Any, plot: str, tries: int = 3) -> CsvFile:
    """Click the CSV button of the figure named ``plot``; the file it downloads. (A
    toolbar re-rendered by a change of the runs panel between finding the button and the
    click leaves the click on the old one: it is found again and clicked, ``tries`` times.)"""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        button = page.evaluate_handle(BUTTON_JS, [plot, DESCRIPTION]).as_element()
        assert button is not None, f"{plot} has no CSV button"
        try:
            with page.expect_download(timeout=10_000) as info:
                button.click()
            break
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
    got = info.value
    path = got.path()
    with open(path, "rb") as f:
        return CsvFile(got.suggested_filename, f.read())


def download_held(page: Any, plot: str, held: Callable[[], Any], tries: int = 20) -> tuple[CsvFile, Any]:
    """The CSV of ``plot`` and what ``held()`` read of its sources around the download,
    the same before and after it (the page may still be drawing: a line read again
    after a layout change; then the download is repeated, at most ``tries`` times)."""
    for _ in range(tries):
        before = held()
        got = download_csv(page, plot)
        after = held()
        if before == after:
            return got, after
    raise AssertionError(f"{plot}'s sources kept changing around {tries} downloads")


def held_lines(page: Any, source: str, hidden: tuple[str, ...] = ()) -> dict[str, list[list[float]]]:
    """What the multi_line source ``source`` holds, as ``CsvFile.lines`` gives it (the
    rows of runs in ``hidden`` left out)."""
    got = page.evaluate(HELD_JS, [source, list(hidden)])
    assert got is not None, f"no source {source}"
    return dict(got)
