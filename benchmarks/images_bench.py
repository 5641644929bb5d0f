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
* the image card of 16 runs side by side on the page of every name (``web-serve``
  without a schema, Chromium): navigation to every picture decoded, against the same
  page's line card of those runs. Goal <= 1 s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import numpy as np

from benchmarks.table import Table, per_call, progress, time_runs
from benchmarks.web_bench import CHROMIUM, CHROMIUM_ARGS, PAINTED_JS, WebServe
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


# the image card's pictures that the browser has decoded (shadow roots included)
DECODED_JS = """() => { let n = 0; const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'IMG' && el.complete && el.naturalWidth > 0) n++;
    if (el.shadowRoot) walk(el.shadowRoot); } };
  walk(document); return n; }"""
LINE_DRAWN_JS = """(runs) => { const d = Bokeh.documents[0]; if (!d) return false;
  for (const m of d.all_models) if (m.name && /^lines:/.test(m.name) && m.data && m.data.xs)
    return m.data.xs.length === runs; return false; }"""


def bench_card(table: Table, tmp: str, runs: int, tries: int) -> None:
    """The image card of ``runs`` runs side by side (the latest of 5 steps each, 256x256),
    navigation to every picture decoded; baseline: the same page's loss card of those runs
    (``web-serve`` without a schema, Chromium)."""
    from playwright.sync_api import sync_playwright

    log = os.path.join(tmp, "card.svl")
    imgs = smooth_images(5, seed=3)
    progress(f"image card: logging {runs} runs x 5 images")
    for r in range(runs):
        with DataLogger(f"run{r:02d}", delete_existing=True).init(path=log) as lg:
            for step, img in enumerate(imgs):
                lg.write("loss", x=step, y=1.0 / (step + 1))
                lg.write_image("samples", np.roll(img, r, axis=1), step=step)
    srv = WebServe(log, None, 1.0)
    card, line = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for _ in range(tries):
                    for url, done, arg, out in (
                            (f"{srv.url}/?names=%5Esamples%24", f"() => ({DECODED_JS})() >= {runs}", None, card),
                            (f"{srv.url}/?names=%5Eloss%24", LINE_DRAWN_JS, runs, line)):
                        page = browser.new_page(viewport={"width": 1400, "height": 900})
                        t0 = time.perf_counter()
                        page.goto(url)
                        page.wait_for_function(done, arg=arg, timeout=120_000, polling="raf")
                        page.evaluate(PAINTED_JS)
                        out.append(time.perf_counter() - t0)
                        page.close()
            finally:
                browser.close()
    finally:
        srv.stop()
    sec = f"image card, {runs} runs side by side"
    table.add(sec, "line card of the same runs, navigation to drawn", line, "s",
              note="baseline: the page of every name, one line card")
    table.add(sec, "image card (256x256 PNG each), navigation to every image decoded", card, "s",
              baseline="line card of the same runs, navigation to drawn", goal="<= 1 s",
              met=float(np.median(card)) <= 1.0)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    table = Table("Images (issue 24)")
    tmp = tempfile.mkdtemp(prefix="svbench-images-")
    try:
        bench_call(table, tmp, *((100, 3) if quick else (500, 5)))
        bench_encode(table, *((8, 3) if quick else (32, 5)))
        bench_bytes(table, tmp, 10 if quick else 50)
        bench_card(table, tmp, 16, 2 if quick else 5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
