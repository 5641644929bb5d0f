"""Hostile page URLs against a real ``streamvis web-serve`` over a real data server.

Hostile parameters (100k-character strings, catastrophic regexes, unicode, thousands
of plots) get a readable message or a correct page quickly, and the servers answer
afterwards.
"""

from __future__ import annotations

import math
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hardening.hostile_support import (
    EVIL,
    EVIL_NAME,
    EVIL_SCOPE,
    FAST,
    LONG,
    SCHEMA,
    UNI_SCOPE,
    WIDE_BIG,
    WIDE_NAMES,
    Proc,
    _healthy,
    hostile_env,
)
from tests.helpers import wait_for
from tests.server.conftest import free_port
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

env = pytest.fixture(scope="module")(hostile_env)


# --------------------------------------------------------------------------- web
@pytest.fixture(scope="module")
def web(env: dict[str, Any]) -> Iterator[str]:
    schema = env["tmp"] / "hostile.yaml"
    schema.write_text(SCHEMA)
    port = free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "streamvis.cli",
            "web-serve",
            f"127.0.0.1:{port}",
            env["uri"],
            str(schema),
            "--refresh",
            "0.2",
        ],
        env["tmp"] / "web.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: proc.proc.poll() is not None or _get(url + "/index")[0] == 200,
            timeout=60,
            interval=0.1,
        )
        assert proc.proc.poll() is None, proc.output()
        yield url
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
    finally:
        proc.stop()


def _get(url: str) -> tuple[int, float]:
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
            return r.status, time.monotonic() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - t0
    except OSError:
        return 0, time.monotonic() - t0


def _q(**params: Any) -> str:
    return urllib.parse.urlencode(params, doseq=True, safe=",;")


MID = "x" * 30_000  # long, yet the URL stays under Tornado's 64 KiB request-line limit
HOSTILE_PAGES = [
    # (query, words the page's message must contain; None: a correct page of plots)
    (_q(rows=",".join(["metric"] * 5000)), ["5000 plots", "at most"]),
    (_q(rows=";".join(["metric"] * 3000)), ["3000 plots", "at most"]),
    (_q(cols=",".join(["evil"] * 40)), ["40 plots", "at most"]),
    (_q(rows="metric", scopes=MID), ["scopes", "30000 characters"]),
    (_q(rows="metric", names=MID), ["names", "30000 characters"]),
    (_q(rows="metric", scopes="(" * 3000), ["scopes", "bad regex"]),
    (_q(rows="metric", scopes=EVIL * 500), None),  # valid, 3000 characters: plots
    (_q(rows=MID), ["unknown plot"]),
    (_q(rows="metric", width=",".join(["1"] * 10_000)), ["width"]),
    (_q(rows="metric", axes=MID), ["axes"]),
    (_q(rows="metric", **{MID: "1"}), ["unknown parameter"]),
    (_q(rows="métrique ✓ / 😀"), ["unknown plot"]),
    (_q(rows="metric", names=["x"] * 900), ["names", "900 time"]),
    (_q(rows="metric,evil", scopes=EVIL, names=[EVIL, "(a+)+b$"]), None),
    (_q(rows="metric,evil", scopes="(a*)*b$"), None),
    (_q(rows="metric", scopes="^ünï cødé 😀"), None),
    # each names= fits the limit, all plots' patterns together do not
    (_q(rows="metric,metric", names=[f"^(?:y|{'z' * 3000})$"] * 2, scopes="^base$"), None),
]
# beyond Tornado's limits (64 KiB request line, 1000 arguments): refused at once
REFUSED_PAGES = [
    _q(rows="metric", scopes=LONG),
    _q(rows=LONG),
    _q(rows="metric", names=["x"] * 3000),
]

MESSAGE_JS = """() => {
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.name === "error") return m.text;
  return null;
}"""
GLYPHS_JS = """() => {
  // points per line label: rows of the plots' multi_line sources (their "n"), or the
  // points of a scatter source sharing a label (raw layers only, not smoothed ones)
  const out = {};
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models) {
      if (m.data === undefined || !(m.name || '').startsWith('lines:')) continue;
      const d = m.data;
      if (d.xs !== undefined) for (let j = 0; j < d.xs.length; j++) out[d.label[j]] = d.n[j];
      else if (d.label !== undefined) for (const l of d.label) out[l] = (out[l] ?? 0) + 1;
    }
  return out;
}"""


