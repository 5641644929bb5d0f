"""Hostile input over gRPC against a real ``python -m streamvis.grpc_server``.

Every ``DataService`` call is fuzzed (hypothesis) with random and mutated messages: only
proper status codes come back (never UNKNOWN or INTERNAL), every call ends within its
deadline, the server logs no traceback and stays healthy; the number of inputs is
printed. Hostile parameters (100k-character strings, regexes that backtrack
catastrophically under Python's ``re``, unicode) are answered quickly. Mangled cursors
reset instead of reading as damage.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.storage import Store
from tests.hardening.hostile_support import (
    DEADLINE,
    EVIL,
    EVIL_NAME,
    EVIL_SCOPE,
    FAST,
    HYP,
    HYP_READS,
    LONG,
    PROTOCOL_MD,
    UNI_SCOPE,
    _healthy,
    _seed,
    _set,
    _valid_cursor,
    append_requests,
    call,
    cursors,
    data_service_methods,
    expect_proper,
    f64,
    hostile_env,
    i64,
    opt_text,
    raw_call,
    text,
    u64,
)

env = pytest.fixture(scope="module")(hostile_env)


# --------------------------------------------------------------------------- gRPC fuzz
def test_fuzz_reads(env: dict[str, Any]) -> None:
    """Listings and reads with random selectors, patterns, cursors and bounds."""
    valid = _valid_cursor(env)

    @HYP_READS
    @given(data=st.data())
    def one(data: Any) -> None:
        method = data.draw(
            st.sampled_from(
                [
                    "Scopes",
                    "Names",
                    "Configs",
                    "Schemas",
                    "Groups",
                    "Cursor",
                    "Fetch",
                    "ReadRange",
                    "ReadRanges",
                    "Subscribe",
                ]
            )
        )
        if method == "Names":
            req: Any = spb.NamesRequest(scope=data.draw(text))
        elif method == "Schemas":
            req = spb.SchemasRequest(scope=data.draw(text))
        elif method == "Configs":
            req = _set(spb.ConfigsRequest(), scope_pattern=data.draw(opt_text))
        elif method == "Groups":
            req = _set(
                spb.GroupsRequest(),
                scope_pattern=data.draw(opt_text),
                name_pattern=data.draw(opt_text),
            )
        elif method in ("Fetch", "Subscribe"):
            req = _set(
                spb.FetchRequest(),
                scope=data.draw(opt_text),
                name=data.draw(opt_text),
                scope_pattern=data.draw(opt_text),
                name_pattern=data.draw(opt_text),
                since=data.draw(cursors(valid)),
            )
        elif method in ("ReadRange", "ReadRanges"):
            ranges = [
                _set(
                    spb.ReadRangeRequest(
                        scope=data.draw(st.sampled_from(["base", UNI_SCOPE]) | text),
                        name=data.draw(st.sampled_from(["y", EVIL_NAME]) | text),
                        index=data.draw(i64),
                        smoothing=data.draw(st.sampled_from([0.0, 0.5]) | f64),
                    ),
                    x_min=data.draw(st.one_of(st.none(), f64)),
                    x_max=data.draw(st.one_of(st.none(), f64)),
                    max_points=data.draw(st.one_of(st.none(), u64)),
                    upto=data.draw(st.one_of(st.none(), u64)),
                    x_column=data.draw(opt_text),
                )
                for _ in range(data.draw(st.integers(1 if method == "ReadRange" else 0, 3)))
            ]
            req = ranges[0] if method == "ReadRange" else spb.ReadRangesRequest(ranges=ranges)
        elif method == "Scopes":
            req = spb.ScopesRequest()
        else:
            req = spb.CursorRequest()
        expect_proper(env, method, req)

    one()
    _healthy(env)


def test_fuzz_writes(env: dict[str, Any]) -> None:
    """Append (streamed and single), WriteConfig and Delete with random and forged
    messages: refused with INVALID_ARGUMENT (or stored); the log stays readable."""

    @HYP
    @given(reqs=append_requests(), method=st.sampled_from(["Append", "AppendBatch"]))
    def appends(reqs: list[spb.AppendRequest], method: str) -> None:
        expect_proper(env, method, reqs if method == "Append" else reqs[0])

    @HYP
    @given(scope=text, body=st.one_of(text, st.just("{}"), st.just('{"x": NaN}')), name=text)
    def configs_and_deletes(scope: str, body: str, name: str) -> None:
        expect_proper(env, "WriteConfig", dpb.Config(scope="fz-" + scope, json=body))
        expect_proper(env, "Delete", dpb.Delete(scope="fz-" + scope, name=name))

    appends()
    configs_and_deletes()
    _healthy(env)
    store = Store.open(env["path"], mode="r")  # everything stored reads back
    try:
        store.read_arrays()
        assert store.read_arrays(scope="base")
    finally:
        store.close()


def test_forged_lengths_are_refused_without_allocating(env: dict[str, Any]) -> None:
    """A column claiming billions of rows in a few bytes (every encoding) is refused at
    once; the server's memory does not jump."""
    pid = env["server"].proc.pid
    before = _vm_hwm(pid)
    for encoding in (dpb.RAW, dpb.ZSTD, dpb.DELTA, dpb.DELTA_ZSTD, dpb.LINEAR):
        for length in (10**9, 2**40, 2**64 - 1):
            data = np.array([0, 1], dtype=np.int64).tobytes()
            cols = [
                dpb.Column(name=c, dtype=dpb.INT64, encoding=encoding, length=length, data=data)
                for c in ("x", "y")
            ]
            req = spb.AppendRequest(writer_id=b"forged")
            p = req.items.add().points
            p.scope, p.name, p.index = "fz-forged", "y", 0
            p.columns.extend(cols)
            code, details, dt = call(env, "AppendBatch", req)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (encoding, length, code, details)
            assert dt < FAST, (encoding, length, dt)
    grew = _vm_hwm(pid) - before
    assert grew < 200_000, f"server peak RSS grew by {grew} KiB on forged lengths"
    _healthy(env)


