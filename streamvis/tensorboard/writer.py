"""``SummaryWriter``: a drop-in for ``torch.utils.tensorboard.SummaryWriter`` that logs
to streamvis.

Runs and names follow ``streamvis.tensorboard.naming``. Scalars go through
DataLogger: ``add_scalar`` costs microseconds, takes torch tensors without a host
copy or device sync, and never raises into the training loop (a refused write is
logged once per name). ``add_histogram`` needs the values on the host to bucket
them, like torch's writer (it synchronises a GPU tensor). Images (``add_image``,
``add_images``, ``add_figure``) go through ``DataLogger.write_image`` under the tag as
their name (captured at the call, encoded at flush; a batch is one tiled image);
``add_text`` stores a text record per step (and, as before, the config entry
``text.<tag>``). Methods of torch's writer that streamvis cannot show (audio, graphs,
embeddings, ...) warn once and do nothing; with ``strict=True`` they raise
``UnsupportedSummaryError``.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import numpy as np

from streamvis.columns import WALL_TIME_COLUMN
from streamvis.errors import StreamvisError
from streamvis.scalar_log import RunLog, RunSet, as_step
from streamvis.tensorboard import histograms as H
from streamvis.tensorboard.naming import (
    HIST_STATS,
    hist_name,
    hist_stat_name,
    run_name,
    scalars_run,
    text_key,
)

__all__ = ["SummaryWriter", "UnsupportedSummaryError", "hparams_config"]


class UnsupportedSummaryError(StreamvisError, NotImplementedError):
    """A SummaryWriter method that streamvis does not support, called with strict=True."""

    code = "invalid_argument"


def hparams_config(hparam_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameters as a run config, kept as given where JSON can hold them
    (None is skipped, as torch does; tensors and numpy numbers become floats)."""
    out: dict[str, Any] = {}
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, bool | int | float | str):
            out[str(k)] = v
        elif hasattr(v, "item"):
            out[str(k)] = float(v.item())  # a one-element tensor or numpy number
        else:
            out[str(k)] = str(v)
    return out


