"""Scopes, names and column names with unicode, spaces, slashes, separators and the
longest strings allowed (1,024 bytes) round-trip through the Store (fresh, reopened from
its index, rebuilt without it), ``script.export``, ``script.export_arrow``, ``script.export_parquet`` and
the DataLogger."""

from __future__ import annotations

import os
import urllib.parse

import numpy as np
import pyarrow.parquet as pq
import pytest

from streamvis import script
from streamvis.logger import DataLogger
from streamvis.storage import ConfigUpdate, Points, Store

# as long as a key may be (streamvis.limits: 1,024 bytes of UTF-8; longer ones are
# refused, tests/hardening/test_hostile_limits.py)
LONG = "x" * 1024
LONG_UNICODE = "é🚀" * 170 + "éé"  # 342 characters, 1,024 UTF-8 bytes

KEYS = [
    "plain",
    "with space",
    "a/b/c",
    "/leading and trailing/",
    "ünïcødé",
    "日本語のスコープ",
    "emoji 🚀🔥",
    "comma,and:colon;semi",
    "tab\tnew\nline",
    "percent %2F %",
    "quote'\"",
    "back\\slash",
    "=eq=",
    "..",
    ".",
    "\u202eright-to-left",
    "zero\u200bwidth",
    LONG,
    LONG_UNICODE,
]
COLUMNS = ["x", "col with space", "c/1", "ü", "🚀", "a,b", "k:v", "a:b,c:d", "c" * 1024, "ζ" * 512]


def _columns(i: int, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for j, c in enumerate(COLUMNS):
        if c == "x":
            out[c] = np.arange(n, dtype=np.int64)
        elif j % 2:
            out[c] = np.full(n, i * 100 + j, np.float64)
        else:
            out[c] = np.arange(n, dtype=np.int32) * j + i
    return out


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """A log with every (scope, name) pair on the diagonal and a few across, plus configs."""
    path = str(tmp_path_factory.mktemp("uni") / "u.log")
    expected: dict[tuple[str, str, int], dict[str, np.ndarray]] = {}
    with Store.open(path, "a") as s:
        for i, scope in enumerate(KEYS):
            name = KEYS[(i * 7 + 3) % len(KEYS)]
            cols = _columns(i, 5 + i)
            s.append([Points(scope, name, i, cols), ConfigUpdate(scope, {scope[:50]: name[:50], "k": i})])
            expected[(scope, name, i)] = cols
    return path, expected


def _check_store(s: Store, expected: dict) -> None:
    assert s.scopes() == KEYS
    for (scope, name, index), cols in expected.items():
        assert name in s.names(scope)
        assert list(s.schema(scope, name)) == COLUMNS
        assert s.config(scope)["k"] == KEYS.index(scope)
        t = s.read(scope, name).tables[(scope, name)]
        assert t.column_names == ["index", *COLUMNS]
        assert t.column("index").to_numpy().tolist() == [index] * len(cols["x"])
        for c, arr in cols.items():
            np.testing.assert_array_equal(t.column(c).to_numpy(), arr, err_msg=f"{scope!r} {c!r}")
        r = s.read_range(scope, name, index)
        assert r.column_names == COLUMNS
        np.testing.assert_array_equal(r.column(COLUMNS[-1]).to_numpy(), cols[COLUMNS[-1]])
    groups = {(g.scope, g.name, g.index) for g in s.groups()}
    assert groups == set(expected)


def test_store_round_trip_fresh_reopened_and_rebuilt(log) -> None:
    path, expected = log
    with Store.open(path) as s:  # the index written at close
        assert s._load_index()  # noqa: SLF001 - it was really used
        _check_store(s, expected)
    os.unlink(path + ".idx")
    with Store.open(path) as s:  # rebuilt from the log alone
        _check_store(s, expected)
        s.save_index()
    with Store.open(path) as s:  # and from the index that rebuild saved
        assert s._load_index()  # noqa: SLF001
        _check_store(s, expected)


def test_script_export_and_export_arrow(log) -> None:
    path, expected = log
    assert script.scopes(path) == KEYS
    data = script.export(path)
    assert set(data) == set(expected)
    for key, cols in expected.items():
        assert list(data[key]) == COLUMNS
        for c, arr in cols.items():
            np.testing.assert_array_equal(data[key][c], arr)
    tables = script.export_arrow(path)
    assert set(tables) == {(s, n) for s, n, _ in expected}
    for scope, name, _ in expected:
        assert tables[(scope, name)].column_names == ["index", *COLUMNS]
        one = script.export_arrow(path, scope=scope, name=name)
        assert list(one) == [(scope, name)]


def test_export_parquet(log, tmp_path) -> None:
    path, expected = log
    out = str(tmp_path / "pq")
    res = script.export_parquet(path, out)
    assert res.points == sum(len(c["x"]) for c in expected.values())
    seen = set()
    for f in res.files:
        rel = os.path.relpath(f, out).split(os.sep)
        scope, name = _partition_value(rel[0], "scope"), _partition_value(rel[1], "name")
        t = pq.read_table(f)
        meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
        assert all(len(part.encode()) <= 255 for part in rel)  # NAME_MAX
        for got, key in ((scope, "scope"), (name, "name")):  # hive values exact unless cut
            full = meta[f"streamvis.{key}"]
            assert got == full or len(urllib.parse.quote(full, safe="")) > 200
        scope, name = meta["streamvis.scope"], meta["streamvis.name"]
        assert t.column_names == ["index", *COLUMNS]
        index = int(t.column("index")[0].as_py())
        cols = expected[(scope, name, index)]
        for c, arr in cols.items():
            np.testing.assert_array_equal(t.column(c).to_numpy(), arr)
        seen.add((scope, name))
    assert seen == {(s, n) for s, n, _ in expected}


def _partition_value(part: str, key: str) -> str:
    assert part.startswith(key + "=")
    return urllib.parse.unquote(part[len(key) + 1 :])


def test_logger_round_trip(tmp_path) -> None:
    path = str(tmp_path / "lg.log")
    for scope in dict.fromkeys(KEYS[::3] + [LONG_UNICODE]):
        lg = DataLogger(scope).init(path=path, flush_every=3600)
        for name in KEYS[1:: 4]:
            lg.write(name, **{"x": np.arange(4), "🚀 y/z,w:v": np.arange(4) * 0.5})
        lg.write_config({"ünï": scope[:20]})
        assert lg.flush(timeout=10)
        lg.close()
    with Store.open(path) as s:
        for scope in dict.fromkeys(KEYS[::3] + [LONG_UNICODE]):
            assert s.config(scope) == {"ünï": scope[:20]}
            for name in KEYS[1:: 4]:
                t = s.read(scope, name).tables[(scope, name)]
                assert t.column_names == ["index", "x", "🚀 y/z,w:v", "wall_time"]
                assert t.column("🚀 y/z,w:v").to_numpy().tolist() == [0, 0.5, 1.0, 1.5]
