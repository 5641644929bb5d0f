"""An image or text card of the page of every name: one logged image (or text) name,
the runs side by side at one step, a slider over the steps.

The card shows the latest step until the viewer moves its slider (then it stays
there). The browser gets only what it shows: the chosen step of the runs on the card
(at most ``MAX_RUNS``), fetched by the page's worker with ``DataSource.read_media``
and kept in a small cache, so moving back to a step costs nothing. Images go to the
browser as PNG data URIs (the bytes the log holds); run names and texts as escaped
text (``safe_html.text``), never markup.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from bokeh.models import Column
from bokeh.models.widgets import Div, Slider

from streamvis.source import DataSource
from streamvis.storage.format.model import Image, MediaInfo

from .. import safe_html

__all__ = ["MediaCard", "MAX_RUNS", "CACHE_ITEMS"]

MAX_RUNS = 16  # runs side by side on one card
CACHE_ITEMS = 256  # (scope, step) entries a card keeps
CARD_CSS = (":host { font-family: system-ui, sans-serif; font-size: 12px; }"
            ".sv-media { display: flex; flex-wrap: wrap; gap: 8px; }"
            ".sv-media figure { margin: 0; width: 200px; }"
            ".sv-media img { width: 200px; height: auto; image-rendering: pixelated; }"
            ".sv-media pre { white-space: pre-wrap; max-width: 340px; margin: 0; }"
            ".sv-media figcaption { color: #444; overflow: hidden; text-overflow: ellipsis; }")

Submit = Callable[[Callable[[], Any], Callable[[Any], None]], None]


class MediaCard:
    """The card of one image or text name (``kind``), over ``source`` via ``submit``."""

    def __init__(self, name: str, kind: str, source: DataSource, submit: Submit, *,
                 color_of: Callable[[str], str], key: int) -> None:
        self.name, self.kind, self.source, self.submit = name, kind, source, submit
        self.color_of = color_of
        self.steps_of: dict[str, tuple[int, ...]] = {}  # scope -> its steps
        self._cache: OrderedDict[tuple[str, int], str] = OrderedDict()  # -> HTML of one run
        self._follow = True  # at the latest step until the viewer moves the slider
        self._loading = False
        self.slider = Slider(start=0, end=1, value=0, step=1, title="step", name=f"media-step:{key}",
                             visible=False, sizing_mode="stretch_width")
        self.slider.on_change("value_throttled", self._moved)
        self.body = Div(text="<span class='sv-note'>waiting for data</span>", name=f"media:{key}",
                        stylesheets=[CARD_CSS], sizing_mode="stretch_width")
        title = Div(text=f"<b>{safe_html.text(name)}</b>", stylesheets=[CARD_CSS])
        self.root = Column(children=[title, self.slider, self.body], sizing_mode="stretch_width")

    # ---- what the log holds ----------------------------------------------------------------
    def update(self, infos: Sequence[MediaInfo]) -> None:
        """The name's runs and steps as listed now (on the document's thread)."""
        steps = {i.scope: i.steps for i in infos if i.name == self.name and i.steps}
        if steps == self.steps_of:
            return
        self.steps_of = steps
        every = sorted({s for ss in steps.values() for s in ss})
        if not every:
            return
        self.slider.update(start=every[0], end=max(every[-1], every[0] + 1), visible=len(every) > 1)
        if self._follow or self.slider.value not in every:
            self.slider.value = every[-1]
        self.show()

    def _moved(self, attr: str, old: object, new: object) -> None:
        every = sorted({s for ss in self.steps_of.values() for s in ss})
        self._follow = bool(every) and int(new) >= every[-1]  # type: ignore[call-overload]
        self.show()

    # ---- what the browser gets -------------------------------------------------------------
    def _at(self, scope: str, step: int) -> int | None:
        """The run's step shown for ``step``: its latest at or before it."""
        best = None
        for s in self.steps_of.get(scope, ()):
            if s <= step:
                best = s
        return best

    def show(self) -> None:
        """Show the slider's step for every run on the card (fetching what is missing)."""
        step = int(self.slider.value)
        runs = sorted(self.steps_of)[:MAX_RUNS]
        wanted = [(r, s) for r in runs if (s := self._at(r, step)) is not None]
        missing = [k for k in wanted if k not in self._cache]
        if missing and not self._loading:
            self._loading = True
            self.submit(lambda: self._fetch(missing), self._fetched)
        self._render(wanted, step, len(self.steps_of))

    def _fetch(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """(A worker.) The HTML of each (run, step)."""
        out = {}
        for scope, step in keys:
            for item in self.source.read_media(scope, self.name, [step]):
                out[(scope, step)] = self._html(scope, item)
        return out

    def _fetched(self, fut: Any) -> None:
        self._loading = False
        try:
            got = fut.result()
        except Exception as exc:  # noqa: BLE001 - the card says so, the page goes on
            self.body.text = f"<span class='sv-error'>{safe_html.text(str(exc))}</span>"
            return
        self._cache.update(got)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)
        self.show()

    def _html(self, scope: str, item: Any) -> str:
        caption = (f"<figcaption><span style='color:{safe_html.text(self.color_of(scope))}'>&#9632;</span> "
                   f"{safe_html.text(scope)} · {item.step}</figcaption>")
        if isinstance(item, Image):
            data = base64.b64encode(item.png).decode("ascii")
            return f"<figure><img alt='' src='data:image/png;base64,{data}'>{caption}</figure>"
        return f"<figure><pre>{safe_html.text(item.text)}</pre>{caption}</figure>"

    def _render(self, wanted: Sequence[tuple[str, int]], step: int, runs: int) -> None:
        parts = [self._cache[k] for k in wanted if k in self._cache]
        more = (f"<p class='sv-note'>the first {MAX_RUNS} of {runs} runs</p>"
                if runs > MAX_RUNS else "")
        html = f"<div class='sv-media'>{''.join(parts)}</div>{more}" if parts else (
            "<span class='sv-note'>loading</span>" if wanted else
            f"<span class='sv-note'>no run has {safe_html.text(self.kind)} before step {step}</span>")
        if self.body.text != html:
            self.body.text = html
