"""Hostile input against the real servers: fuzzed gRPC requests and hostile page URLs.

* Every ``DataService`` call is fuzzed (hypothesis) with random and mutated messages
  sent to a real ``python -m streamvis.grpc_server`` subprocess: only proper status
  codes come back (never UNKNOWN or INTERNAL), every call ends within its deadline,
  the server logs no traceback and stays healthy. The number of inputs is printed.
* Hostile parameters (100k-character strings, regexes that backtrack catastrophically
  under Python's ``re`` against names logged to trigger it, unicode, thousands of
  plots) get a readable message or a correct page quickly, over RPC and over HTTP
  from a real ``streamvis web-serve``, and both servers answer afterwards.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server import wire
from streamvis.storage import ConfigUpdate, Points, Store
from tests.helpers import wait_for
from tests.server.conftest import ROOT, free_port, wait_serving
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

DEADLINE = 15.0  # seconds per call: generous on a loaded machine; a hang fails
FAST = 5.0  # seconds: a hostile page or call must be answered within this
EVIL = "(a+)+$"  # exponential under Python's re against 'aaaa…b'
EVIL_SCOPE = "a" * 40 + "b"  # Python's re would need ~2**40 steps for EVIL on this
EVIL_NAME = "a" * 36 + "b"
UNI_SCOPE = "ünï cødé 😀 / run\u200b 1"
LONG = "x" * 100_000
WIDE_NAMES, WIDE_BIG = 130, 4500  # 130 escaped names: over 4096 characters; 4500 > budget
OK_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # a reply over the message size limit
}
COUNT: dict[str, int] = {}
HYP = settings(
    max_examples=int(os.environ.get("STREAMVIS_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("STREAMVIS_SOAK") != "1",
)

HYP_READS = settings(HYP, max_examples=4 * HYP.max_examples)

SCHEMA = """
metric:
  name_pattern: ^(y|metric)$
  columns: [x, y]
many:
  name_pattern: ^many/
  columns: [x, y]
evil:
  name_pattern: a+b$
  glyph_kind: scatter
  columns: [x, y]
"""


# --------------------------------------------------------------------------- servers
class Proc:
    """A subprocess whose output goes to a file (a pipe could fill and block it)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=self._out, env=env, cwd=ROOT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


def _seed(path: str) -> None:
    store = Store.open(path, mode="a")
    x = np.arange(50, dtype=np.float64)
    items: list[Any] = []
    for scope in ("base", EVIL_SCOPE, UNI_SCOPE):
        items.append(ConfigUpdate(scope, {"lr": 0.1, "note": scope[:20]}))
        for index in range(2):
            items.append(Points(scope, "y", index, {"x": x, "y": x * (index + 1)}))
        items.append(Points(scope, EVIL_NAME, 0, {"x": x, "y": -x}))
        items.append(Points(scope, "métrique ✓ / 1", 0, {"x": x, "y": x + 0.5}))
    # one scope with more names than one RE2 pattern of them can hold, and a big group
    for i in range(WIDE_NAMES):
        items.append(Points("wide", f"many/{'n' * 30}{i:03d}", 0, {"x": x[:5], "y": x[:5] + i}))
    big = np.arange(WIDE_BIG, dtype=np.float64)
    items.append(Points("wide", "many/big", 0, {"x": big, "y": big}))
    store.append(items)
    store.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("hostile")
    path = str(tmp / "hostile.svl")
    _seed(path)
    port = free_port()
    server = Proc([sys.executable, "-m", "streamvis.grpc_server", path, str(port)], tmp / "srv.log")
    uri = f"127.0.0.1:{port}"
    try:
        wait_serving(uri, server.proc)
        channel = grpc.insecure_channel(uri, options=wire.channel_options(64 << 20))
        yield {
            "tmp": tmp,
            "path": path,
            "uri": uri,
            "server": server,
            "channel": channel,
            "stub": spb_grpc.DataServiceStub(channel),
        }
        channel.close()
    finally:
        server.stop()
    print(
        "\nhostile input: inputs fuzzed per call:", json.dumps(COUNT), "total", sum(COUNT.values())
    )