def _vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------- RPC params
def test_rpc_hostile_patterns_are_fast(env: dict[str, Any]) -> None:
    """Catastrophic-backtracking patterns against names logged to trigger them, 100k
    strings, unicode: answered (or refused) quickly, correct matches."""
    from streamvis.server.client import GrpcSource

    src = GrpcSource(env["uri"], timeout=DEADLINE)
    try:
        cases = [
            dict(scope_pattern=EVIL),
            dict(name_pattern=EVIL),
            dict(scope_pattern=EVIL, name_pattern=EVIL),
            dict(scope_pattern="(a|aa)+$"),
            dict(scope_pattern="(a*)*b$"),  # matches EVIL_SCOPE: RE2 is linear anyway
            dict(name_pattern="^(a+)+b$"),
            dict(scope_pattern="^ünï cødé 😀 / run\u200b 1$"),
        ]
        for sel in cases:
            t0 = time.monotonic()
            groups = src.groups(**sel)
            r = src.fetch(**sel)
            dt = time.monotonic() - t0
            assert dt < FAST, (sel, dt)
            got = {(g.scope, g.name) for g in groups}
            assert set(r.tables) == got, sel
        assert {g.scope for g in src.groups(scope_pattern="(a*)*b$")} == {EVIL_SCOPE}
        assert {g.name for g in src.groups(name_pattern="^(a+)+b$")} == {EVIL_NAME}
        assert not src.groups(scope_pattern=EVIL)  # 'aaa…b' does not end in a's
        assert {g.scope for g in src.groups(scope_pattern="😀")} == {UNI_SCOPE}
        for bad in (LONG, "(" * 50_000, "a" * 4097, "[z-a]", "\\p{Nope}", "(a)\\1"):
            t0 = time.monotonic()
            with pytest.raises(Exception) as info:
                src.groups(scope_pattern=bad)
            assert type(info.value).__name__ == "InvalidArgumentError", info.value
            assert len(str(info.value)) < 2000, "the message echoes a 100k pattern"
            assert time.monotonic() - t0 < FAST
        # long and unicode exact names: NOT_FOUND / empty, quickly
        for name in (LONG, "\u0000", "😀" * 1000, UNI_SCOPE + "x"):
            t0 = time.monotonic()
            assert src.fetch(scope=name).tables == {}
            assert time.monotonic() - t0 < FAST
    finally:
        src.close()
    _healthy(env)



