"""A group's records are kept as columns (``GroupEntries``) and handed out as ``Entry``
objects made on access (``EntryRange``). Whatever mix of single records and bulk rows
(an index file's) built it, it must hand out exactly the records given, in order, with
list semantics for indexing and slicing, and a range taken earlier must not grow when
records are appended after it (a read planned under the log's lock reads what was
there then)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamvis.storage.format.state import Entry, GroupEntries

finite_or_nan = st.one_of(st.just(math.nan), st.floats(-1e12, 1e12))
entries = st.builds(Entry, st.sampled_from(["", "seg-0001", "seg-0002"]), st.integers(0, 2 ** 62),
                    st.integers(1, 2 ** 31), st.integers(0, 2 ** 40), finite_or_nan, finite_or_nan)
# one record added alone, or several in bulk (as an index file's rows are)
steps = st.lists(st.one_of(entries.map(lambda e: [e]), st.lists(entries, min_size=1, max_size=6)
                           .map(lambda es: ("bulk", es))), min_size=1, max_size=12)


def _same(got: Entry, want: Entry) -> bool:
    same_x = all((math.isnan(g) and math.isnan(w)) or g == w
                 for g, w in ((got.x_min, want.x_min), (got.x_max, want.x_max)))
    return same_x and (got.key, got.offset, got.length, got.count) == (want.key, want.offset, want.length,
                                                                       want.count)


def _build(steps_: list) -> tuple[GroupEntries, list[Entry], list]:
    grp, added, taken = GroupEntries(), [], []
    for step in steps_:
        taken.append((grp.entries, list(added)))  # a range taken before this step
        if isinstance(step, tuple):
            es = step[1]
            grp.extend([e.key for e in es], *(np.array([getattr(e, f) for e in es], dtype)
                                             for f, dtype in (("offset", np.int64), ("length", np.int64),
                                                              ("count", np.int64), ("x_min", np.float64),
                                                              ("x_max", np.float64))))
            added.extend(es)
        else:
            grp.add(step[0])
            added.append(step[0])
    return grp, added, taken


@settings(max_examples=200, deadline=None)
@given(steps_=steps, data=st.data())
def test_records_come_back_as_given_with_list_semantics(steps_: list, data: st.DataObject) -> None:
    grp, added, taken = _build(steps_)
    got = grp.entries
    assert len(got) == len(added)
    assert all(_same(g, w) for g, w in zip(got, added, strict=True))
    for earlier, want in taken:  # appended records are not in a range taken before
        assert len(earlier) == len(want) and all(_same(g, w) for g, w in zip(earlier, want, strict=True))
    n = len(added)
    i = data.draw(st.integers(-n, n - 1))
    assert _same(got[i], added[i])
    a, b = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
    step = data.draw(st.sampled_from([None, 1, 2, -1]))
    part = got[a:b:step]
    want = added[a:b:step]
    assert len(part) == len(want) and all(_same(g, w) for g, w in zip(part, want, strict=True))
    if step in (None, 1) and len(want):  # a slice of a slice, as a plan slices a group's records
        assert _same(part[-1], want[-1]) and len(part[1:]) == len(want[1:])
    with pytest.raises(IndexError):
        got[n]
    assert grp.count == sum(e.count for e in added)
    lows = [e.x_min for e in added if not math.isnan(e.x_min)]
    highs = [e.x_max for e in added if not math.isnan(e.x_max)]
    lo, hi = grp.x_range()
    assert (lo == min(lows)) if lows else math.isnan(lo)
    assert (hi == max(highs)) if highs else math.isnan(hi)


@settings(max_examples=200, deadline=None)
@given(offsets=st.lists(st.integers(0, 10 ** 6), max_size=40, unique=True).map(sorted),
       at=st.integers(-1, 10 ** 6 + 1))
def test_the_first_record_at_or_after_an_offset_is_found_as_a_sorted_search_finds_it(
        offsets: list[int], at: int) -> None:
    grp = GroupEntries()
    for o in offsets:  # a local log's records: offsets grow
        grp.add(Entry("", o, 10, 1, 0.0, 0.0))
    assert grp.first_at_or_after(at) == int(np.searchsorted(np.array(offsets, np.int64), at, side="left"))