def _healthy(env: dict[str, Any]) -> None:
    stub = health_pb2_grpc.HealthStub(env["channel"])
    reply = stub.Check(health_pb2.HealthCheckRequest(service="streamvis.DataService"), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    scopes = env["stub"].Scopes(spb.ScopesRequest(), timeout=10).scopes
    assert "base" in scopes
    out = env["server"].output()
    assert "Traceback" not in out and "internal error" not in out, out[-3000:]


def call(env: dict[str, Any], method: str, request: Any) -> tuple[grpc.StatusCode, str, float]:
    """Send one request; (status, details, seconds). Streams are read to their first
    complete batch (Subscribe never ends by itself)."""
    COUNT[method] = COUNT.get(method, 0) + 1
    stub, t0 = env["stub"], time.monotonic()
    fn = getattr(stub, method)
    try:
        if method in ("Groups", "Fetch", "ReadRange", "Subscribe"):
            stream = fn(request, timeout=DEADLINE)
            for msg in stream:
                if getattr(msg, "end_of_batch", False) and method == "Subscribe":
                    stream.cancel()
                    break
        elif method == "Append":
            fn(iter(request), timeout=DEADLINE)
        else:
            fn(request, timeout=DEADLINE)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.CANCELLED and method == "Subscribe":
            return grpc.StatusCode.OK, "", time.monotonic() - t0
        return exc.code(), exc.details() or "", time.monotonic() - t0
    return grpc.StatusCode.OK, "", time.monotonic() - t0


def expect_proper(env: dict[str, Any], method: str, request: Any) -> grpc.StatusCode:
    code, details, dt = call(env, method, request)
    assert code in OK_CODES, f"{method}({str(request)[:300]!r}) -> {code}: {details[:500]}"
    assert code == grpc.StatusCode.OK or details, f"{method}: {code} without a message"
    return code


# --------------------------------------------------------------------------- strategies
HOSTILE_TEXT = [
    "",
    "(",
    ")",
    "[z-a]",
    "*",
    "a{2,1}",
    "(?P<n>",
    "\\",
    "\\p{Nope}",
    EVIL,
    "(a|a)*$",
    "(.*a){20}",
    "\x00",
    "\ud800"[:0] + "\u0000x",
    "😀" * 100,
    "(?i)Y",
    "^$",
    ".*" * 2000,
    "a" * 5000,
    LONG,
    EVIL_SCOPE,
    UNI_SCOPE,
    "base",
    "y",
    "(?s).",
    "[[:alpha:]]",
    "\\C",
    "(?<=a)b",
    "(a)\\1",
    "a**",
    "x{100000}",
]
text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=40))
opt_text = st.one_of(st.none(), text)
i64 = st.one_of(
    st.sampled_from([0, 1, -1, 2**31, -(2**63), 2**63 - 1]), st.integers(-(2**63), 2**63 - 1)
)
u64 = st.one_of(st.sampled_from([0, 1, 2**32, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))
f64 = st.floats(allow_nan=True, allow_infinity=True)


def _valid_cursor(env: dict[str, Any]) -> str:
    return str(env["stub"].Cursor(spb.CursorRequest(), timeout=DEADLINE).cursor)


@st.composite
def cursors(draw: Any, valid: str) -> str | None:
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return None
    if kind == 1:
        return valid
    if kind == 2:
        return draw(text)
    if kind == 3:  # truncated or with a flipped character
        i = draw(st.integers(0, max(0, len(valid) - 1)))
        return valid[:i] + draw(st.sampled_from(["", "A", "_", "=", "é"])) + valid[i + 1 :]
    doc = json.loads(base64.urlsafe_b64decode(valid))
    if kind == 4:
        doc["g"] = draw(st.one_of(i64, st.text(max_size=5), st.none()))
    elif kind == 5:
        doc["p"] = draw(
            st.one_of(
                st.dictionaries(st.text(max_size=5), i64, max_size=3),
                st.lists(i64, max_size=3),
                st.text(max_size=5),
            )
        )
    elif kind == 6:
        doc["l"] = draw(st.one_of(st.text(max_size=40), st.integers()))
    else:
        doc = draw(st.one_of(st.dictionaries(st.text(max_size=3), st.integers()), st.lists(i64)))
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _set(msg: Any, **fields: Any) -> Any:
    for k, v in fields.items():
        if v is not None:
            setattr(msg, k, v)
    return msg


@st.composite
def columns(draw: Any) -> dpb.Column:
    dtype = draw(st.integers(0, 6))
    encoding = draw(st.integers(0, 6))
    itemsize = {1: 4, 2: 8, 3: 4, 4: 8}.get(dtype, 8)
    kind = draw(st.integers(0, 3))
    if kind == 0:  # consistent RAW
        n = draw(st.integers(0, 64))
        data = draw(st.binary(min_size=n * itemsize, max_size=n * itemsize))
        length = n
    elif kind == 1:  # forged length (bounded: the claim must never be allocated)
        data = draw(st.binary(max_size=64))
        length = draw(st.one_of(st.integers(0, 2**20), st.sampled_from([2**40, 2**63, 2**64 - 1])))
    elif kind == 2:  # LINEAR with a modest length
        data = draw(st.binary(min_size=2 * itemsize, max_size=2 * itemsize))
        length = draw(st.integers(0, 5000))
    else:
        data = draw(st.binary(max_size=200))
        length = draw(st.integers(0, 100))
    name = draw(st.sampled_from(["x", "y", "index", "", "t", "x"]) | st.text(max_size=8))
    return dpb.Column(name=name, dtype=dtype, encoding=encoding, length=length, data=data)


@st.composite
def append_requests(draw: Any) -> list[spb.AppendRequest]:
    reqs = []
    writer = draw(st.binary(max_size=40))
    for _ in range(draw(st.integers(1, 3))):
        req = spb.AppendRequest(writer_id=writer)
        if draw(st.booleans()):
            req.seq = draw(u64)
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.integers(0, 3))
            item = req.items.add(continued=draw(st.booleans()))
            scope = "fz-" + draw(text)  # the seeded scopes keep their known counts
            if kind == 0:
                p = item.points
                p.scope, p.name, p.index = scope, draw(text), draw(i64)
                p.columns.extend(draw(st.lists(columns(), max_size=4)))
                p.count, p.x_min, p.x_max = draw(u64), draw(f64), draw(f64)
            elif kind == 1:
                body = draw(st.one_of(text, st.just('{"a": [1, 2]}'), st.just("[1]")))
                item.config.CopyFrom(dpb.Config(scope=scope, json=body))
            elif kind == 2:
                item.delete.CopyFrom(dpb.Delete(scope="fz-" + draw(text), name=draw(text)))
        reqs.append(req)
    return reqs


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
        elif method == "ReadRange":
            req = _set(
                spb.ReadRangeRequest(
                    scope=data.draw(st.sampled_from(["base", UNI_SCOPE]) | text),
                    name=data.draw(st.sampled_from(["y", EVIL_NAME]) | text),
                    index=data.draw(i64),
                ),
                x_min=data.draw(st.one_of(st.none(), f64)),
                x_max=data.draw(st.one_of(st.none(), f64)),
                max_points=data.draw(st.one_of(st.none(), u64)),
            )
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