def _to_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # torch: the host copy add_histogram cannot avoid
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _render(figure: Any, close: bool) -> np.ndarray:
    """The RGBA pixels of a matplotlib figure (Agg), drawn now; closed when ``close``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.array(canvas.buffer_rgba(), dtype=np.uint8)
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return pixels


class SummaryWriter:
    """Log scalars, histograms, hparams and text to streamvis with torch's
    ``SummaryWriter`` API.

    ``log_dir`` names the run (relative to ``root``, default the parent of
    ``log_dir``): ``SummaryWriter("runs/exp1")`` logs run ``exp1``; no files are
    written there. ``path=`` (a log) or ``grpc_uri=`` (a data server, with
    ``token``/``tls_ca``) chooses the store, else ``streamvis.paths.default_log_path()``.
    ``max_queue`` and ``filename_suffix`` are accepted and ignored; data is sent
    every ``min(flush_secs, 1)`` seconds so that plots stay live.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        path: str | os.PathLike[str] | None = None,
        grpc_uri: str | None = None,
        token: str | None = None,
        tls_ca: str | None = None,
        root: str | os.PathLike[str] | None = None,
        delete_existing: bool = False,
        strict: bool = False,
    ) -> None:
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.strict = bool(strict)
        if root is None:
            root = os.path.dirname(os.path.abspath(self.log_dir))
        self.run = run_name(self.log_dir, root)
        self._warned: set[str] = set()
        if purge_step is not None:
            self._warn_once("purge_step", "SummaryWriter(purge_step=...) is not supported by "
                            "streamvis: points logged earlier at later steps are kept")
        self._runs = RunSet(path=path, grpc_uri=grpc_uri, token=token, tls_ca=tls_ca,
                            flush_every=min(float(flush_secs), 1.0) if flush_secs else 1.0,
                            delete_existing=delete_existing)
        self._main: RunLog = self._runs.run(self.run)

    # ------------------------------------------------------------- the torch API
    def get_logdir(self) -> str:
        """The ``log_dir`` this writer was given (or made up, as torch does)."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value: Any, global_step: Any = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Log ``scalar_value`` (a number or a one-element tensor) as ``tag`` at
        ``global_step`` (None: 0). float32, or float64 with new_style and
        double_precision (as torch stores it)."""
        self._main.scalar(tag, scalar_value, global_step, walltime,
                          new_style and double_precision)

    def add_scalars(self, main_tag: str, tag_scalar_dict: Mapping[str, Any],
                    global_step: Any = None, walltime: float | None = None) -> None:
        """Log each ``{key: value}`` as ``main_tag`` in the run
        ``<run>/<main_tag with / as _>_<key>`` (torch's layout)."""
        wt = time.time() if walltime is None else walltime
        try:
            items = list(tag_scalar_dict.items())
        except Exception as exc:
            self._main.refuse(main_tag, exc)
            return
        for key, value in items:
            try:
                run = self._runs.run(scalars_run(self.run, main_tag, str(key)))
            except Exception as exc:
                self._main.refuse(main_tag, exc)
                continue
            run.scalar(main_tag, value, global_step, wt)

    def add_histogram(self, tag: str, values: Any, global_step: Any = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """Log the histogram of ``values`` at ``global_step``: the group ``<tag>:hist``
        (one point per bucket, ``step`` its filter column) and the lines
        ``<tag>:min``, ``<tag>:max``, ``<tag>:mean``. Copies ``values`` to the host."""
        try:
            hist = H.make_histogram(_to_numpy(values), bins, max_bins)
        except Exception as exc:
            self._main.refuse(hist_name(tag), exc)
            return
        self._write_histogram(tag, hist, global_step, walltime)

    def add_histogram_raw(self, tag: str, min: float, max: float, num: float, sum: float,
                          sum_squares: float, bucket_limits: Any, bucket_counts: Any,
                          global_step: Any = None, walltime: float | None = None) -> None:
        """Log a histogram given as TensorBoard's fields (right edges and counts)."""
        try:
            hist = H.from_proto_fields(_to_numpy(bucket_limits).tolist(),
                                       _to_numpy(bucket_counts).tolist(),
                                       float(min), float(max), float(num), float(sum))
        except Exception as exc:
            self._main.refuse(hist_name(tag), exc)
            return
        self._write_histogram(tag, hist, global_step, walltime)

    def _write_histogram(self, tag: str, hist: H.Histogram, global_step: Any,
                         walltime: float | None) -> None:
        wt = np.float64(time.time() if walltime is None else walltime)
        try:
            step = np.int64(int(as_step(global_step)))
        except Exception as exc:
            self._main.refuse(hist_name(tag), exc)
            return
        cols: dict[str, Any] = hist.columns()
        cols[H.STEP] = step
        cols[WALL_TIME_COLUMN] = wt
        self._main.points(hist_name(tag), **cols)
        stats = {"min": hist.min, "max": hist.max, "mean": hist.mean}
        for stat in HIST_STATS:
            self._main.scalar(hist_stat_name(tag, stat), stats[stat], int(step), float(wt),
                              double=True)

    def add_hparams(self, hparam_dict: Mapping[str, Any], metric_dict: Mapping[str, Any],
                    hparam_domain_discrete: Any = None, run_name: str | None = None,
                    global_step: Any = None) -> None:
        """Store ``hparam_dict`` as the run's config and each ``metric_dict`` value as a
        scalar of the run itself at ``global_step`` (torch writes a sub-run instead;
        ``streamvis import-tb`` folds that sub-run back into its parent)."""
        try:
            config = hparams_config(hparam_dict)
            metrics = list(metric_dict.items())
        except Exception as exc:
            self._main.refuse("(hparams)", exc)
            return
        self._main.update_config(config)
        for k, v in metrics:
            self._main.scalar(str(k), v, global_step)

    def add_text(self, tag: str, text_string: str, global_step: Any = None,
                 walltime: float | None = None) -> None:
        """Log ``text_string`` as the text name ``tag`` at ``global_step`` (None: 0), and
        keep it as the run's config entry ``text.<tag>`` (the last wins), as before."""
        self._main.update_config({text_key(tag): str(text_string)})
        try:
            self._main.logger.write_text(tag, str(text_string), step=int(as_step(global_step)))
        except Exception as exc:
            self._main.refuse(tag, exc)

    def add_image(self, tag: str, img_tensor: Any, global_step: Any = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """Log one image (torch's default layout CHW; "HWC", "HW" too) as the image name
        ``tag`` at ``global_step``. No host copy at the call. ``walltime`` is not kept:
        an image's wall time is the call's."""
        try:
            self._main.logger.write_image(tag, img_tensor, step=int(as_step(global_step)),
                                          dataformats=dataformats)
        except Exception as exc:
            self._main.refuse(tag, exc)

    def add_images(self, tag: str, img_tensor: Any, global_step: Any = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """Log a batch of images ("NCHW" or "NHWC") as one tiled image, as torch's writer
        does (``streamvis.logger.images``)."""
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_figure(self, tag: str, figure: Any, global_step: Any = None, close: bool = True,
                   walltime: float | None = None) -> None:
        """Log a matplotlib figure (or a list: tiled), rendered now (it may change after
        the call) and closed when ``close``, as torch's writer does."""
        try:
            figures = figure if isinstance(figure, list) else [figure]
            pixels = [_render(f, close) for f in figures]
            image = pixels[0] if len(pixels) == 1 else np.stack(pixels)
            layout = "HWC" if len(pixels) == 1 else "NHWC"
        except Exception as exc:
            self._main.refuse(tag, exc)
            return
        self.add_image(tag, image, global_step, walltime, layout)

    def flush(self) -> None:
        """Send everything logged so far (waits while the store is unreachable, up to
        the logger's close timeout)."""
        self._runs.flush()

    def close(self) -> None:
        """Flush and close. Idempotent."""
        self._runs.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------- the rest
    def stats(self) -> dict[str, int]:
        """Counts of points over every run of this writer (see ``DataLogger.stats``),
        plus ``refused_calls``: calls that logged nothing."""
        out: dict[str, int] = {"refused_calls": 0}
        for r in self._runs.runs.values():
            out["refused_calls"] += r.refused
            for k, v in r.logger.stats().items():
                out[k] = out.get(k, 0) + v
        return out

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=3)

    def __getattr__(self, attr: str) -> Callable[..., None]:
        if not attr.startswith("add_"):
            raise AttributeError(f"{type(self).__name__!s} has no attribute {attr!r}")

        def unsupported(*args: Any, **kwargs: Any) -> None:
            msg = (f"SummaryWriter.{attr} is not supported by streamvis (it logs "
                   "scalars, histograms, hparams, images and text); the call did nothing")
            if self.strict:
                raise UnsupportedSummaryError(msg)
            self._warn_once(attr, msg)

        return unsupported
