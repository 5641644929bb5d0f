"""``python -m benchmarks.runs_panel_bench [--quick]``: the runs panel with summary
columns (issue 22 part 3), without a browser.

A page's side of it, as its session runs it: ``RunFilter.decide`` (the configs, and a
``where=`` on a summary, with the summaries of the page's ``summary=`` columns kept by one
``SummaryBook``) and ``RunsPanel.update`` (the table's data: config and summary columns).

Rows (medians): the first render of R runs (every point of the summarised names read and
folded, every run decided, the table built), and each poll after, when every run logged
one more point per name (the summaries folded from the new points only, the moved runs
re-decided, the changed cells patched).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from benchmarks.analysis_bench import _write
from benchmarks.table import Table, progress, run_in_tempdir, time_runs

__all__ = ["PanelSizes", "FULL", "QUICK", "run", "main"]

NAMES = ("loss", "acc")
SUMMARY = ("loss.min", "loss.last", "acc.max")
WHERE = "loss.min<0.5"


@dataclass(frozen=True)
class PanelSizes:
    runs: int = 10_000
    points: int = 100  # per run and name
    repeats: int = 5


FULL = PanelSizes()
QUICK = PanelSizes(runs=500, points=50, repeats=3)


def _page(src):  # the session's parts (no document)
    from streamvis.web.address.where import parse_where
    from streamvis.web.runs.run_filter import RunFilter
    from streamvis.web.runs.run_summaries import RunSummaries
    from streamvis.web.runs.runs_panel import RunRow, RunsPanel

    filt = RunFilter(parse_where(WHERE), keep_configs=True, summaries=RunSummaries(SUMMARY))
    panel = RunsPanel(on_shown=lambda h: None, on_highlight=lambda s: None, summary=SUMMARY)
    rows: dict[str, RunRow] = {}

    def render(scopes: list[str]) -> None:
        filt.decide(src, scopes)
        for s in scopes:
            rows.setdefault(s, RunRow("#000000"))
        shown = {s: r for s, r in rows.items() if filt.allows(s)}
        panel.update(shown, {s: filt.flat(s) for s in shown},
                     {s: filt.summaries.values(s, list(SUMMARY)) for s in shown})

    return render


def run(s: PanelSizes, wd: str) -> Table:
    from streamvis.run_analysis import SummaryBook
    from streamvis.source import LocalSource
    from streamvis.storage import Store

    t = Table("runs panel with summary columns (issue 22 part 3)")
    sec = f"{s.runs:,} runs x {len(NAMES)} names x {s.points:,} pts, {len(SUMMARY)} summary columns, where={WHERE}"
    path = os.path.join(wd, "panel.svl")
    progress(f"writing {sec}")
    _write(path, s.runs, NAMES, s.points)
    scopes = [f"run{r:05d}" for r in range(s.runs)]
    with LocalSource(Store.open(path, "r")) as src:
        t.add(sec, "summaries alone (SummaryBook)", time_runs(lambda: SummaryBook(src, NAMES).refresh(),
                                                              s.repeats), "s")
        t.add(sec, "first render", time_runs(lambda: _page(src)(scopes), s.repeats), "s",
              baseline="summaries alone (SummaryBook)", goal="<= 1 s at 10,000 runs")
        render = _page(src)
        render(scopes)
        book = SummaryBook(src, NAMES)
        book.refresh()
        polls, alone = [], []
        for i in range(s.repeats):
            _write(path, s.runs, NAMES, 1, start=s.points + i)
            src.store.refresh()
            alone += time_runs(book.refresh, 1)
            t0 = time.perf_counter()
            render(scopes)
            polls.append(time.perf_counter() - t0)
        t.add(sec, "poll: summaries alone (SummaryBook)", alone, "s")
        t.add(sec, "poll: +1 point per run and name", polls, "s", baseline="poll: summaries alone (SummaryBook)",
              goal="<= 50 ms at 10,000 runs")
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.runs_panel_bench", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None, help="runs in the log")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.runs:
        s = PanelSizes(**{**s.__dict__, "runs": a.runs})
    size = f"{'quick' if a.quick else 'full'} size, medians of {s.repeats}"
    return run_in_tempdir(lambda wd: run(s, wd), "streamvis-panel-bench-", size, a.json)


if __name__ == "__main__":
    sys.exit(main())
