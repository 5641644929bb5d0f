"""``python -m benchmarks.day_index_bench [--quick] [--tries N] [--json F]``: the in-memory
index of a day's run.

A run that flushes every second for a day holds 86,400 records a name; its reader (a
page's ``web-serve``, the data server) holds where each record is. Rows (medians of
``tries``; baselines measured in the same run):

* open the log and index every name (from its index file);
* the index's memory (``tracemalloc``, per record), against the same records held as
  one ``Entry`` object each (what the index was before columns; built in the same run
  from the same state);
* one full garbage collection with the log open, against the same with the records
  held as objects besides (every full collection of the process walks them);
* a poll: every name flushed once more, read since the cursor into arrays (a page's poll);
* one name read whole.

Full: 20 names x 86,400 records (1.73M records; writing it takes about a minute);
``--quick``: 20 x 3,600 (an hour).
"""

from __future__ import annotations

import argparse
import gc
import os
import tracemalloc
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from benchmarks.table import Table, progress, run_in_tempdir, time_runs

__all__ = ["DaySizes", "FULL", "QUICK", "run", "main"]


@dataclass(frozen=True)
class DaySizes:
    names: int = 20
    records: int = 86_400  # per name: a flush a second for a day
    tries: int = 3


FULL = DaySizes()
QUICK = DaySizes(records=3_600)


def _write(path: str, s: DaySizes, start: int = 0, flushes: int | None = None) -> None:
    from streamvis.storage import Points, Store

    names = [f"n{i:02d}" for i in range(s.names)]
    y = np.array([0.5], np.float32)
    with Store.open(path, "a", fsync=False) as st:
        for step in range(start, start + (s.records if flushes is None else flushes)):
            x = np.array([step])
            st.append([Points("run0", n, 0, {"x": x, "y": y}) for n in names])


def _index_all(st: object) -> int:
    """Every name's records indexed (names load lazily from the index file)."""
    state = st.log.state  # type: ignore[attr-defined]
    return sum(len(g) for sc in state.scopes.values() for ns in sc.names.values()
               for g in ns.groups.values())


def _as_objects(st: object) -> list:
    """The same records as one ``Entry`` object each (the index before columns)."""
    state = st.log.state  # type: ignore[attr-defined]
    return [list(g.entries) for sc in state.scopes.values() for ns in sc.names.values()
            for g in ns.groups.values()]


def _traced(fn: object) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    try:
        got = fn()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[0], got
    finally:
        tracemalloc.stop()


def run(s: DaySizes, wd: str) -> Table:
    from streamvis.storage import Store

    t = Table("the index of a day's run")
    path = os.path.join(wd, "day.svl")
    records = s.names * s.records
    sec = f"{s.names} names x {s.records:,} records ({records:,})"
    progress(f"writing {sec}")
    _write(path, s)

    def open_and_index() -> None:
        with Store.open(path, "r") as st:
            _index_all(st)

    t.add(sec, "open + index every name", time_runs(open_and_index, s.tries), "s")
    with Store.open(path, "r") as st:
        mem, _ = _traced(lambda: _index_all(st))
        t.add(sec, "index memory per record", mem / records, "B", note=f"{mem / 2**20:.0f} MiB in all")
        objects_mem, objects = _traced(lambda: _as_objects(st))
        t.add(sec, "... the same records as an Entry object each", objects_mem / records, "B",
              baseline="index memory per record", note="what the index held before (measured beside it)")
        t.add(sec, "... a full garbage collection", time_runs(gc.collect, s.tries), "s",
              note="the records as objects held besides")
        del objects
        t.add(sec, "a full garbage collection", time_runs(gc.collect, s.tries), "s",
              baseline="... a full garbage collection")
        polls = []
        for k in range(s.tries):
            cursor = st.cursor()
            _write(path, s, start=s.records + k, flushes=1)
            polls += time_runs(partial(st.read_arrays_since, cursor), 1)
        t.add(sec, "a poll: every name +1 record, read into arrays", polls, "s")
        t.add(sec, "one name read whole", time_runs(lambda: st.read(name="n05"), s.tries), "s",
              note=f"{s.records + s.tries:,} records")
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.day_index_bench", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tries", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    s = QUICK if a.quick else FULL
    if a.tries:
        s = replace(s, tries=a.tries)
    size = f"{'quick' if a.quick else 'full'} size, medians of {s.tries} tries"
    return run_in_tempdir(lambda wd: run(s, wd), "streamvis-day-index-", size, a.json)


if __name__ == "__main__":
    raise SystemExit(main())