def test_mangled_cursor_resets(tmp_path: Path) -> None:
    """Regression: a cursor pointing inside a record (offset 1) was read as a damaged
    log (DATA_LOSS, 'run streamvis verify'); negative or future offsets likewise. Such a
    cursor now means 'read again from the start' (CursorResetError), the log is fine."""
    from streamvis.errors import CursorResetError

    path = str(tmp_path / "c.svl")
    _seed(path)
    store = Store.open(path, mode="r")
    try:
        doc = json.loads(base64.urlsafe_b64decode(store.cursor()))
        end = doc["p"][""]
        for offset in (1, 7, -1, end + 1, 2**62):
            doc["p"] = {"": offset}
            since = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
            with pytest.raises(CursorResetError, match="batch boundary"):
                store.read(since=since)
        doc["p"] = {"": end}
        since = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
        assert store.read(since=since).tables == {}
        assert store.read_arrays(scope="base")
    finally:
        store.close()


# --------------------------------------------------------------------------- finding 8
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|<class ")


def _refused(env: dict[str, Any], method: str, request: Any, *named: str) -> str:
    """Send ``request`` raw; it must come back INVALID_ARGUMENT, one line naming each of
    ``named``, without a Python class name."""
    m = next(m for m in data_service_methods() if m.name == method)
    payload = request if isinstance(request, bytes) else request.SerializeToString()
    code, details, got = raw_call(env["channel"], m, payload, PROTOCOL_MD)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, code, details)
    assert got == 0 and "\n" not in details, details
    assert not CLASS_NAME.search(details), details
    for word in named:
        assert word in details, (word, details)
    return details


def _points_request(scope: str, *columns: dpb.Column) -> spb.AppendRequest:
    req = spb.AppendRequest()
    p = req.items.add().points
    p.scope, p.name, p.index = scope, "y", 0
    p.columns.extend(columns)
    return req


def test_linear_float_column_is_invalid_argument(env: dict[str, Any]) -> None:
    """Regression: a LINEAR float64 column with a step (np.iinfo of a float) came back
    UNKNOWN/INTERNAL with ValueError; NaN as its value likewise."""
    x = dpb.Column(
        name="x", dtype=dpb.INT64, encoding=dpb.RAW, length=3,
        data=np.arange(3, dtype=np.int64).tobytes(),
    )
    for first, step in ((0.0, 1.5), (float("nan"), 0.0), (1.0, float("inf"))):
        y = dpb.Column(
            name="ylin", dtype=dpb.FLOAT64, encoding=dpb.LINEAR, length=3,
            data=np.array([first, step]).tobytes(),
        )
        req = _points_request("fz-linear", x, y)
        for method in ("AppendBatch", "Append"):
            _refused(env, method, req, "'ylin'", "LINEAR", "'fz-linear'")
    _healthy(env)


def test_deeply_nested_config_is_invalid_argument(env: dict[str, Any]) -> None:
    """Regression: a config nested 5,000 deep raised RecursionError (INTERNAL)."""
    deep = '{"a": ' * 5000 + "1" + "}" * 5000
    _refused(env, "WriteConfig", dpb.Config(scope="fz-deep", json=deep), "config", "'fz-deep'")
    req = spb.AppendRequest(writer_id=b"deep")
    req.items.add().config.CopyFrom(dpb.Config(scope="fz-deep", json="[" * 5000 + "]" * 5000))
    _refused(env, "AppendBatch", req, "config", "'fz-deep'")
    _healthy(env)


