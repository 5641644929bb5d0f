"""``streamvis snapshot`` and the header's snapshot button (issue 25, part 2): one HTML
file that draws every selected run offline, the same file from the CLI and the button."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamvis.storage import ConfigUpdate, Points, Store
from streamvis.web.address.layout import parse_layout
from streamvis.web.schema import Schema

from .conftest import ROOT, WebServer, free_port
from .helpers import READY_JS, open_page

pytestmark = pytest.mark.browser

RUNS, POINTS = 6, 3000  # past twice a plot's width: the lines are held decimated
WHERE = "lr>0.0025"  # runs 3, 4, 5
SELECTED = {f"run{k}" for k in range(3, RUNS)}
QUERY = urllib.parse.urlencode({"rows": "loss,acc", "where": WHERE}, safe=",")
W, H = 1200, 800  # the browser fixture's viewport
# every line source of the document: {source name: {label: [xs, ys]}}
DATA_JS = """() => { const out = {};
  for (const m of Bokeh.documents[0]._all_models.values()) {
    if (!m.name || !/^(lines|smooth):/.test(m.name) || !m.name.endsWith(':source')) continue;
    const d = m.data, lines = {};
    for (let j = 0; j < d.xs.length; j++)
      lines[d.label[j]] = [Array.from(d.xs[j].slice(0, d.n[j])), Array.from(d.ys[j].slice(0, d.n[j]))];
    out[m.name] = lines;
  }
  return out; }"""
# the file shows its lines once the page is laid out (snapshot_render.SHOW_JS)
DRAWN_JS = "() => document.documentElement.dataset.svDrawn === '1'"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("snapshot")
    log = str(d / "snap.svl")
    x = np.arange(POINTS, dtype=np.float64)
    with Store.open(log, mode="a") as st:
        for k in range(RUNS):
            st.append([ConfigUpdate(f"run{k}", {"lr": 0.001 * k}),
                       Points(f"run{k}", "loss", 0, {"x": x, "y": np.sin(x / 50.0) + k}),
                       Points(f"run{k}", "acc", 0, {"x": x, "y": np.cos(x / 70.0) * k})])
    ws = WebServer(log, None, refresh=0.3)
    yield {"log": log, "dir": d, "server": ws}
    ws.stop()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "streamvis.cli", "snapshot", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def _open_offline(browser: Any, path: Path) -> tuple[dict[str, Any], list[str]]:
    """The file's lines, opened from file:// with the network cut; the requests that
    tried to leave the machine."""
    ctx = browser.new_context(viewport={"width": W, "height": H})
    ctx.set_offline(True)
    tried: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    try:
        pg = ctx.new_page()
        pg.goto(path.as_uri())
        pg.wait_for_function(READY_JS, timeout=20000)
        pg.wait_for_function(DRAWN_JS, timeout=20000)
        return pg.evaluate(DATA_JS), tried
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def cli_file(served: Any) -> Path:
    out = served["dir"] / "cli.html"
    r = _cli(served["log"], str(out), "--page", QUERY, "--width", str(W), "--height", str(H))
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr and str(out) in r.stderr  # the progress lines
    return out


def test_cli_snapshot_draws_every_selected_run_offline(browser: Any, cli_file: Path) -> None:
    html = cli_file.read_text()
    assert '<meta name="generator" content="streamvis snapshot">' in html
    assert "cdn.bokeh.org" not in html and "<script src=" not in html  # BokehJS inline
    data, tried = _open_offline(browser, cli_file)
    assert not tried, tried  # nothing asked of the network
    assert set(data) == {"lines:0:source", "lines:1:source"}
    for name, lines in data.items():
        assert {label.split(" · ")[0] for label in lines} == SELECTED, (name, list(lines))
        for xs, ys in lines.values():
            # decimated to the plot's width (min/max), never the raw 3,000 points
            assert 100 < len(xs) < POINTS and xs[0] == 0 and xs[-1] == POINTS - 1
            assert len(ys) == len(xs)
    assert len(html) < 4 * 2**20  # a few MiB: BokehJS and the held points


def test_header_button_downloads_the_same_file_as_the_cli(browser: Any, page: Any, served: Any,
                                                          cli_file: Path) -> None:
    ws = served["server"]
    open_page(page, f"{ws.url}/?{QUERY}")
    button = page.get_by_role("button", name="snapshot")
    with page.expect_download(timeout=30000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "streamvis-snapshot.html"
    got = served["dir"] / "button.html"
    download.save_as(got)
    from_button, tried = _open_offline(browser, got)
    assert not tried
    from_cli, _ = _open_offline(browser, cli_file)
    assert from_button == from_cli  # the same runs and the same points, plot by plot
    with ws.cfg.lock:  # the route's session was closed with its request
        assert all(getattr(s, "closed", False) is False for s in ws.cfg.sessions)
        assert len(ws.cfg.sessions) <= 1  # (the open tab's)


def test_route_answers_a_bad_page_with_its_message(served: Any) -> None:
    import urllib.error
    import urllib.request

    url = f"{served['server'].url}/snapshot?rows=loss&zoom=nope"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=30)
    assert err.value.code == 400
    body = err.value.read().decode()
    with pytest.raises(Exception) as page_err:
        parse_layout({"rows": ["loss"], "zoom": ["nope"]}, Schema(plots={}))
    assert str(page_err.value) in body


def test_refusals_are_one_line(served: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from streamvis.cli import main

    def run(*args: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as ex:
            main(["snapshot", *args])
        return int(ex.value.code or 0), capsys.readouterr().err.strip()

    # an existing file that is not a snapshot: refused, untouched
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    code, err = run(served["log"], str(notes), "--page", "rows=loss")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert str(notes) in err and "not a streamvis snapshot" in err
    assert notes.read_text() == "<p>my notes</p>"
    # a page parameter the page refuses: the page's own message, a usage error
    with pytest.raises(Exception) as page_err:
        parse_layout({"rows": ["loss"], "bogus": ["1"]}, Schema(plots={}))
    out = tmp_path / "s.html"
    code, err = run(served["log"], str(out), "--page", "rows=loss&bogus=1")
    assert code == 2 and len(err.splitlines()) == 1 and str(page_err.value) in err, err
    assert not out.exists()
    # a log that does not exist
    code, err = run(str(tmp_path / "missing.svl"), str(out), "--page", "rows=loss")
    assert code == 1 and len(err.splitlines()) == 1 and "missing.svl" in err, err
    assert not out.exists()
    # a data server that does not answer: its error, at once (the live page would retry)
    code, err = run(f"127.0.0.1:{free_port()}", str(out), "--page", "rows=loss")
    lines = [ln for ln in err.splitlines() if not ln.startswith("streamvis snapshot: reading")]
    assert code == 1 and len(lines) == 1 and "unavailable" in lines[0], err
    assert not out.exists()


def test_an_earlier_snapshot_is_replaced(served: Any, tmp_path: Path) -> None:
    from streamvis.source import LocalSource
    from streamvis.web.page.snapshot import snapshot_html, write_snapshot

    out = tmp_path / "again.html"
    source = LocalSource.open(served["log"])
    try:
        first, second = (snapshot_html(source, Schema(plots={}), {"rows": ["acc"], "scopes": [f"^{r}$"]},
                                       width=800, height=600) for r in ("run1", "run2"))
    finally:
        source.close()
    assert '"run1' in first and '"run2' not in first and '"run2' in second
    write_snapshot(str(out), first)
    write_snapshot(str(out), second)  # an earlier snapshot: overwritten
    assert out.read_text() == second


def test_zoom_and_smoothing_of_the_address_are_drawn(browser: Any, served: Any, tmp_path: Path) -> None:
    """``zoom=`` reads the window at full resolution and ``smoothing=`` the smoothed
    lines, as the live page does once the browser reports its ranges."""
    from streamvis.source import LocalSource
    from streamvis.web.page.snapshot import snapshot_html

    source = LocalSource.open(served["log"])
    try:
        html = snapshot_html(source, Schema(plots={}), {"rows": ["loss"], "scopes": ["^run[01]$"],
                                                        "zoom": ["1000,1200"], "smoothing": ["0.9"]},
                             width=W, height=H)
    finally:
        source.close()
    out = tmp_path / "zoom.html"
    out.write_text(html)
    data, _ = _open_offline(browser, out)
    raw = data["lines:0:source"]
    assert set(raw) == {"run0 · loss · 0", "run1 · loss · 0"}
    for xs, _ys in raw.values():
        inside = [x for x in xs if 1000 <= x <= 1200]
        assert inside == [float(x) for x in range(1000, 1201)]  # every point of the window
    smooth = data["smooth:0:source"]  # the smoothed lines, over every point
    assert {label.split(" · ")[0] for label in smooth} == {"run0", "run1"}
    assert all(len(xs) > 10 for xs, _ in smooth.values())
