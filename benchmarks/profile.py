"""Where the time goes in each streamvis workload of ``compare``.

``python -m benchmarks.profile [WORKLOAD ...] [--scalars N]`` runs each workload under
py-spy (all threads, including the DataLogger's flush thread; the binary from
.venv-bench, see setup_env.sh) or, without py-spy, under cProfile (main thread only),
and prints the top functions by own time and by inclusive time.

Workloads: write_scalars, write_batches, read_scalars, read_batches.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile

from benchmarks import streamvis_workloads as sv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXCLUDE = ("importlib._bootstrap", "batch_data (", "scalar_data (")
WORKLOADS = ("write_scalars", "write_batches", "read_scalars", "read_batches")


def _run(workload: str, wd: str, n: int, steps: int, batch: int, reps: int) -> None:
    sp, bp = os.path.join(wd, "s.log"), os.path.join(wd, "b.log")
    if workload == "write_scalars":
        sv.write_scalars(sp, n)
    elif workload == "write_batches":
        for _ in range(reps):
            sv.write_batches(bp, steps, batch)
    elif workload == "read_scalars":
        for _ in range(reps * 10):
            sv.read_group(sp, "loss")
    elif workload == "read_batches":
        for _ in range(reps * 4):
            sv.read_group(bp, "points")


def _prepare(workload: str, wd: str, n: int, steps: int, batch: int) -> None:
    if workload == "read_scalars":
        sv.write_scalars(os.path.join(wd, "s.log"), n)
    elif workload == "read_batches":
        sv.write_batches(os.path.join(wd, "b.log"), steps, batch)


def _short(frame: str) -> str:
    # py-spy raw frames look like "func (path/to/file.py:123)"
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    path, _, _line = loc.rpartition(":")
    for marker in ("site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize_collapsed(path: str, top: int = 12) -> str:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = excluded = 0
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        c = int(count)
        if any(m in stack for m in EXCLUDE):
            excluded += c
            continue
        total += c
        frames = [_short(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        own[frames[-1]] += c
        for f in set(frames):
            incl[f] += c
    lines = [
        f"{total} samples (all threads, idle excluded; {excluded} samples of imports and "
        "test-data generation excluded)",
        "own time:",
    ]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines.append("inclusive time:")
    skip = (
        "<module>",
        "_run_module_as_main",
        "_run_code",
        "run (threading.py)",
        "_bootstrap",
        "_run (benchmarks",
    )
    shown = [(f, c) for f, c in incl.most_common(top * 3) if not f.startswith(skip)]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in shown[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--scalars", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=5, help="repeat short workloads")
    ap.add_argument("--cprofile", action="store_true", help="use cProfile even with py-spy")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        import pyarrow  # noqa: F401  (imports are not the workload)

        import streamvis.logger  # noqa: F401
        import streamvis.script  # noqa: F401

        _run(a.child, a.workloads[0], a.scalars, a.steps, a.batch, a.reps)
        return 0
    pyspy = shutil.which("py-spy") or os.path.join(ROOT, ".venv-bench", "bin", "py-spy")
    use_spy = os.path.exists(pyspy) and not a.cprofile
    for w in a.workloads:
        wd = tempfile.mkdtemp(prefix="streamvis-profile-")
        try:
            _prepare(w, wd, a.scalars, a.steps, a.batch)
            print(f"## {w} ({'py-spy' if use_spy else 'cProfile, main thread'})", flush=True)
            if use_spy:
                out = os.path.join(wd, "stacks.txt")
                cmd = [
                    pyspy,
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--nonblocking",
                    "-o",
                    out,
                    "--",
                    sys.executable,
                    "-m",
                    "benchmarks.profile",
                    wd,
                    "--child",
                    w,
                    "--scalars",
                    str(a.scalars),
                    "--steps",
                    str(a.steps),
                    "--batch",
                    str(a.batch),
                    "--reps",
                    str(a.reps),
                ]
                subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
                print(summarize_collapsed(out))
            else:
                prof = cProfile.Profile()
                prof.enable()
                _run(w, wd, a.scalars, a.steps, a.batch, a.reps)
                prof.disable()
                pstats.Stats(prof).sort_stats("tottime").print_stats(12)
            print(flush=True)
        finally:
            shutil.rmtree(wd, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
