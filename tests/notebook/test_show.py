"""``streamvis.notebook.show`` in a real kernel (nbclient + ipykernel), its output drawn
by Chromium as a notebook page: the Bokeh document is in the output, the view is live,
running the cell again replaces the view (the old one stops), bad input is one line."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvis.web.address.layout import LayoutError, parse_layout
from streamvis.web.schema import Schema
from tests.helpers import wait_for
from tests.notebook.kernel_support import (
    EXEC_MIME,
    LOAD_MIME,
    Kernel,
    NotebookPages,
    kernel,
    notebook_pages,
    view_url,
)
from tests.server.conftest import free_port
from tests.web.helpers import GLYPHS_JS

LOG_CELL = """
import numpy as np
from streamvis.storage import Points, Store
from streamvis.notebook import show, stop_all, views
def log_points(path, scope, start, stop):
    st = Store.open(path, mode="a")
    x = np.arange(float(start), float(stop))
    st.append([Points(scope, "loss", 0, {"x": x, "y": x * 0.5})])
    st.close()
"""


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with kernel(tmp_path_factory.mktemp("kernel")) as k:
        assert not errors(k.run(LOG_CELL))
        yield k


@pytest.fixture(scope="module")
def jupyter() -> Iterator[NotebookPages]:
    with notebook_pages() as pages:
        yield pages


@pytest.fixture(autouse=True)
def _no_view_left(nb: Kernel) -> Iterator[None]:
    yield
    assert not errors(nb.run("stop_all()"))


@pytest.fixture
def log(tmp_path: Path, nb: Kernel) -> str:
    path = str(tmp_path / "run.svl")
    assert not errors(nb.run(f"log_points({path!r}, 'r1', 0, 5)"))
    return path


def errors(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if o["output_type"] == "error"]


def lines_in_browser(page: Any) -> dict[str, int]:
    got = page.evaluate(GLYPHS_JS) or {}
    return {k.split("|", 1)[1]: v["n"] for k, v in got.items()}


def refuses(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.URLError as exc:
        return isinstance(exc.reason, ConnectionRefusedError)
    return False


@pytest.mark.browser
def test_output_holds_the_bokeh_document_and_it_draws_live(nb: Kernel, log: str, page: Any,
                                                          jupyter: NotebookPages) -> None:
    out = nb.run(f"show({log!r}, rows='loss', refresh=0.2, notebook_url={jupyter.url!r})")
    assert not errors(out), out
    kinds = [o.get("data", {}) for o in out if o["output_type"] == "display_data"]
    assert any(LOAD_MIME in d for d in kinds), "no BokehJS loader in the output"
    shown = [o for o in out if EXEC_MIME in o.get("metadata", {})]
    assert len(shown) == 1 and shown[0]["metadata"][EXEC_MIME]["server_id"]
    url = view_url(out)
    assert nb.value("[v.url for v in views()]") == [url]
    # drawn by Chromium as the notebook page draws it, and live: points logged later arrive
    jupyter.open(page, out)
    wait_for(lambda: lines_in_browser(page) == {"r1 · loss · 0": 5}, timeout=30, interval=0.1)
    assert nb.value("views()[0].sessions") == 1  # the page's session, in the kernel
    assert not errors(nb.run(f"log_points({log!r}, 'r1', 5, 12); log_points({log!r}, 'r2', 0, 3)"))
    wait_for(lambda: lines_in_browser(page) == {"r1 · loss · 0": 12, "r2 · loss · 0": 3},
             timeout=30, interval=0.1)
    # the page's address (the notebook's) is not rewritten, and nothing reloaded it
    assert page.url.endswith(".html")


@pytest.mark.browser
def test_running_the_cell_again_replaces_the_view(nb: Kernel, log: str, page: Any,
                                                 jupyter: NotebookPages) -> None:
    code = f"show({log!r}, rows='loss', refresh=0.2, notebook_url={jupyter.url!r})"
    first = nb.run(code)
    old = view_url(first)
    jupyter.open(page, first)
    wait_for(lambda: lines_in_browser(page) == {"r1 · loss · 0": 5}, timeout=30, interval=0.1)
    assert not errors(nb.run(
        "old = views()[-1]; old_live = list(old.cfg.sessions); "
        "old_bokeh = list(old.server.get_sessions()); "
        "old_polls = [b._callbacks._group._periodic_callback_removers for b in old_bokeh]"))
    # (Bokeh's tornado PeriodicCallbacks of the session, by id: the page's poll among them)
    assert nb.value("[len(old_live), len(old_bokeh), len(old_polls[0])]") == [1, 1, 1]
    again = nb.run(code)
    assert not errors(again)
    new = view_url(again)
    assert new != old and nb.value("[v.url for v in views()]").count(new) == 1
    assert old not in nb.value("[v.url for v in views()]")
    # the old view is stopped: its page session closed, its periodic poll and every other
    # callback of its document removed, its server no longer listening, its pool shut down
    # (in a thread of its own, once reads in flight are done: waited for, 10 s at most)
    assert not errors(nb.run("import time as _t\n_end = _t.monotonic() + 10\n"
                             "while not old.cfg.executor._shutdown and _t.monotonic() < _end:\n"
                             "    _t.sleep(0.01)"))
    assert nb.value("[old.stopped, all(s.closed for s in old_live), len(old_polls[0]), "
                    "len(old_bokeh[0].document.session_callbacks), old.cfg.executor._shutdown, "
                    "len(old.cfg.sessions)]") == [True, True, 0, 0, True, 0]
    assert refuses(old)
    with urllib.request.urlopen(new + "autoload.js?bokeh-autoload-element=x&bokeh-absolute-url="
                                + new.rstrip("/"), timeout=10) as r:
        assert r.status == 200
    # a different view of the same data (another cell without an id) stays beside it
    other = nb.run(f"show({log!r}, rows='loss', smoothing=0.5, refresh=0.2)")
    assert not errors(other) and view_url(other) in nb.value("[v.url for v in views()]")
    assert new in nb.value("[v.url for v in views()]")
    assert not errors(nb.run("stop_all(); assert views() == []"))
    assert refuses(new) and refuses(view_url(other))


def test_views_are_keyed_by_the_frontends_cell_id(nb: Kernel, log: str) -> None:
    a = nb.run(f"show({log!r}, rows='loss')", cell_id="cell-a")
    assert not errors(a), a
    # the same cell run again with other parameters replaces its view
    a2 = nb.run(f"show({log!r}, rows='loss', smoothing=0.3)", cell_id="cell-a")
    assert not errors(a2), a2
    # another cell showing the same keeps its own
    b = nb.run(f"show({log!r}, rows='loss', smoothing=0.3)", cell_id="cell-b")
    assert not errors(b), b
    assert nb.value("sorted(v.key for v in views())") == ["cell:cell-a", "cell:cell-b"]
    assert refuses(view_url(a))
    assert nb.value("[v.url for v in views()]") == [view_url(a2), view_url(b)]
    # one run of a cell may show several views: all stay; its next run replaces them all
    two = nb.run(f"show({log!r}, rows='loss', scopes='r1')\nshow({log!r}, rows='loss', scopes='r2')",
                 cell_id="cell-c")
    assert not errors(two), two
    urls = [o["data"]["text/html"] for o in two if "text/html" in o.get("data", {})]
    assert nb.value("sum(v.key == 'cell:cell-c' for v in views())") == 2, urls
    again = nb.run(f"show({log!r}, rows='loss')", cell_id="cell-c")
    assert not errors(again), again
    assert nb.value("sum(v.key == 'cell:cell-c' for v in views())") == 1
    # a static view from the same cell stops its live one too
    static = nb.run(f"show({log!r}, rows='loss', live=False)", cell_id="cell-c")
    assert not errors(static), static
    assert nb.value("sum(v.key == 'cell:cell-c' for v in views())") == 0


def _layout_message(args: dict[str, list[str]]) -> str:
    with pytest.raises(LayoutError) as caught:
        parse_layout(args, Schema(plots={}, source="<none>"))
    return str(caught.value)


@pytest.mark.parametrize(("call", "ename", "message"), [
    ("show(LOG, rows='')", "LayoutError", _layout_message({"rows": [""]})),
    ("show(LOG, rows='loss', where='(')", "LayoutError", _layout_message({"rows": ["loss"], "where": ["("]})),
    ("show(LOG, colour_by='lr')", "LayoutError", _layout_message({"colour_by": ["lr"]})),
    ("show(LOG, rows='loss', smoothing=1.5)", "LayoutError", _layout_message({"rows": ["loss"], "smoothing": ["1.5"]})),
    ("show(MISSING)", "LogNotFoundError", "no streamvis log at "),
    ("show(DOWN)", "UnavailableError", "is unavailable"),
], ids=["empty-rows", "bad-where", "unknown-param", "bad-smoothing", "no-log", "server-down"])
def test_bad_input_is_one_line(nb: Kernel, log: str, tmp_path: Path, call: str, ename: str,
                               message: str) -> None:
    down = f"127.0.0.1:{free_port()}"
    with socket.socket() as s:  # nothing listens there
        assert s.connect_ex(tuple(down.split(":")[:1]) + (int(down.split(":")[1]),)) != 0
    before = nb.value("len(views())")
    code = (f"LOG, MISSING, DOWN = {log!r}, {str(tmp_path / 'absent.svl')!r}, {down!r}\n" + call)
    out = nb.run(code)
    [err] = errors(out)
    assert err["ename"] == ename
    assert err["traceback"] == [f"{ename}: {err['evalue']}"]  # one line, no traceback wall
    assert message in err["evalue"]
    assert not [o for o in out if o["output_type"] == "display_data"]
    assert nb.value("len(views())") == before  # nothing started


def test_live_false_embeds_the_data(nb: Kernel, log: str) -> None:
    out = nb.run(f"show({log!r}, rows='loss', live=False)")
    assert not errors(out), out
    [html] = [o["data"]["text/html"] for o in out if "text/html" in o.get("data", {})]
    assert html.startswith("<div><iframe srcdoc=") and "r1" in html
    assert "streamvis snapshot" in html  # the snapshot file, escaped into the frame
    assert nb.value("len(views())") == 0  # nothing live: no server in the kernel


def test_static_env_embeds_a_snapshot_for_nbconvert_runs(nb: Kernel, log: str) -> None:
    out = nb.run(f"import os; os.environ['STREAMVIS_NOTEBOOK'] = 'static'\n"
                 f"try:\n    show({log!r}, rows='loss')\n"
                 f"finally:\n    del os.environ['STREAMVIS_NOTEBOOK']")
    assert not errors(out), out
    [html] = [o["data"]["text/html"] for o in out if "text/html" in o.get("data", {})]
    assert html.startswith("<div><iframe srcdoc=") and "streamvis snapshot" in html
    assert nb.value("len(views())") == 0


def test_the_kernels_exit_stops_every_view(tmp_path: Path) -> None:
    report, log = tmp_path / "report.json", str(tmp_path / "exit.svl")
    with kernel(tmp_path) as k:
        assert not errors(k.run(LOG_CELL + f"\nlog_points({log!r}, 'r1', 0, 5)"))
        # registered before show's own hook: atexit runs it after (last in, first out)
        assert not errors(k.run(f"""