def test_garbage_protobuf_is_invalid_argument_for_every_call(env: dict[str, Any]) -> None:
    """Regression: bytes that are not the request message came back UNKNOWN with
    "Unexpected <class 'google.protobuf.message.DecodeError'>" (INTERNAL for Append).
    Every method of the service, from its descriptor; also a string field holding
    bytes that are not UTF-8."""
    bad_utf8 = b"\x0a\x02\xff\xfe"  # field 1 (a string in every request that has one)
    for m in data_service_methods():
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\x05ab", bad_utf8):
            code, details, got = raw_call(env["channel"], m, garbage, PROTOCOL_MD)
            if garbage is bad_utf8 and code == grpc.StatusCode.OK:
                continue  # field 1 is bytes here (AppendRequest.writer_id): valid
            assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (
                m.name, garbage, code, details,
            )
            if code == grpc.StatusCode.INVALID_ARGUMENT and garbage is not bad_utf8:
                assert f"the {m.name} request is not a valid" in details, details
            assert got == 0 and not CLASS_NAME.search(details), (m.name, details)
    _healthy(env)


def test_nul_in_a_column_name_is_refused(env: dict[str, Any]) -> None:
    """Regression: a NUL in a column name was stored (scope and name refused it)."""
    col = dpb.Column(
        name="y\x00z", dtype=dpb.FLOAT64, encoding=dpb.RAW, length=2,
        data=np.arange(2.0).tobytes(),
    )
    _refused(env, "AppendBatch", _points_request("fz-nul", col), "column", "NUL")
    store = Store.open(env["path"], mode="r")
    try:
        assert "fz-nul" not in store.scopes()
    finally:
        store.close()


def test_read_ranges_errors_are_invalid_argument(env: dict[str, Any]) -> None:
    """Regression: ReadRanges lacked the error translation: a bad range came back UNKNOWN
    with "Unexpected <class 'streamvis.errors.InvalidArgumentError'>"."""
    bad = spb.ReadRangeRequest(scope="base", name="y", index=0, smoothing=2.0)
    _refused(env, "ReadRanges", spb.ReadRangesRequest(ranges=[bad]), "smoothing", "2.0")


def test_read_ranges_is_capped_and_clients_split(env: dict[str, Any]) -> None:
    """One ReadRanges call takes at most MAX_RANGES ranges (INVALID_ARGUMENT naming the
    cap); the client splits a longer list, so the web app's 100,000-group reads work."""
    from streamvis.server.client import GrpcSource
    from streamvis.server.protocol import MAX_RANGES
    from streamvis.storage import RangeRequest

    one = spb.ReadRangeRequest(scope="base", name="y", index=0)
    over = spb.ReadRangesRequest(ranges=[one] * (MAX_RANGES + 1))
    t0 = time.monotonic()
    _refused(env, "ReadRanges", over, f"{MAX_RANGES:,}", f"{MAX_RANGES + 1:,}")
    assert time.monotonic() - t0 < FAST
    reqs = [RangeRequest("base", "y", i % 3) for i in range(MAX_RANGES + 500)]
    with GrpcSource(env["uri"], timeout=60) as src:
        result = src.read_ranges(reqs)
    assert len(result.tables) == len(reqs) == len(result.counts)
    assert [t is None for t in result.tables[:3]] == [False, False, True]  # index 2: none
    assert result.tables[-1] is not None and result.tables[-1].num_rows == 50
    later = [i for i in range(MAX_RANGES, len(reqs)) if i % 3 < 2]  # the second call's
    assert all(result.counts[i] == 50 and result.tables[i] is not None for i in later)
    _healthy(env)
