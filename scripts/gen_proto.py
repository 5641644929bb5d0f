"""Regenerate the protobuf/gRPC modules in streamvis/proto from their .proto files
(data.proto, service.proto, and legacy_data.proto: the original streamvis's records,
read by ``streamvis import-legacy``).

Run from anywhere: ``python scripts/gen_proto.py``. The output is committed;
tests/test_generated.py fails when it is stale. ``--out DIR`` writes elsewhere
(the staleness test uses it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "streamvis" / "proto"


def generate(out_root: Path) -> list[Path]:
    """Run protoc on every .proto under streamvis/proto; return the files written."""
    from grpc_tools import protoc  # imported here: a dev-only dependency

    protos = sorted(PROTO_DIR.glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(p.relative_to(ROOT)) for p in protos],
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        written = []
        for f in sorted((Path(tmp) / "streamvis" / "proto").iterdir()):
            dest = out_root / f.name
            shutil.copyfile(f, dest)
            written.append(dest)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROTO_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in generate(args.out):
        print(path)


if __name__ == "__main__":
    sys.exit(main())