# --------------------------------------------------------------------------- web
@pytest.fixture(scope="module")
def web(env: dict[str, Any]) -> Iterator[str]:
    schema = env["tmp"] / "hostile.yaml"
    schema.write_text(SCHEMA)
    port = free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "streamvis.cli",
            "web-serve",
            f"127.0.0.1:{port}",
            env["uri"],
            str(schema),
            "--refresh",
            "0.2",
        ],
        env["tmp"] / "web.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: proc.proc.poll() is not None or _get(url + "/index")[0] == 200,
            timeout=60,
            interval=0.1,
        )
        assert proc.proc.poll() is None, proc.output()
        yield url
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
    finally:
        proc.stop()


def _get(url: str) -> tuple[int, float]:
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
            return r.status, time.monotonic() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - t0
    except OSError:
        return 0, time.monotonic() - t0


def _q(**params: Any) -> str:
    return urllib.parse.urlencode(params, doseq=True, safe=",;")


MID = "x" * 30_000  # long, yet the URL stays under Tornado's 64 KiB request-line limit
HOSTILE_PAGES = [
    # (query, words the page's message must contain; None: a correct page of plots)
    (_q(rows=",".join(["metric"] * 5000)), ["5000 plots", "at most"]),
    (_q(rows=";".join(["metric"] * 3000)), ["3000 plots", "at most"]),
    (_q(cols=",".join(["evil"] * 40)), ["40 plots", "at most"]),
    (_q(rows="metric", scopes=MID), ["scopes", "30000 characters"]),
    (_q(rows="metric", names=MID), ["names", "30000 characters"]),
    (_q(rows="metric", scopes="(" * 3000), ["scopes", "bad regex"]),
    (_q(rows="metric", scopes=EVIL * 500), None),  # valid, 3000 characters: plots
    (_q(rows=MID), ["unknown plot"]),
    (_q(rows="metric", width=",".join(["1"] * 10_000)), ["width"]),
    (_q(rows="metric", axes=MID), ["axes"]),
    (_q(rows="metric", **{MID: "1"}), ["unknown parameter"]),
    (_q(rows="métrique ✓ / 😀"), ["unknown plot"]),
    (_q(rows="metric", names=["x"] * 900), ["names", "900 time"]),
    (_q(rows="metric,evil", scopes=EVIL, names=[EVIL, "(a+)+b$"]), None),
    (_q(rows="metric,evil", scopes="(a*)*b$"), None),
    (_q(rows="metric", scopes="^ünï cødé 😀"), None),
    # each names= fits the limit, all plots' patterns together do not
    (_q(rows="metric,metric", names=[f"^(?:y|{'z' * 3000})$"] * 2, scopes="^base$"), None),
]
# beyond Tornado's limits (64 KiB request line, 1000 arguments): refused at once
REFUSED_PAGES = [
    _q(rows="metric", scopes=LONG),
    _q(rows=LONG),
    _q(rows="metric", names=["x"] * 3000),
]

