"""The committed protobuf/gRPC modules match what scripts/gen_proto.py generates now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_generated_modules_are_fresh(tmp_path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a test extra) generates the stubs")
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    written = gen.generate(tmp_path)
    assert written, "no .proto files found"
    names = {f.name for f in written}
    # the records (data.proto), the service, and the original streamvis's records
    assert {"data_pb2.py", "service_pb2.py", "legacy_data_pb2.py"} <= names, names
    for fresh in written:
        committed = ROOT / "streamvis" / "proto" / fresh.name
        assert committed.exists(), f"{committed} is not committed: run python scripts/gen_proto.py"
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.name} is stale: run python scripts/gen_proto.py and commit the result"
        )
