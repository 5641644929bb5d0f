"""Hostile input on the hyperparameter page (/hparams), in Chromium over a real
``streamvis web-serve``: the log of ``test_hostile_browser`` (every catalogued string as a
scope, a name, a config key and value, numbers past float64) as axes, table titles and
cells, notes and the names a missing metric lists; every parameter of the page with every
markup payload; and CSV cells that a spreadsheet would take for formulas.

A page fails if a payload ran or created an element (``CHECK_JS``), and the strings must
be on the page as text (the checks are not vacuous).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points, Store
from tests.hardening.hostile_strings import MARKUP, STRINGS, joined_markup
from tests.hardening.test_hostile_browser import (
    CHECK_JS,
    INIT_JS,
    READY_JS,
    SCHEMA,
    TEXT_JS,
    _write_log,
)
from tests.helpers import spawn, wait_for
from tests.server.conftest import ROOT, free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

FORMULAS = {"f": "=HYPERLINK(1)", "g": "+1", "h": "@SUM(A1)", "i": "-2+3", "j": 'a,"b"\nc', "k": "plain"}
DRAWN_JS = """() => { const t = Bokeh.documents[0].get_model_by_name('hparams:title');
  return t !== null && t.text.includes(' over '); }"""
SETTLED_JS = """() => { const d = Bokeh.documents[0];
  if (d.get_model_by_name('error')) return true;
  const t = d.get_model_by_name('hparams:title'), n = d.get_model_by_name('hparams:note');
  return t !== null && (t.text.includes(' over ') || (n !== null && n.text !== '')); }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    tmp = tmp_path_factory.mktemp("hostile-hparams")
    log = tmp / "hostile.svl"
    _write_log(log)
    with Store.open(str(log), mode="a") as s:
        s.append([ConfigUpdate("formula", FORMULAS),
                  Points("formula", "metric", 0, {"x": np.arange(2.0), "y": np.array([3.0, -4.0])})])
    schema = tmp / "hostile.yaml"
    schema.write_text(SCHEMA)
    port = free_port()
    out = open(tmp / "web.log", "wb")  # noqa: SIM115 - closed below
    proc = spawn([sys.executable, "-m", "streamvis.cli", "web-serve", f"127.0.0.1:{port}", str(log),
                  str(schema), "--refresh", "0.3"], stdout=out, stderr=subprocess.STDOUT,
                 env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    output = lambda: (tmp / "web.log").read_text(errors="replace")  # noqa: E731
    try:
        wait_for(lambda: proc.poll() is not None or "open http://" in output(), timeout=60, interval=0.1)
        assert proc.poll() is None, output()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
            ctx.add_init_script(INIT_JS)
            page = ctx.new_page()
            yield {"url": f"http://127.0.0.1:{port}/hparams?", "page": page}
            browser.close()
        assert "Traceback" not in output() and "OverflowError" not in output(), output()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.close()


def _open(served: dict[str, Any], query: dict[str, str] | list[tuple[str, str]], ready: str = SETTLED_JS) -> Any:
    page = served["page"]
    page.goto(served["url"] + urllib.parse.urlencode(query, quote_via=urllib.parse.quote))
    page.wait_for_function(READY_JS, timeout=20000)
    page.wait_for_function(ready, timeout=30000, polling=100)
    return page


def _clean(page: Any, where: str) -> str:
    got = page.evaluate(CHECK_JS)
    assert not got["calls"] and not got["found"], (where, got)
    return "\n".join(page.evaluate(TEXT_JS))


def test_every_string_as_axes_titles_cells_and_notes_stays_text(served: dict[str, Any]) -> None:
    page = _open(served, {"metric": "metric.last"}, DRAWN_JS)
    texts = _clean(page, "hparams page")
    titles = page.evaluate("() => Bokeh.documents[0].get_model_by_name('hparams:runs').columns.map(c => c.title)")
    labels = page.evaluate("""() => { const ov = Bokeh.documents[0].get_model_by_name('hparams:coords')
      .below[0].major_label_overrides; return Array.from(ov.values()).map(v => v.text); }""")
    shown = 0
    for h in MARKUP:
        # a hostile config key: a column of the table (escaped title), an axis (canvas
        # text) or named in a note; drawn as the very string
        assert any(h.text in t or h.text in (t.replace("&lt;", "<").replace("&gt;", ">").replace(
            "&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")) for t in titles + labels), h.label
        shown += h.text in texts
    assert shown >= len(MARKUP) // 2, "the hostile keys are not on the page as text"
    # the runs' scopes are cells (text), every one
    cells = page.evaluate("() => Array.from(Bokeh.documents[0].get_model_by_name('hparams:table').data.scope)")
    assert any(STRINGS[0].text in c for c in cells)


def test_a_missing_metric_lists_hostile_names_as_text(served: dict[str, Any]) -> None:
    page = _open(served, {"metric": "nope.min"})
    texts = _clean(page, "missing metric")
    assert "no run logged 'nope'" in texts
    assert sum(f"m {h.text}" in texts for h in MARKUP) >= len(MARKUP) - 2  # (long ones cut)


@pytest.mark.parametrize("key", [h.label for h in MARKUP[:6]])
def test_x_and_color_by_a_hostile_key(served: dict[str, Any], key: str) -> None:
    text = next(h.text for h in STRINGS if h.label == key)
    for param in ("x", "color_by"):
        page = _open(served, {"metric": "metric.last", param: text}, DRAWN_JS)
        _clean(page, f"{param}={key}")


@pytest.mark.parametrize("key", [h.label for h in MARKUP[:3]])
def test_group_by_a_hostile_key_labels_its_groups_as_text(served: dict[str, Any], key: str) -> None:
    """group= a hostile config key: the groups' labels (hostile values) are table cells and
    hover text, the key an axis and a note; nothing runs."""
    text = next(h.text for h in STRINGS if h.label == key)
    page = _open(served, {"metric": "metric.last", "group": text}, DRAWN_JS)
    texts = _clean(page, f"group={key}")
    assert "groups" in page.evaluate(
        "() => Bokeh.documents[0].get_model_by_name('hparams:title').text")
    assert f"grouped by {text}" in texts


@pytest.mark.parametrize("param", ["metric", "where", "scopes", "color_by", "range", "x", "group", "agg",
                                   "name"])
def test_every_parameter_with_every_payload(served: dict[str, Any], param: str) -> None:
    """Each parameter's value is the payloads (``name``: a parameter named by them)."""
    payload = joined_markup(900)
    value = {"metric": payload + ".min", "range": payload + ":1:2"}.get(param, payload)
    query = [("metric", "metric.last")] if param != "metric" else []
    query += [("group", "-seed")] if param == "agg" else []
    pair = (payload, "1") if param == "name" else (param, value)
    page = _open(served, [*query, pair])
    texts = _clean(page, param)
    assert MARKUP[0].text in texts or param in ("scopes", "where"), (param, texts[:500])


def test_csv_cells_never_become_formulas(served: dict[str, Any]) -> None:
    page = _open(served, {"metric": "metric.last", "scopes": "^formula$"}, DRAWN_JS)
    _clean(page, "csv")
    with page.expect_download(timeout=30000) as dl:
        page.get_by_role("button", name="Download CSV").click()
    with open(dl.value.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    assert rows[0] == ["scope", *FORMULAS, "metric.last"]
    got = dict(zip(rows[0], rows[1], strict=True))
    for k, v in FORMULAS.items():
        assert got[k] == ("'" + v if v[0] in "=+-@" else v), k
    assert got["metric.last"] == "-4"  # a number stays a number, sign and all
