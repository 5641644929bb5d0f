"""What an event record holds, in streamvis terms (tensorboard's protos decode it).

``EventDecoder.decode(payload)`` turns one serialized ``Event`` into ``Scalar``,
``Hist``, ``Text``, ``Picture`` and ``HParams`` observations. Images come as v1
``Summary.Image`` (torch's ``add_image``) or v2 "images" tensors (width, height, then
the encoded images; several are named ``tag/0``, ``tag/1``, ...); only PNG bytes are
kept (as stored), anything else is counted as skipped "image (not PNG)". Scalars come as ``simple_value``
(float32) or as one-element tensors (torch's ``new_style``, tensorboard's v2
summaries); histograms as ``HistogramProto`` or v2 tensors of (left, right, count)
rows. A summary's plugin is named in its metadata, which TensorFlow-style writers
send only with a tag's first value, so the decoder remembers it per tag and
otherwise goes by the tensor's shape. Anything else (audio, graphs, ...) is counted
in ``skipped``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamvis.errors import CorruptDataError
from streamvis.tensorboard import histograms as H
from streamvis.tensorboard.naming import TORCH_TEXT_SUFFIX

try:
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams import plugin_data_pb2
    from tensorboard.util import tensor_util
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reading TensorBoard event files needs the tensorboard package: "
        "pip install 'streamvis[tensorboard]'") from exc

__all__ = ["Scalar", "Hist", "Text", "Picture", "HParams", "EventDecoder", "HPARAMS_EXPERIMENT_TAG"]

HPARAMS_PLUGIN = "hparams"
HPARAMS_EXPERIMENT_TAG = "_hparams_/experiment"
_SCALAR_PLUGINS = ("scalars", "scalar")
_HIST_PLUGINS = ("histograms", "histogram")
_TEXT_PLUGINS = ("text",)
_IMAGE_PLUGINS = ("images", "image")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_F4_KINDS = ("float16", "bfloat16", "float32")


@dataclass(frozen=True)
class Scalar:
    tag: str
    step: int
    wall_time: float
    value: Any  # np.float32 or np.float64


@dataclass(frozen=True)
class Hist:
    tag: str
    step: int
    wall_time: float
    hist: H.Histogram


@dataclass(frozen=True)
class Text:
    tag: str
    step: int
    text: str
    wall_time: float = 0.0


@dataclass(frozen=True)
class Picture:
    tag: str
    step: int
    wall_time: float
    png: bytes  # as stored in the event file


@dataclass(frozen=True)
class HParams:
    values: dict[str, Any]  # session_start_info: the run's hyperparameters
    experiment: bool  # an Experiment summary: the run is torch's add_hparams sub-run


def _struct_value(v: Any) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


class EventDecoder:
    """Decodes the events of one file; remembers each tag's plugin across records."""

    def __init__(self) -> None:
        self.plugins: dict[str, str] = {}
        self.skipped: Counter[str] = Counter()

    def decode(self, payload: bytes | memoryview) -> list[Any]:
        """The observations of one event. CorruptDataError when it does not parse."""
        try:
            ev = Event.FromString(bytes(payload))
        except DecodeError as exc:
            raise CorruptDataError(f"an event record does not parse ({exc})") from None
        if ev.WhichOneof("what") != "summary":
            return []
        out: list[Any] = []
        step, wt = int(ev.step), float(ev.wall_time)
        for v in ev.summary.value:
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                out.append(Scalar(v.tag, step, wt, np.float32(v.simple_value)))
                continue
            if kind == "image":
                self._picture(out, v.tag, step, wt, v.image.encoded_image_string)
                continue
            if kind == "histo":
                h = v.histo
                hist = H.from_proto_fields(h.bucket_limit, h.bucket, h.min, h.max, h.num, h.sum)
                out.append(Hist(v.tag, step, wt, hist))
                continue
            plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
            if plugin:
                self.plugins[v.tag] = plugin
            else:
                plugin = self.plugins.get(v.tag, "")
            if plugin == HPARAMS_PLUGIN:
                hp = self._hparams(v)
                if hp is not None:
                    out.append(hp)
                continue
            if kind == "tensor" and plugin in _IMAGE_PLUGINS:
                encoded = list(v.tensor.string_val)[2:]  # width, height, then the images
                for i, png in enumerate(encoded):
                    self._picture(out, v.tag if len(encoded) == 1 else f"{v.tag}/{i}", step, wt, png)
                continue
            if kind == "tensor":
                obs = self._tensor(v, plugin, step, wt)
                if obs is not None:
                    out.append(obs)
                    continue
            self.skipped[plugin or kind or "empty"] += 1
        return out

    def _picture(self, out: list[Any], tag: str, step: int, wt: float, data: bytes) -> None:
        if data.startswith(_PNG_MAGIC) and tag:
            out.append(Picture(tag, step, wt, bytes(data)))
        else:
            self.skipped["image (not PNG)"] += 1

    def _hparams(self, v: Any) -> HParams | None:
        data = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
        which = data.WhichOneof("data")
        if which == "session_start_info":
            values = {k: _struct_value(x) for k, x in data.session_start_info.hparams.items()}
            return HParams({k: x for k, x in values.items() if x is not None}, False)
        if which == "experiment":
            return HParams({}, True)
        return None  # session_end_info: nothing to keep

    def _tensor(self, v: Any, plugin: str, step: int, wt: float) -> Any:
        arr = tensor_util.make_ndarray(v.tensor)
        if arr.dtype.kind in "SUO":
            if plugin and plugin not in _TEXT_PLUGINS:
                return None
            first = arr.reshape(-1)[0] if arr.size else b""
            text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
            tag = v.tag
            if tag.endswith(TORCH_TEXT_SUFFIX):
                tag = tag[: -len(TORCH_TEXT_SUFFIX)]
            return Text(tag, step, text, wt)
        if arr.dtype.kind not in "biuf":
            return None
        if arr.size == 1 and (not plugin or plugin in _SCALAR_PLUGINS):
            value: Any = arr.reshape(())[()]
            value = np.float32(value) if arr.dtype.name in _F4_KINDS else np.float64(value)
            return Scalar(v.tag, step, wt, value)
        if arr.ndim == 2 and arr.shape[1] == 3 and (not plugin or plugin in _HIST_PLUGINS):
            return Hist(v.tag, step, wt, H.from_v2_tensor(arr))
        return None
