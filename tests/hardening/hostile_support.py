"""Shared by the hostile-input tests: a seeded log, a real data server, one call
wrapper that checks status codes, and hypothesis strategies for every request."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from streamvis.proto import data_pb2 as dpb
from streamvis.proto import service_pb2 as spb
from streamvis.proto import service_pb2_grpc as spb_grpc
from streamvis.server import wire
from streamvis.storage import ConfigUpdate, Points, Store
from tests.helpers import spawn
from tests.server.conftest import ROOT, free_port, wait_serving

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
# calls that answer with a stream of messages; listings need the protocol header
STREAMING = frozenset(
    {"Scopes", "Names", "Configs", "Schemas", "Groups", "Fetch", "ReadRange", "ReadRanges",
     "Subscribe"}
)
PROTOCOL_MD = (("streamvis-protocol", "2"),)
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
        self.proc = spawn(args, stdout=self._out, stderr=self._out, env=env, cwd=ROOT)

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


def hostile_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The seeded log and a real data server on it (wrapped as the ``env`` fixture)."""
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
    replies = env["stub"].Scopes(spb.ScopesRequest(), timeout=10, metadata=PROTOCOL_MD)
    assert "base" in [s for r in replies for s in r.scopes]
    out = env["server"].output()
    assert "Traceback" not in out and "internal error" not in out, out[-3000:]


def call(env: dict[str, Any], method: str, request: Any) -> tuple[grpc.StatusCode, str, float]:
    """Send one request; (status, details, seconds). Streams are read to their first
    complete batch (Subscribe never ends by itself)."""
    COUNT[method] = COUNT.get(method, 0) + 1
    stub, t0 = env["stub"], time.monotonic()
    fn = getattr(stub, method)
    try:
        if method in STREAMING:
            stream = fn(request, timeout=DEADLINE, metadata=PROTOCOL_MD)
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



# --------------------------------------------------------------------------- raw calls
def data_service_methods() -> list[Any]:
    """Every method of the DataService, from its protobuf service descriptor."""
    return list(spb.DESCRIPTOR.services_by_name["DataService"].methods)


def request_class(method: Any) -> Any:
    """The generated message class of ``method``'s request."""
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(method.input_type)


def raw_call(
    channel: grpc.Channel,
    method: Any,
    payload: bytes,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout: float = DEADLINE,
) -> tuple[grpc.StatusCode, str, int]:
    """Send ``payload`` (raw bytes) to ``method`` as its shape demands (unary or
    streaming, both ways); (status, details, reply messages received). A stream is read
    to its end, Subscribe only to its first message."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    shape = {
        (False, False): channel.unary_unary,
        (False, True): channel.unary_stream,
        (True, False): channel.stream_unary,
        (True, True): channel.stream_stream,
    }[(method.client_streaming, method.server_streaming)]
    fn = shape(path)  # no serializers: bytes in, bytes out
    arg: Any = iter([payload]) if method.client_streaming else payload
    got = 0
    try:
        if method.server_streaming:
            stream = fn(arg, timeout=timeout, metadata=metadata)
            for _ in stream:
                got += 1
                if method.name == "Subscribe":
                    stream.cancel()
                    break
        else:
            fn(arg, timeout=timeout, metadata=metadata)
            got = 1
    except grpc.RpcError as exc:
        if got and exc.code() == grpc.StatusCode.CANCELLED:
            return grpc.StatusCode.OK, "", got
        return exc.code(), exc.details() or "", got
    return grpc.StatusCode.OK, "", got


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


