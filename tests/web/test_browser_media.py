"""Image and text cards on the page of every name (issue 24): the latest step by
default, a slider that moves every run to a step, the runs side by side, the PNG bytes
the log holds, texts as text; and only the shown step is fetched."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamvis.logger import DataLogger
from streamvis.source import LocalSource
from streamvis.storage import Store

from .conftest import WebServer
from .helpers import open_page

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=window.__pwned=1>"
# every image card's runs, steps and image bytes, and every text card's texts
MEDIA_JS = """() => { try { const out = {}, doc = Bokeh.documents[0];
  for (let k = 0; k < 8; k++) {
    const div = doc.get_model_by_name('media:' + k); if (!div) continue;
    const html = new DOMParser().parseFromString(div.text, 'text/html');
    for (const fig of html.querySelectorAll('.sv-media figure')) {
      const cap = fig.querySelector('figcaption').textContent.trim();
      const img = fig.querySelector('img'), pre = fig.querySelector('pre');
      out[k + ' ' + cap] = img ? img.getAttribute('src') : 'text:' + pre.textContent;
    }
  }
  return out; } catch (e) { return null; } }"""


def _log(path: Path) -> dict[tuple[str, int], bytes]:
    rng = np.random.default_rng(0)
    for run in ("run1", "run2"):
        lg = DataLogger(scope=run, path=str(path)).start()
        lg.write("loss", x=0, y=1.0)
        for step in (0, 5, 10):
            lg.write_image("samples", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), step=step)
            lg.write_text("notes", f"{run} at {step} {HOSTILE}", step=step)
        lg.close()
    with Store.open(str(path)) as st:
        return {(run, step): img.png for run in ("run1", "run2")
                for img in st.read_media(run, "samples") for step in [img.step]}


def _media(page: Any, want: int) -> dict[str, str]:
    page.wait_for_function(f"() => {{ const m = ({MEDIA_JS})(); return m && Object.keys(m).length >= {want}; }}",
                           timeout=60_000)
    return page.evaluate(MEDIA_JS)


def test_image_and_text_cards_show_a_step_of_every_run_side_by_side(tmp_path: Path, page: Any) -> None:
    pngs = _log(tmp_path / "m.svl")
    ws = WebServer(str(tmp_path / "m.svl"), None)
    try:
        fetched: list[tuple[str, str, tuple[int, ...]]] = []
        real = LocalSource.read_media

        def counting(self: Any, scope: str, name: str, steps: Any = None) -> Any:
            fetched.append((scope, name, tuple(steps or ())))
            return real(self, scope, name, steps)

        LocalSource.read_media = counting  # type: ignore[method-assign]
        open_page(page, ws.url + "/")
        got = _media(page, 4)  # 2 runs x (image + text) at the latest step
        assert {k.split(" ", 1)[1] for k in got} == {"■ run1 · 10", "■ run2 · 10"}, got
        images = {k: v for k, v in got.items() if not v.startswith("text:")}
        texts = {k: v for k, v in got.items() if v.startswith("text:")}
        assert len(images) == 2 and len(texts) == 2
        for cap, src in images.items():
            run = cap.split()[2]
            assert base64.b64decode(src.split(",", 1)[1]) == pngs[(run, 10)]
        assert all(HOSTILE in t for t in texts.values())  # shown as text
        assert page.evaluate("() => window.__pwned === undefined")
        assert {s for _, _, s in fetched} == {(10,)}  # only the shown step was read
        # the slider moves every run of the image card to step 5
        page.evaluate("""() => { const s = Bokeh.documents[0].get_model_by_name('media-step:0');
                                  s.value = 5; s.value_throttled = 5; }""")
        page.wait_for_function(f"() => {{ const m = ({MEDIA_JS})(); return m && "
                               "Object.keys(m).some(k => k.endsWith('· 5')); }", timeout=60_000)
        moved = page.evaluate(MEDIA_JS)
        for run in ("run1", "run2"):
            key = next(k for k in moved if k.endswith(f"{run} · 5"))
            src = moved[key]
            if not src.startswith("text:"):
                assert base64.b64decode(src.split(",", 1)[1]) == pngs[(run, 5)]
    finally:
        LocalSource.read_media = real  # type: ignore[method-assign]
        ws.stop()


SCHEMA = """
DEFAULTS:
  columns: [x, y]