MESSAGE_JS = """() => {
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.name === "error") return m.text;
  return null;
}"""
GLYPHS_JS = """() => {
  const out = {};
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.glyph !== undefined && m.data_source !== undefined && m.data_source.data.x !== undefined)
        out[m.name] = m.data_source.data.x.length;
  return out;
}"""


def test_web_hostile_params_http(web: str, env: dict[str, Any]) -> None:
    """Plain GETs: each hostile page is answered quickly and the server answers after."""
    for query, _ in HOSTILE_PAGES:
        status, dt = _get(f"{web}/?{query}")
        assert status == 200, (query[:100], status)
        assert dt < FAST, f"GET /?{query[:100]}… took {dt:.1f} s"
        status, dt = _get(f"{web}/index")
        assert status == 200 and dt < FAST, ("index after", query[:100], status, dt)
    for query in REFUSED_PAGES:
        status, dt = _get(f"{web}/?{query}")
        assert status in (0, 400, 414, 431), (query[:100], status)  # 0: connection closed
        assert dt < FAST, f"GET /?{query[:100]}… took {dt:.1f} s"
        status, dt = _get(f"{web}/index")
        assert status == 200 and dt < FAST, ("index after", query[:100], status, dt)
    _healthy(env)


@pytest.mark.browser
def test_web_hostile_params_messages(web: str, env: dict[str, Any]) -> None:
    """In the browser: the message names what was wrong; good hostile pages plot."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        for query, words in HOSTILE_PAGES:
            t0 = time.monotonic()
            response = page.goto(f"{web}/?{query}")
            assert response is not None and response.status == 200, (query[:100], response)
            page.wait_for_function(
                "() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=30000
            )
            if words is None:
                assert page.evaluate(MESSAGE_JS) is None, query[:100]
                continue
            message = page.evaluate(MESSAGE_JS)
            assert message is not None, f"no message for /?{query[:100]}"
            for w in words:
                assert w in message, (w, message[:500])
            assert time.monotonic() - t0 < 3 * FAST
        # the evil-regex pages plot exactly the names they match (RE2: no hang)
        page.goto(f"{web}/?" + _q(rows="metric,evil", scopes="(a*)*b$", names=["^y$", "^(a+)+b$"]))
        want = {
            f"{EVIL_SCOPE} · y · 0": 50,
            f"{EVIL_SCOPE} · y · 1": 50,
            f"{EVIL_SCOPE} · {EVIL_NAME} · 0": 50,
        }
        wait_for(lambda: page.evaluate(GLYPHS_JS) == want, timeout=20, interval=0.2)
        page.goto(f"{web}/?" + _q(rows="metric", scopes=EVIL, names=EVIL))
        page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0")
        assert page.evaluate(GLYPHS_JS) == {}
        page.goto(f"{web}/?" + HOSTILE_PAGES[-1][0])  # together too long: still plotted
        wait_for(
            lambda: page.evaluate(GLYPHS_JS) == {"base · y · 0": 50, "base · y · 1": 50},
            timeout=20,
            interval=0.2,
        )
        page.goto(f"{web}/?" + _q(rows="metric", scopes="😀"))
        wait_for(
            lambda: (
                page.evaluate(GLYPHS_JS) == {f"{UNI_SCOPE} · y · 0": 50, f"{UNI_SCOPE} · y · 1": 50}
            ),
            timeout=20,
            interval=0.2,
        )
        browser.close()
    status, dt = _get(f"{web}/index")
    assert status == 200 and dt < FAST
    _healthy(env)


def test_layout_plot_cap() -> None:
    """Regression: thousands of plots in rows= were built on the event loop (33 s for
    1000); now a LayoutError names the count and the limit."""
    from streamvis.web.layout import MAX_PLOTS, LayoutError, parse_layout
    from streamvis.web.schema import parse_schema

    schema = parse_schema({"m": {"name_pattern": "y", "columns": ["x", "y"]}})
    assert len(parse_layout({"rows": [",".join(["m"] * MAX_PLOTS)]}, schema).cells) == MAX_PLOTS
    for key in ("rows", "cols"):
        with pytest.raises(LayoutError, match=f"{MAX_PLOTS + 1} plots"):
            parse_layout({key: [";".join(["m"] * (MAX_PLOTS + 1))]}, schema)
    assert math.isfinite(MAX_PLOTS)


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


@pytest.mark.browser
def test_web_many_names_and_a_big_group(web: str) -> None:
    """Regression: with a group over the glyph budget, the first read names every small
    name in one pattern; with many names it passed the 4096-character limit and every
    poll failed (an empty page, a warning per tick)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{web}/?" + _q(rows="many", scopes="^wide$"))
        seen: dict[str, int] = {}

        def complete() -> bool:
            seen.clear()
            seen.update(page.evaluate(GLYPHS_JS))
            small = [v for k, v in seen.items() if "many/n" in k]
            return (
                len(small) == WIDE_NAMES
                and set(small) == {5}
                and seen.get("wide · many/big · 0", 0) > 0
            )

        try:
            wait_for(complete, timeout=30, interval=0.25)
        except AssertionError:
            raise AssertionError(f"{len(seen)} glyphs: {dict(list(seen.items())[:5])}") from None
        assert seen["wide · many/big · 0"] <= WIDE_BIG
        browser.close()
