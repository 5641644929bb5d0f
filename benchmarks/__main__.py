"""``python -m benchmarks compare [--quick] [--runs N]`` and the other benchmark tables."""

from __future__ import annotations

import sys

USAGE = """usage: python -m benchmarks COMMAND [options]

commands:
  compare   streamvis vs TensorBoard, MLflow, Aim and the machine's limits (issue 6)
  storage   the storage engine's table (issue 2): python -m benchmarks.storage_bench
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "compare":
        from benchmarks.compare import main as compare

        return compare(rest)
    if cmd == "storage":
        from benchmarks.storage_bench import main as storage

        return storage(rest)
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