import atexit, json
def _report():
    with open({str(report)!r}, "w") as f:
        json.dump({{"stopped": [v.stopped for v in shown], "left": len(views()),
                   "servers": [v.server._stopped for v in shown]}}, f)
atexit.register(_report)
"""))
        out = k.run(f"show({log!r}, rows='loss'); show({log!r}, rows='loss', smoothing=0.2); shown = views()")
        assert not errors(out)
        urls = [view_url([o]) for o in out if EXEC_MIME in o.get("metadata", {})]
        assert len(urls) == 2 and not any(refuses(u) for u in urls)
    assert json.loads(report.read_text()) == {"stopped": [True, True], "left": 0, "servers": [True, True]}
    assert all(refuses(u) for u in urls)


TWO_DOCS_JS = """() => { if (!window.Bokeh || Bokeh.documents.length < 2) return null;
  return Bokeh.documents.map(d => { const s = d.get_model_by_name('lines:0:source');
    return s && s.data.n ? Array.from(s.data.n).reduce((a, b) => a + b, 0) : 0; }); }"""


@pytest.mark.browser
def test_two_views_on_one_notebook_page_both_draw(nb: Kernel, log: str, page: Any,
                                                  jupyter: NotebookPages) -> None:
    assert not errors(nb.run(f"log_points({log!r}, 'r2', 0, 7)"))
    a = nb.run(f"show({log!r}, rows='loss', scopes='^r1$', notebook_url={jupyter.url!r})", cell_id="one")
    b = nb.run(f"show({log!r}, rows='loss', scopes='^r2$', notebook_url={jupyter.url!r})", cell_id="two")
    assert not errors(a) and not errors(b)
    # the BokehJS loader of the first cell's output only, as a saved notebook holds them
    jupyter.open(page, a + [o for o in b if LOAD_MIME not in o.get("data", {})])
    wait_for(lambda: sorted(page.evaluate(TWO_DOCS_JS) or []) == [5, 7], timeout=30, interval=0.1)
