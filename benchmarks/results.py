"""Render benchmarks/RESULTS.md from the JSON tables of a full run.

    python -m benchmarks compare --json /tmp/compare.json
    python -m benchmarks.storage_bench --json /tmp/storage.json
    python -m benchmarks.profile > /tmp/profile.txt
    python -m benchmarks.results --compare /tmp/compare.json --storage /tmp/storage.json \
        --profile /tmp/profile.txt [--notes notes.md] > benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

from benchmarks.table import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {
    ".venv": ["streamvis", "numpy", "pyarrow", "protobuf", "grpcio"],
    ".venv-bench": [
        "tensorboard",
        "tensorboard-data-server",
        "tensorboardX",
        "tbparse",
        "mlflow",
        "aim",
        "protobuf",
        "py-spy",
    ],
}


def _versions(venv: str, names: list[str]) -> str:
    py = os.path.join(ROOT, venv, "bin", "python")
    if not os.path.exists(py):
        return f"{venv}: missing"
    code = (
        "import importlib.metadata as m\n"
        f"for n in {names!r}:\n"
        "    try: print(f'{n} {m.version(n)}')\n"
        "    except Exception: print(f'{n} not installed')\n"
    )
    out = subprocess.run([py, "-c", code], capture_output=True, text=True).stdout.split("\n")
    return f"{venv}: " + ", ".join(x for x in out if x)


def machine() -> str:
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except OSError:
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {os.cpu_count()} cores ({cpu}), {mem} memory, {platform.platform()}",
        f"- python: {sys.version.split()[0]}",
    ]
    lines += [f"- {_versions(v, n)}" for v, n in PACKAGES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.results")
    ap.add_argument("--compare")
    ap.add_argument("--storage")
    ap.add_argument("--profile")
    ap.add_argument("--notes", help="markdown inserted after the machine section")
    a = ap.parse_args(argv)
    out = ["# Benchmark results", "", machine(), ""]
    if a.notes:
        out += [open(a.notes).read(), ""]
    for path in (a.compare, a.storage):
        if path:
            out += [Table.from_json(open(path).read()).to_markdown(), ""]
    if a.profile:
        out += [
            "## Profiles (py-spy, all threads)",
            "",
            "```",
            open(a.profile).read().strip(),
            "```",
            "",
        ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
