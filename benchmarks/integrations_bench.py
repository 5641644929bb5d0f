"""Integrations' table (issue 13): ``python -m benchmarks.integrations_bench [--quick]``.

Medians of:
* importing TensorBoard event files written by torch's SummaryWriter (scalars on a
  few tags, some histograms, over several runs): ``streamvis import-tb`` into a new
  log (fsync on, as the CLI does) against tensorboard's ``EventAccumulator``
  reading the same files into memory (``size_guidance`` 0: keep every event); the
  TFRecord framing alone (our reader, checksums checked) as a floor;
* one ``add_scalar`` call: ``streamvis.tensorboard.SummaryWriter`` against torch's
  ``torch.utils.tensorboard.SummaryWriter``, with a Python float and a torch scalar
  tensor (both writers with their flush threads running).

The machine is shared with other engineers' test runs: read medians and ratios.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

import numpy as np

from benchmarks.table import Table, per_call, progress, time_runs

SECTION_IMPORT = "import event files"
SECTION_CALL = "add_scalar() call"
EA = "tensorboard EventAccumulator (read into memory)"
SV_IMPORT = "streamvis import-tb (into a new log)"


def write_logdir(logdir: str, runs: int, steps: int, tags: int) -> int:
    """torch's SummaryWriter: ``runs`` runs x ``steps`` steps x ``tags`` scalars, and
    a histogram of 1,000 values every 100 steps. Returns the number of scalars."""
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    for r in range(runs):
        with SummaryWriter(os.path.join(logdir, f"run{r}"), max_queue=1000) as w:
            for s in range(steps):
                for t in range(tags):
                    w.add_scalar(f"metric/{t}", float(s * 0.001 + t), s)
                if s % 100 == 0:
                    w.add_histogram("weights", rng.normal(size=1000), s)
    return runs * steps * tags


def bench_import(table: Table, tmp: str, runs: int, steps: int, tags: int, reps: int) -> None:
    from tensorboard.backend.event_processing import event_accumulator as ea

    from streamvis.tensorboard.importer import find_event_files, import_tb
    from streamvis.tensorboard.records import RecordStop, iter_records

    logdir = os.path.join(tmp, "logs")
    progress(f"writing event files: {runs} runs x {steps} steps x {tags} tags (torch)")
    n = write_logdir(logdir, runs, steps, tags)
    files = [p for fs in find_event_files(logdir).values() for p in fs]
    nbytes = sum(os.path.getsize(p) for p in files)
    section = f"{SECTION_IMPORT}: {n:,} scalars, {nbytes / 2**20:.1f} MiB, {len(files)} files"

    def accumulate() -> None:
        guidance = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.TENSORS: 0, ea.COMPRESSED_HISTOGRAMS: 0}
        for r in range(runs):
            acc = ea.EventAccumulator(os.path.join(logdir, f"run{r}"), size_guidance=guidance)
            acc.Reload()
            assert len(acc.Scalars("metric/0")) == steps

    k = [0]

    def ours() -> None:
        k[0] += 1
        import_tb(logdir, os.path.join(tmp, f"import{k[0]}.svl"))

    def framing() -> None:
        count = 0
        for p in files:
            with open(p, "rb") as f:
                for _ in iter_records(f, 0, RecordStop()):
                    count += 1
        assert count > n // tags

    progress("import: EventAccumulator")
    table.add(section, EA, time_runs(accumulate, reps, warmup=1), "s")
    progress("import: streamvis import-tb")
    table.add(section, SV_IMPORT, time_runs(ours, reps, warmup=1), "s", baseline=EA,
              goal="faster than EventAccumulator")
    progress("import: framing only")
    table.add(section, "streamvis TFRecord framing only (checksums, no decode)",
              time_runs(framing, reps, warmup=1), "s", baseline=EA)
    ea_row, sv_row = table.get(section, EA), table.get(section, SV_IMPORT)
    assert ea_row is not None and sv_row is not None
    table.add(section, "streamvis import-tb throughput", [n / s for s in sv_row.samples],
              "scalars/s")
    table.add(section, "EventAccumulator throughput", [n / s for s in ea_row.samples],
              "scalars/s")
    sv_row.met = sv_row.value < ea_row.value


def _bench_call(table: Table, kind: str, tag: str, value: object, theirs: Any, ours: Any,
                calls: int, runs: int) -> None:
    section = f"{SECTION_CALL}: {kind}"
    progress(f"add_scalar: {kind}")
    base = "torch SummaryWriter.add_scalar(tag, v, i)"
    tw, ow = theirs.add_scalar, ours.add_scalar
    table.add(section, base, per_call(lambda i: tw(tag, value, i), calls, runs), "s")
    row = table.add(section, "streamvis SummaryWriter.add_scalar (same call)",
                    per_call(lambda i: ow(tag, value, i), calls, runs), "s",
                    baseline=base, goal="< 5 us")
    row.met = row.value < 5e-6


def bench_calls(table: Table, tmp: str, calls: int, runs: int) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from streamvis.tensorboard import SummaryWriter

    ours = SummaryWriter(os.path.join(tmp, "w", "ours"), path=os.path.join(tmp, "calls.svl"))
    theirs = TorchWriter(os.path.join(tmp, "w", "torch"))
    try:
        _bench_call(table, "Python float", "f", 0.5, theirs, ours, calls, runs)
        _bench_call(table, "torch scalar tensor (CPU)", "t", torch.tensor(0.5), theirs, ours,
                    calls, runs)
    finally:
        ours.close()
        theirs.close()


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    table = Table("TensorBoard and framework integrations (issue 13)")
    tmp = tempfile.mkdtemp(prefix="svbench-integrations-")
    try:
        bench_calls(table, tmp, *((2_000, 5) if quick else (10_000, 11)))
        bench_import(table, tmp, *((2, 2_000, 5, 3) if quick else (4, 10_000, 5, 5)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
