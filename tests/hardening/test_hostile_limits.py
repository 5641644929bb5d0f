"""The log side of the hostile-input suite: very long strings, NUL, numbers outside
float64 and deep nesting, fed through the logger API (at the call site), ``Store.append``
and the data server (which appends through the store). Each is refused with one line
naming the limit and the bad key, and nothing of the refused call is stored.

Adding a hostile value or a surface is one line in ``BAD_KEYS``/``BAD_CONFIGS`` or
``KEY_SURFACES``/``CONFIG_SURFACES``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from streamvis.errors import InvalidArgumentError
from streamvis.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_KEY_BYTES
from streamvis.logger import DataLogger
from streamvis.server.client import DataClient
from streamvis.storage import ConfigUpdate, Points, Store
from tests.server.conftest import shared_server  # noqa: F401 - the fixture


def _nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"leaf": leaf}
    for _ in range(depth - 1):
        out = {"n": out}
    return out


# (label, bad key, what the message must say)
BAD_KEYS: list[tuple[str, str, str]] = [
    ("one byte over", "x" * (MAX_KEY_BYTES + 1), "the limit is 1,024 bytes"),
    ("over in UTF-8 bytes", "é" * (MAX_KEY_BYTES // 2 + 1), "the limit is 1,024 bytes"),
    ("3 MB", "y" * 3_000_000, "the limit is 1,024 bytes"),
    ("NUL", "a\x00b", "NUL"),
    ("NUL alone", "\x00", "NUL"),
]
# (label, bad config, what the message must say)
BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("int over float64", {"seed": 10**309}, "'seed': the integer about 10^309 does not fit a float64"),
    ("negative", {"seed": -(10**400)}, "about -10^400 does not fit a float64"),
    ("nested number", {"a": {"b": [0, {"c": 2**1024}]}}, "'a.b[1].c'"),
    ("long key", {"k" * (MAX_KEY_BYTES + 1): 1}, "the limit is 1,024 bytes"),
    ("long nested key", {"a": {"é" * 600: 1}}, "the limit is 1,024 bytes"),
    ("NUL key", {"a\x00": 1}, "NUL"),
    ("65 levels", _nested(MAX_CONFIG_DEPTH + 1), "the limit is 64 levels"),
    ("5,000 levels", _nested(5000), "the limit is 64 levels"),
    ("over 1 MiB", {"blob": "z" * MAX_CONFIG_BYTES}, "the limit is 1,048,576 bytes"),
]
# configs just inside every limit: stored as they are
GOOD_CONFIGS: list[dict[str, Any]] = [
    {"big": 10**308, "max": 2**1024 - 2**970, "over_int64": 2**64, "neg": -(10**300)},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "f": 1e308},
    {"k" * MAX_KEY_BYTES: 1, "é" * (MAX_KEY_BYTES // 2): 2},
    _nested(MAX_CONFIG_DEPTH),
    {"blob": "z" * (MAX_CONFIG_BYTES - 20)},
]


def _pts(scope: str = "ok", name: str = "loss", col: str = "y") -> Points:
    return Points(scope, name, 0, {"x": np.arange(3), col: np.ones(3)})


# where a key can go: (label, build the items of one append)
KEY_SURFACES: list[tuple[str, Callable[[str], list[Any]]]] = [
    ("scope", lambda k: [_pts(scope=k)]),
    ("name", lambda k: [_pts(name=k)]),
    ("column name", lambda k: [_pts(col=k)]),
    ("config's scope", lambda k: [ConfigUpdate(k, {"lr": 0.1})]),
    ("config key", lambda k: [ConfigUpdate("ok", {k: 1})]),
]


def _check_message(exc: BaseException, must: str) -> None:
    msg = str(exc)
    assert isinstance(exc, InvalidArgumentError), repr(exc)
    assert "\n" not in msg, msg  # one line
    assert must in msg, msg
    assert len(msg) < 600, f"the message echoes the value: {len(msg)} characters"


def _contents(path: str) -> tuple[int, list[str], dict[str, Any]]:
    with Store.open(path) as s:
        return os.path.getsize(path), s.scopes(), s.configs()


@pytest.fixture
def log(tmp_path) -> str:
    path = str(tmp_path / "limits.svl")
    with Store.open(path, "a") as s:
        s.append([_pts("base")])
    return path


@pytest.mark.parametrize("surface", [s[0] for s in KEY_SURFACES])
@pytest.mark.parametrize("label", [k[0] for k in BAD_KEYS])
def test_store_refuses_keys_and_stores_nothing(log: str, surface: str, label: str) -> None:
    _, key, must = next(k for k in BAD_KEYS if k[0] == label)
    items = dict(KEY_SURFACES)[surface](key)
    before = _contents(log)
    with Store.open(log, "a") as s:
        with pytest.raises(InvalidArgumentError) as info:
            s.append([_pts("good-in-the-same-batch"), *items])
    _check_message(info.value, must)
    kind = "config key" if surface == "config key" else surface.replace("config's ", "")
    assert kind in str(info.value)
    assert _contents(log) == before  # the batch's valid item was not stored either


@pytest.mark.parametrize("label", [c[0] for c in BAD_CONFIGS])
def test_store_refuses_configs_and_stores_nothing(log: str, label: str) -> None:
    _, config, must = next(c for c in BAD_CONFIGS if c[0] == label)
    before = _contents(log)
    with Store.open(log, "a") as s:
        with pytest.raises(InvalidArgumentError) as info:
            s.append([_pts("good-in-the-same-batch"), ConfigUpdate("run", config)])
    _check_message(info.value, must)
    assert "scope 'run'" in str(info.value)
    assert _contents(log) == before


def test_store_keeps_what_is_inside_the_limits(log: str) -> None:
    edge = "é" * (MAX_KEY_BYTES // 2)  # exactly 1,024 bytes
    with Store.open(log, "a") as s:
        s.append([_pts(edge, edge, edge)])
        for i, config in enumerate(GOOD_CONFIGS):
            s.append([ConfigUpdate(f"good{i}", config)])
    with Store.open(log) as s:
        assert s.schema(edge, edge).keys() == {"x", edge}
        for i, config in enumerate(GOOD_CONFIGS):
            got = s.config(f"good{i}")
            assert got.keys() == config.keys()
            for k, v in config.items():
                assert got[k] == v or (v != v and got[k] != got[k]), k  # NaN == NaN


# -- the logger: refused at the call site, before anything is queued -------------------------


def test_logger_refuses_at_the_call_site(tmp_path) -> None:
    path = str(tmp_path / "lg.svl")
    for _, key, must in BAD_KEYS:
        with pytest.raises(InvalidArgumentError) as info:
            DataLogger(key)
        _check_message(info.value, must)
        assert "scope" in str(info.value)
    lg = DataLogger("run").init(path=path, flush_every=3600)
    try:
        for _, key, must in BAD_KEYS:
            for kwargs in ({"name": key, "y": 1.0}, {"name": "loss", key: 1.0}):
                name = kwargs.pop("name")
                with pytest.raises(InvalidArgumentError) as info:
                    lg.write(name, **kwargs)
                _check_message(info.value, must)
            with pytest.raises(InvalidArgumentError) as info:
                lg.write_config({key: 1})
            _check_message(info.value, must)
        for _, config, must in BAD_CONFIGS:
            with pytest.raises(InvalidArgumentError) as info:
                lg.write_config(config)
            _check_message(info.value, must)
            assert "scope 'run'" in str(info.value)
        lg.write("loss", y=1.0)  # the logger goes on
        assert lg.flush(timeout=10)
        assert lg.stats()["refused_points"] == 0  # nothing bad reached the store
    finally:
        lg.close()
    with Store.open(path) as s:
        assert s.scopes() == ["run"] and s.names("run") == ["loss"]
        assert s.config("run") == {}


def test_logger_keeps_configs_inside_the_limits(tmp_path) -> None:
    path = str(tmp_path / "lg.svl")
    config = {**GOOD_CONFIGS[0], **GOOD_CONFIGS[1]}
    with DataLogger("run").init(path=path, flush_every=3600) as lg:
        lg.write_config(config)
    with Store.open(path) as s:
        got = s.config("run")
    assert {k: v for k, v in got.items() if k != "nan"} == {
        k: v for k, v in config.items() if k != "nan"}
    assert math.isnan(got["nan"])


# -- the data server: appends through the store, refuses the same ---------------------------


def test_server_refuses_the_same(shared_server) -> None:  # noqa: F811 - the fixture
    with DataClient(shared_server.uri) as client:
        for _, key, must in BAD_KEYS[:4]:
            for _surface, build in KEY_SURFACES:
                with pytest.raises(InvalidArgumentError) as info:
                    client.append([_pts("srv-good"), *build(key)])
                _check_message(info.value, must)
        for _label, config, must in BAD_CONFIGS:
            with pytest.raises(InvalidArgumentError) as info:
                client.append([ConfigUpdate("srv-run", config)])
            _check_message(info.value, must.split(":")[0])
        client.append([ConfigUpdate("srv-run", GOOD_CONFIGS[0])])
        assert "srv-good" not in client.scopes()
        assert client.configs()["srv-run"] == GOOD_CONFIGS[0]