loss:
  name_pattern: '^loss$'
pics:
  glyph_kind: image
  name_pattern: '^sam'
words:
  glyph_kind: text
  name_pattern: notes
"""
FIGURES_JS = "() => [...Bokeh.documents[0].all_models].filter(m => (m.name || '').startsWith('plot:')).map(m => m.name)"


def test_image_and_text_plots_of_a_layout_with_and_without_a_schema(tmp_path: Path, page: Any) -> None:
    """A schema's ``glyph_kind: image`` / ``text`` plots take their place in the layout
    beside a line plot; without a schema, ``rows=`` names an image name directly."""
    pngs = _log(tmp_path / "m.svl")
    schema = tmp_path / "s.yaml"
    schema.write_text(SCHEMA)
    for schema_path, rows in ((str(schema), "loss,pics;words"), (None, "loss,samples;notes")):
        ws = WebServer(str(tmp_path / "m.svl"), schema_path)
        try:
            open_page(page, f"{ws.url}/?rows={rows}")
            got = _media(page, 4)  # the image plot's 2 runs, the text plot's 2 runs
            images = {k: v for k, v in got.items() if not v.startswith("text:")}
            texts = {k: v for k, v in got.items() if v.startswith("text:")}
            assert len(images) == 2 and len(texts) == 2, got
            for cap, src in images.items():
                run, step = cap.split()[2], int(cap.split()[-1])
                assert step == 10 and base64.b64decode(src.split(",", 1)[1]) == pngs[(run, 10)]
            assert all(HOSTILE in t for t in texts.values())  # as text
            assert page.evaluate("() => window.__pwned === undefined")
            # the figure of loss only, in the first row beside the images
            assert page.evaluate(FIGURES_JS) == ["plot:0"], schema_path
            assert page.evaluate("() => !!Bokeh.documents[0].get_model_by_name('media-plot:1')")
        finally:
            ws.stop()


# every image of the page's image card: its box, and the box of the card (its Pane)
IMAGE_BOXES_JS = """() => { const out = {imgs: [], card: null};
  const walk = (root) => { for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) walk(el.shadowRoot);
    if (el.tagName === 'IMG' && el.complete && el.naturalWidth > 0) {
      const r = el.getBoundingClientRect(); out.imgs.push([r.top, r.bottom]); } } };
  walk(document);
  const views = []; const w = v => { views.push(v); for (const c of (v.child_views ?? v.element_views ?? [])) w(c); };
  for (const v of Object.values(Bokeh.index)) w(v);
  const card = views.find(v => (v.model.tags ?? []).includes('image'));
  if (card) { const r = card.el.getBoundingClientRect(); out.card = [r.top, r.bottom]; }
  return out; }"""


def test_an_image_card_of_many_runs_is_as_tall_as_its_rows(tmp_path: Path, page: Any) -> None:
    """Six runs' images are two rows in a card: the card grows to hold them (in a
    card's fixed height the second row ran under the next section)."""
    path = tmp_path / "many.svl"
    rng = np.random.default_rng(1)
    for r in range(6):
        lg = DataLogger(scope=f"run{r}", path=str(path)).start()
        lg.write("loss", x=0, y=1.0)
        lg.write_image("samples", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), step=0)
        lg.close()
    ws = WebServer(str(path), None)
    try:
        page.set_viewport_size({"width": 1400, "height": 2000})  # every card in view
        open_page(page, ws.url + "/")
        page.wait_for_function(f"() => ({IMAGE_BOXES_JS})().imgs.length === 6", timeout=60_000)
        got = page.evaluate(IMAGE_BOXES_JS)
        top, bottom = got["card"]
        rows = sorted({round(t) for t, _ in got["imgs"]})
        assert len(rows) >= 2, got  # side by side, more than one row at this width
        assert all(top <= t and b <= bottom + 1 for t, b in got["imgs"]), got  # within the card
    finally:
        ws.stop()