def test_web_hostile_params_http(web: str, env: dict[str, Any]) -> None:
    """Plain GETs: each hostile page is answered quickly and the server answers after."""
    for query, _ in HOSTILE_PAGES:
        status, dt = _get(f"{web}/?{query}")
        assert status == 200, (query[:100], status)
        assert dt < FAST, f"GET /?{query[:100]}… took {dt:.1f} s"
        status, dt = _get(f"{web}/index")
        assert status == 200 and dt < FAST, ("index after", query[:100], status, dt)
    for query in REFUSED_PAGES:
        status, dt = _get(f"{web}/?{query}")
        assert status in (0, 400, 414, 431), (query[:100], status)  # 0: connection closed
        assert dt < FAST, f"GET /?{query[:100]}… took {dt:.1f} s"
        status, dt = _get(f"{web}/index")
        assert status == 200 and dt < FAST, ("index after", query[:100], status, dt)
    _healthy(env)


@pytest.mark.browser
def test_web_hostile_params_messages(web: str, env: dict[str, Any]) -> None:
    """In the browser: the message names what was wrong; good hostile pages plot."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        for query, words in HOSTILE_PAGES:
            t0 = time.monotonic()
            response = page.goto(f"{web}/?{query}")
            assert response is not None and response.status == 200, (query[:100], response)
            page.wait_for_function(
                "() => window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=30000
            )
            if words is None:
                assert page.evaluate(MESSAGE_JS) is None, query[:100]
                continue
            message = page.evaluate(MESSAGE_JS)
            assert message is not None, f"no message for /?{query[:100]}"
            for w in words:
                assert w in message, (w, message[:500])
            assert time.monotonic() - t0 < 3 * FAST
        # the evil-regex pages plot exactly the names they match (RE2: no hang)
        page.goto(f"{web}/?" + _q(rows="metric,evil", scopes="(a*)*b$", names=["^y$", "^(a+)+b$"]))
        want = {
            f"{EVIL_SCOPE} · y · 0": 50,
            f"{EVIL_SCOPE} · y · 1": 50,
            f"{EVIL_SCOPE} · {EVIL_NAME} · 0": 50,
        }
        wait_for(lambda: page.evaluate(GLYPHS_JS) == want, timeout=20, interval=0.2)
        page.goto(f"{web}/?" + _q(rows="metric", scopes=EVIL, names=EVIL))
        page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.documents.length > 0")
        assert page.evaluate(GLYPHS_JS) == {}
        page.goto(f"{web}/?" + HOSTILE_PAGES[-1][0])  # together too long: still plotted
        wait_for(
            lambda: page.evaluate(GLYPHS_JS) == {"base · y · 0": 50, "base · y · 1": 50},
            timeout=20,
            interval=0.2,
        )
        page.goto(f"{web}/?" + _q(rows="metric", scopes="😀"))
        wait_for(
            lambda: (
                page.evaluate(GLYPHS_JS) == {f"{UNI_SCOPE} · y · 0": 50, f"{UNI_SCOPE} · y · 1": 50}
            ),
            timeout=20,
            interval=0.2,
        )
        browser.close()
    status, dt = _get(f"{web}/index")
    assert status == 200 and dt < FAST
    _healthy(env)



def test_layout_plot_cap() -> None:
    """Regression: thousands of plots in rows= were built on the event loop (33 s for
    1000); now a LayoutError names the count and the limit."""
    from streamvis.web.address.layout import MAX_PLOTS, LayoutError, parse_layout
    from streamvis.web.schema import parse_schema

    schema = parse_schema({"m": {"name_pattern": "y", "columns": ["x", "y"]}})
    assert len(parse_layout({"rows": [",".join(["m"] * MAX_PLOTS)]}, schema).cells) == MAX_PLOTS
    for key in ("rows", "cols"):
        with pytest.raises(LayoutError, match=f"{MAX_PLOTS + 1} plots"):
            parse_layout({key: [";".join(["m"] * (MAX_PLOTS + 1))]}, schema)
    assert math.isfinite(MAX_PLOTS)



@pytest.mark.browser
def test_web_many_names_and_a_big_group(web: str) -> None:
    """Regression: with a group over the glyph budget, the first read names every small
    name in one pattern; with many names it passed the 4096-character limit and every
    poll failed (an empty page, a warning per tick)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{web}/?" + _q(rows="many", scopes="^wide$"))
        seen: dict[str, int] = {}

        def complete() -> bool:
            seen.clear()
            seen.update(page.evaluate(GLYPHS_JS))
            small = [v for k, v in seen.items() if "many/n" in k]
            return (
                len(small) == WIDE_NAMES
                and set(small) == {5}
                and seen.get("wide · many/big · 0", 0) > 0
            )

        try:
            wait_for(complete, timeout=30, interval=0.25)
        except AssertionError:
            raise AssertionError(f"{len(seen)} glyphs: {dict(list(seen.items())[:5])}") from None
        assert seen["wide · many/big · 0"] <= WIDE_BIG
        browser.close()

