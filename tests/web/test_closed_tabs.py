"""Closed tabs end quietly: a web-serve process whose tabs close while data streams in
prints no "Failed sending message" warning and no traceback, and discards the sessions."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from .conftest import ROOT, free_port
from .helpers import LINES_JS, open_page

CLI = [sys.executable, "-m", "streamvis.cli"]
TABS = 3


class _Lines:
    """A process's stderr lines, read on a thread; ``wait`` waits for a condition on them."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait(self, pred, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: pred(self.lines), timeout):
                raise AssertionError(f"not seen in {timeout} s; stderr: {''.join(self.lines)[-3000:]}")


@pytest.mark.browser
def test_closing_tabs_while_data_streams_leaves_no_warning(tmp_path, browser, procs):
    log = str(tmp_path / "live.svl")
    env = dict(os.environ, PYTHONPATH=str(ROOT), BOKEH_PY_LOG_LEVEL="debug")
    env.pop("STREAMVIS_WEB_TOKEN", None)
    demo = procs.popen([*CLI, "demo", "live", "200000", "--path", log, "--step-delay", "0.002"],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(log):  # web-serve reads an existing log
        assert demo.poll() is None and time.monotonic() < deadline, "the demo logger did not start"
        time.sleep(0.05)
    port = free_port()
    web = procs.popen(
        [*CLI, "web-serve", f"127.0.0.1:{port}", log,
         str(ROOT / "streamvis" / "schemas" / "demo.yaml"), "--refresh", "0.05"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err, out = _Lines(web.stderr), _Lines(web.stdout)
    out.wait(lambda lines: any("listening on" in ln for ln in lines), 30)
    # the last step drawn in the loss plot (its point count may stay put once decimated)
    count = (f"() => {{ const g = ({LINES_JS})(0); if (!g) return 0;"
             " return Math.max(0, ...Object.values(g).map(l => l.n ? l.xs[l.n - 1] : 0)); }")
    for _ in range(TABS):
        ctx = browser.new_context(viewport={"width": 1000, "height": 700})
        page = ctx.new_page()
        open_page(page, f"http://127.0.0.1:{port}/?rows=loss,lr;weights,cloud")
        page.wait_for_function(f"() => ({count})() > 0", timeout=60000)
        n0 = page.evaluate(count)
        page.wait_for_function(f"n0 => ({count})() > n0", arg=n0, timeout=60000)  # streaming
        ctx.close()  # the tab goes while patches are on their way to it
    assert demo.poll() is None, "the logger kept writing while the tabs closed"
    err.wait(lambda lines: sum("Discarding session" in ln for ln in lines) >= TABS, 60)
    text = "".join(err.lines)
    assert "Failed sending message" not in text
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]
    assert not [ln for ln in err.lines if ln.startswith("WARNING")], text[-3000:]
    assert web.poll() is None
