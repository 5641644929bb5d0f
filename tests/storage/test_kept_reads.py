"""Range reads answered from kept smoothed columns (``SmoothCache``) are the answers a
cold store gives: after appends, deletions, a name logged again, and whatever order of
reads. (A name deleted and logged again with no more
points than before was once drawn smoothed with the old values.)"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.storage import Deletion, Points, Store
from streamvis.storage.read.ranges import RangeRequest

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
