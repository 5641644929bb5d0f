"""Hostile input, notebook surface (issue 25): ``streamvis.notebook.show`` in a real
kernel, its output drawn by Chromium as a notebook page.

The view is the same document as the web page (``make_document``), so one case covers
it: markup payloads as runs (scopes), names and config keys, and as the log's file name
(the header's title, which the notebook view rewrites), shown with ``color_by=`` a
hostile key. Nothing runs (``window.__pwned``), no element is created (``data-sv-pwned``),
and the strings are on the page as text; a hostile page parameter is one line of text
in the cell's output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvis.storage import ConfigUpdate, Points, Store
from tests.hardening.hostile_strings import MARK, MARKUP, PWN
from tests.hardening.test_hostile_browser import CHECK_JS, INIT_JS, TEXT_JS
from tests.helpers import wait_for
from tests.notebook.kernel_support import Kernel, NotebookPages, kernel, notebook_pages
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

RUNS = MARKUP[:4]
ROWS_JS = """() => { const s = window.Bokeh && Bokeh.documents.length ?
  Bokeh.documents[0].get_model_by_name('runs:source') : null; return s ? s.data.scope.length : 0; }"""
FILE_NAME = f"<img src=x onerror={PWN}(90) {MARK}>.svl"  # no '/': a file name may hold it


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with kernel(tmp_path_factory.mktemp("hostile-kernel")) as k:
        yield k


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for this module alone (closed before other modules start theirs)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def jupyter() -> Iterator[NotebookPages]:
    with notebook_pages() as pages:
        yield pages


def _write(path: Path) -> None:
    store = Store.open(str(path), mode="a")
    try:
        x = [0.0, 1.0, 2.0]
        for i, h in enumerate(RUNS):
            run = f"r{i} {h.text}"
            store.append([ConfigUpdate(run, {h.text: i, "opt": h.text}),
                          Points(run, f"m {h.text}", 0, {"x": x, "y": [float(i)] * 3}),
                          Points(run, "loss", 0, {"x": x, "y": [float(i)] * 3})])
    finally:
        store.close()


def test_hostile_runs_names_and_file_name_stay_text(nb: Kernel, jupyter: NotebookPages, browser: Any,
                                                     tmp_path: Path) -> None:
    log = tmp_path / FILE_NAME
    _write(log)
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.add_init_script(INIT_JS)
    page = ctx.new_page()
    try:
        for call in (f"show({str(log)!r}, color_by={RUNS[0].text!r}, notebook_url={jupyter.url!r})",
                     f"show({str(log)!r}, rows='loss', notebook_url={jupyter.url!r})"):
            out = nb.run("from streamvis.notebook import show\n" + call)
            assert not [o for o in out if o["output_type"] == "error"], out
            jupyter.open(page, out)
            wait_for(lambda: page.evaluate(ROWS_JS) == len(RUNS), timeout=30, interval=0.1)
            page.wait_for_timeout(300)  # (a payload's onerror fires as its element loads)
            found = page.evaluate(CHECK_JS)
            assert found == {"calls": [], "found": []}, (call, found)
            texts = "\n".join(page.evaluate(TEXT_JS))
            assert FILE_NAME in texts  # the header's title: the log's name, as text
            scopes = page.evaluate("() => Bokeh.documents[0].get_model_by_name('runs:source').data.scope")
            assert sorted(scopes) == sorted(f"r{i} {h.text}" for i, h in enumerate(RUNS))
        # a hostile page parameter: one line of text in the output, nothing started
        out = nb.run(f"show({str(log)!r}, smoothing={RUNS[1].text!r})")
        [err] = [o for o in out if o["output_type"] == "error"]
        assert len(err["traceback"]) == 1 and RUNS[1].text in err["evalue"]
        assert not [o for o in out if o["output_type"] == "display_data"]
    finally:
        ctx.close()
        nb.run("from streamvis.notebook import stop_all; stop_all()")
