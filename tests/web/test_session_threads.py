"""A page's document is touched only on Bokeh's event loop.

Reads run on worker threads. Their results once reached the document with
``add_next_tick_callback`` from the worker; a worker that finished while Bokeh was
still building the session (between ``modify_doc`` and ``ServerSession``) got its
callback registered twice, and the page failed with a 500 ("A callback of the same
type has already been added with this ID"). It happened once in CI, on a page whose
first read was quick. The invariant the fix keeps is what this test checks.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

import numpy as np
import yaml
from bokeh.document import Document

from streamvis.storage import Points
from tests.helpers import wait_for

from .conftest import WebServer


def test_results_reach_the_document_on_the_event_loop(tmp_path, log_path, store, monkeypatch) -> None:
    store.append([Points(f"run{i}", "a", 0, {"x": np.arange(5.0), "y": np.ones(5)}) for i in range(3)])
    schema = tmp_path / "s.yaml"
    schema.write_text(yaml.safe_dump({"a": {"name_pattern": "^a$", "columns": ["x", "y"]}}))
    callers: list[str] = []
    original = Document.add_next_tick_callback

    def recording(self: Document, callback: Any) -> Any:
        callers.append(threading.current_thread().name)
        return original(self, callback)

    monkeypatch.setattr(Document, "add_next_tick_callback", recording)
    ws = WebServer(log_path, schema)
    try:
        for _ in range(5):
            with urllib.request.urlopen(ws.url + "/?rows=a", timeout=30) as r:
                assert r.status == 200
        wait_for(lambda: len(ws.cfg.sessions) == 5
                 and all(s.cursor is not None for s in list(ws.cfg.sessions)), timeout=30)
        loop_thread = ws._thread.name  # noqa: SLF001
        assert callers, "no read result reached a document"
        assert set(callers) == {loop_thread}, sorted(set(callers))
    finally:
        ws.stop()
