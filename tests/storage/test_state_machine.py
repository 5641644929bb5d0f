"""A hypothesis state machine: random append/config/delete/compact/reopen sequences
must always read back exactly what a plain-Python model says, including through a
live cursor that follows every step."""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from streamvis.errors import SchemaMismatchError
from streamvis.storage import Deletion, Points, Store
from streamvis.storage.compaction import compact

SCOPES = ["a", "b/с"]  # a slash and a Cyrillic letter
NAMES = ["loss", "acc ★"]
DTYPES = [np.float32, np.float64, np.int32, np.int64]
values = st.lists(
    st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=0, max_size=6
)


class LogModel(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.path = f"{self.dir}/m.log"
        self.store = Store.open(self.path, "a", fsync=False)
        self.model: dict[tuple[str, str], dict[int, list[np.ndarray]]] = {}
        self.schemas: dict[tuple[str, str], np.dtype] = {}
        self.configs: dict[str, dict] = {}
        self.follower = Store.open(self.path)
        self.live: dict[tuple[str, str], dict[int, list]] = {}
        self.cursor = self.follower.cursor()

    def teardown(self) -> None:
        self.store.close()
        self.follower.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(scope=st.sampled_from(SCOPES), name=st.sampled_from(NAMES), index=st.integers(0, 2),
          vals=values, dtype=st.sampled_from(DTYPES))
    def append(self, scope, name, index, vals, dtype) -> None:
        arr = np.array(vals, dtype=np.float32).astype(dtype) if np.dtype(dtype).kind == "f" else \
            np.clip(np.nan_to_num(np.array(vals, np.float64)), -1e9, 1e9).astype(dtype)
        item = Points(scope, name, index, {"v": arr})
        key = (scope, name)
        if key in self.schemas and self.schemas[key] != arr.dtype:
            try:
                self.store.append([item])
            except SchemaMismatchError:
                return
            raise AssertionError("schema mismatch not caught")
        self.store.append([item])
        self.schemas[key] = arr.dtype
        self.model.setdefault(key, {}).setdefault(index, []).append(arr)

    @rule(scope=st.sampled_from(SCOPES), lr=st.floats(0, 1))
    def config(self, scope, lr) -> None:
        self.store.write_config(scope, {"lr": lr})
        self.configs[scope] = {"lr": lr}

    @rule(scope=st.sampled_from(SCOPES), name=st.none() | st.sampled_from(NAMES))
    def delete(self, scope, name) -> None:
        self.store.append([Deletion(scope, name)])
        for key in [k for k in self.model if k[0] == scope and name in (None, k[1])]:
            del self.model[key]
            del self.schemas[key]
        if name is None:
            self.configs.pop(scope, None)

    @rule(scope=st.sampled_from(SCOPES), name=st.sampled_from(NAMES), vals=values)
    def delete_and_restart_in_one_batch(self, scope, name, vals) -> None:
        arr = np.array(vals, dtype=np.float64)
        self.store.append([Deletion(scope, name), Points(scope, name, 0, {"v": arr})])
        self.model[(scope, name)] = {0: [arr]}
        self.schemas[(scope, name)] = arr.dtype

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store.open(self.path, "a", fsync=False)

    @rule()
    def compact(self) -> None:
        self.store.close()
        compact(self.path)
        self.store = Store.open(self.path, "a", fsync=False)
        self.live = {}
        self.cursor = None  # an old cursor must be reset: re-read from scratch

    def _expected(self) -> dict:
        return {
            key: {i: np.concatenate(parts) for i, parts in by_index.items()}
            for key, by_index in self.model.items()
        }

    @invariant()
    def reads_match_the_model(self) -> None:
        if not hasattr(self, "store"):
            return
        got = self.store.read().tables
        want = self._expected()
        assert set(got) == set(want)
        for key, rows in want.items():
            table = got[key]
            index = table.column("index").to_numpy()
            v = table.column("v").to_numpy()
            for i, arr in rows.items():
                assert v[index == i].tobytes() == arr.tobytes(), (key, i)
        assert self.store.configs() == {s: c for s, c in self.configs.items() if s in self.store.scopes()}

    @invariant()
    def a_follower_sees_the_same(self) -> None:
        if not hasattr(self, "store"):
            return
        res = self.follower.read(since=self.cursor)
        for scope, name in res.deleted:
            for key in [k for k in self.live if k[0] == scope and name in (None, k[1])]:
                del self.live[key]
        for key, table in res.tables.items():
            index = table.column("index").to_numpy()
            v = table.column("v").to_numpy()
            self.live.setdefault(key, {})
            for i in np.unique(index):
                self.live.setdefault(key, {}).setdefault(int(i), []).append(v[index == i])
        self.cursor = res.cursor
        want = self._expected()
        assert set(self.live) == set(want)
        for key, rows in want.items():
            for i, arr in rows.items():
                got = np.concatenate(self.live[key].get(i, [arr[:0]]))
                assert got.tobytes() == arr.tobytes()


LogModel.TestCase.settings = settings(stateful_step_count=25, deadline=None)
TestLogModel = LogModel.TestCase
