"""Images (issue 24): ``python -m benchmarks.images_bench [--quick]``.

Measured, medians of chunks (the machine is shared: read medians):

* ``write_image`` call time for a 256x256x3 uint8 image, numpy and torch (CPU): the
  call only (checks and the snapshot copy); the flush is held off while timing
  (``flush_every`` an hour, ``flush_bytes`` above what is queued), then flushed
  between runs. Goal <= 5 us.
* PNG encoding on the flush thread (``PendingImage.to_item``: host copy, checks,
  conversion, Pillow PNG): raw MB per second, for a smooth image (gradients plus
  mild noise, as samples of a model look) and for uniform noise (incompressible,
  the worst case).
* bytes per image in the log against TensorBoard's event file (torch's
  ``SummaryWriter.add_image``, which PNG-encodes with Pillow as we do), the same
  images, each file's size minus its size with no image, divided by the images.
  Goal <= 1.0x.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import numpy as np

from benchmarks.table import Table, per_call, progress, time_runs
from streamvis.logger import DataLogger
from streamvis.logger.images import capture_image

SECTION = "images"
SIZE = (256, 256, 3)
GOAL_CALL_S = 5e-6


def smooth_images(n: int, seed: int = 0) -> list[np.ndarray]:
    """Images that compress as real samples do: gradients, blobs and mild noise."""
    rng = np.random.default_rng(seed)
    h, w, c = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for _ in range(n):
        fx, fy, ph = rng.uniform(0.01, 0.05, 3)
        base = np.stack([np.sin(xx * fx + ph * k) * np.cos(yy * fy) for k in range(c)], -1)
        img = (base + 1) * 110 + rng.normal(0, 6, (h, w, c))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def bench_call(table: Table, tmp: str, calls: int, runs: int) -> None:
    """write_image call time, numpy and torch, flush held off."""
    img = smooth_images(1)[0]
    kinds: list[tuple[str, object]] = [("numpy", img)]
    try:
        import torch

        kinds.append(("torch (CPU)", torch.from_numpy(img.copy())))
    except ImportError:
        progress("torch is not installed: its row is left out")
    for label, value in kinds:
        progress(f"write_image call, {label}")
        lg = DataLogger(f"call-{label}", delete_existing=True).init(
            path=os.path.join(tmp, "call.svl"), flush_every=3600, flush_bytes=1 << 40)
        samples: list[float] = []
        for _ in range(runs):
            samples += per_call(lambda i, v=value, lg=lg: lg.write_image("img", v, step=i),
                                calls, 1, chunk=10)
            lg.flush()
        lg.close()
        med = sorted(samples)[len(samples) // 2]
        table.add(SECTION, f"write_image call, 256x256x3 uint8, {label}", samples, "s",
                  goal="<= 5 us", met=med <= GOAL_CALL_S, note="the call only; encoding is the flush's")


def bench_encode(table: Table, count: int, runs: int) -> None:
    """PNG encoding throughput on the flush thread's path."""
    rng = np.random.default_rng(1)
    sets = {"smooth": smooth_images(count),
            "uniform noise": [rng.integers(0, 256, SIZE, dtype=np.uint8) for _ in range(count)]}
    mb = count * int(np.prod(SIZE)) / 1e6
    for label, imgs in sets.items():
        progress(f"PNG encoding, {label}")
        pending = [capture_image("s", "img", im, i) for i, im in enumerate(imgs)]
        secs = time_runs(lambda p=pending: [x.to_item() for x in p], runs=runs)
        table.add(SECTION, f"PNG encoding at flush, 256x256x3 {label} (MB/s of raw pixels)",
                  [mb / s for s in secs], "MB/s")


def _size_without(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def bench_bytes(table: Table, tmp: str, count: int) -> None:
    """Bytes per image: streamvis log vs TensorBoard event file, the same images."""
    imgs = smooth_images(count, seed=2)
    ours = []
    for n in (0, count):
        path = os.path.join(tmp, f"bytes{n}.svl")
        with DataLogger("run", delete_existing=True).init(path=path) as lg:
            lg.write("loss", x=0, y=1.0)  # both files hold one scalar besides
            for i in range(n):
                lg.write_image("samples", imgs[i], step=i)
        ours.append(os.path.getsize(path))
    per_ours = (ours[1] - ours[0]) / count
    table.add(SECTION, "bytes per image, streamvis log (256x256x3 smooth)", [per_ours], "B")
    try:
        import torch
        from torch.utils.tensorboard import SummaryWriter as TorchWriter
    except ImportError:
        progress("torch or tensorboard is not installed: TensorBoard's bytes left out")
        return
    theirs = []
    for n in (0, count):
        d = os.path.join(tmp, f"tb{n}")
        with TorchWriter(d) as w:
            w.add_scalar("loss", 1.0, 0)
            for i in range(n):
                w.add_image("samples", torch.from_numpy(imgs[i]), i, dataformats="HWC")
        theirs.append(_size_without(d))
    per_tb = (theirs[1] - theirs[0]) / count
    ratio = per_ours / per_tb
    table.add(SECTION, "bytes per image, TensorBoard event file (torch's add_image)", [per_tb], "B")
    table.add(SECTION, "bytes per image, streamvis / TensorBoard", [ratio], "x",
              goal="<= 1.0x", met=ratio <= 1.0,
              note=f"{per_ours:.1f} B vs {per_tb:.1f} B per image ({per_ours - per_tb:+.1f} B)")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    table = Table("Images (issue 24)")
    tmp = tempfile.mkdtemp(prefix="svbench-images-")
    try:
        bench_call(table, tmp, *((100, 3) if quick else (500, 5)))
        bench_encode(table, *((8, 3) if quick else (32, 5)))
        bench_bytes(table, tmp, 10 if quick else 50)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
