"""Range reads answered from kept answers (``AnswerCache``) and kept smoothed columns
(``SmoothCache``) are the answers a cold store gives: after appends, deletions, a name
logged again, and whatever order of reads. (A name deleted and logged again with no more
points than before was once drawn smoothed with the old values.)"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.storage import Deletion, Points, Store
from streamvis.storage.read.ranges import AnswerCache, RangeRequest

SCOPES = ("a", "b")


def _points(scope: str, start: int, n: int, value: float) -> Points:
    x = np.arange(start, start + n, dtype=np.int64)
    return Points(scope, "loss", 0, {"x": x, "y": np.full(n, value, np.float32) + x.astype(np.float32)})


def _requests() -> list[RangeRequest]:
    return [RangeRequest(s, "loss", 0, x_min=lo, x_max=hi, max_points=mp, smoothing=w)
            for s in SCOPES for lo, hi in ((None, None), (2.0, 30.0))
            for mp in (None, 8) for w in (0.0, 0.5)]


def _answers(store: Store) -> list[dict[str, list[float]] | None]:
    res = store.read_ranges(_requests())
    return [None if t is None else t.to_pydict() for t in res.tables]


def _same_answers(warm: Store, cold: Store) -> bool:
    """Equal answers; smoothed values to float32's precision (an EMA resumed over new
    points rounds differently from one over all of them in the last bit)."""
    for req, a, b in zip(_requests(), _answers(warm), _answers(cold), strict=True):
        if a is None or b is None:
            if a is not b:
                return False
        elif a["x"] != b["x"]:
            return False
        elif not np.allclose(a["y"], b["y"], rtol=0 if not req.smoothing else 1e-6, atol=0):
            return False
    return True


ops = st.lists(st.one_of(
    st.tuples(st.just("append"), st.sampled_from(SCOPES), st.integers(1, 40)),
    st.tuples(st.just("delete"), st.sampled_from(SCOPES), st.sampled_from(["loss", None])),
    st.just(("read",)),
    st.just(("release",)),
), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_kept_answers_equal_a_cold_stores(tmp_path_factory, program) -> None:
    path = str(tmp_path_factory.mktemp("answers") / "log.svl")
    ends = dict.fromkeys(SCOPES, 0)
    with Store.open(path, "a") as writer, Store.open(path, "r") as warm:
        for step, op in enumerate(program):
            if op[0] == "append":
                _, scope, n = op
                writer.append([_points(scope, ends[scope], n, float(step))])
                ends[scope] += n
            elif op[0] == "delete":
                writer.append([Deletion(op[1], op[2])])  # the name, or the whole run
                ends[op[1]] = 0  # logged again from x = 0: the same counts can come back
            elif op[0] == "release":
                warm.release_cache()
            warm.refresh()
            with Store.open(path, "r") as cold:
                assert _same_answers(warm, cold), program[: step + 1]
        assert warm.answer_bytes <= 64 << 20


def test_an_answer_kept_is_served_without_the_decoded_group(tmp_path) -> None:
    """After the decoded groups are released, a read asked before is answered without
    decoding its group again (the decoded cache stays empty), and is the same table."""
    path = str(tmp_path / "log.svl")
    with Store.open(path, "a") as s:
        s.append([_points("a", 0, 5_000, 1.0)])
    req = [RangeRequest("a", "loss", 0, max_points=100)]
    with Store.open(path, "r") as s:
        first = s.read_ranges(req).tables[0]
        assert s.cache_bytes > 0 and s.answer_bytes > 0
        s.release_cache()
        assert s.cache_bytes == 0
        again = s.read_ranges(req).tables[0]
        assert again.equals(first) and s.cache_bytes == 0  # not decoded again
        assert s.read_ranges(req).tables[0] is again  # one kept answer for every asker
        other = s.read_ranges([RangeRequest("a", "loss", 0, max_points=50)]).tables[0]
        assert other.num_rows <= 52 and s.cache_bytes > 0  # another question: decoded


def test_the_bound_evicts_the_least_used_answer() -> None:
    cache = AnswerCache(max_bytes=4_000)
    tables = {k: pa.table({"x": np.arange(100, dtype=np.float64)}) for k in range(6)}  # 800 B each
    for k in range(5):
        cache.put((k,), tables[k])
    assert cache.get((0,)).equals(tables[0])  # 0 is now the most recently used
    cache.put((5,), tables[5])
    assert cache.nbytes <= 4_000
    assert cache.get((1,)) is None and cache.get((0,)) is not None and cache.get((5,)).equals(tables[5])
    cache.put(("big",), pa.table({"x": np.zeros(1_000)}))  # 8 kB: over a quarter of the bound
    assert cache.get(("big",)) is None
