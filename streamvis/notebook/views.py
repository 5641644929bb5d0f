"""The live views a kernel shows: one Bokeh server each, keyed by the cell that showed it.

A view owns what its ``show`` started: the Bokeh server in the kernel (Bokeh's
app-in-notebook), the web app's ``AppConfig`` (its worker pool) and the source.
``stop`` ends all of them: the page sessions are closed and their documents' periodic
polls and pending callbacks removed, the server stops listening (its sockets close),
the pool and the source are closed (once the reads in flight are done). Running a cell
again replaces (stops) the views its earlier runs showed (a cell may show several in one
run); the interpreter's exit (the kernel stopping) stops every view (``atexit``).

Which cell: the ``cellId`` that JupyterLab, the classic notebook (7+) and VS Code send
in the execute request's metadata. A frontend that sends none (nbclient, older
notebooks, a console) is keyed by what was shown instead: the same data, schema and
page parameters replace the previous view of them.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bokeh.document import Document
from bokeh.io.state import curstate
from bokeh.server.callbacks import NextTickCallback, PeriodicCallback, TimeoutCallback
from bokeh.server.server import Server

from streamvis.web.page.app_config import AppConfig

__all__ = ["NotebookView", "view_key", "register", "views", "stop_all", "current_cell"]

log = logging.getLogger("streamvis.notebook")

_views: list[NotebookView] = []
_lock = threading.Lock()
_atexit = [False]
_exiting = [False]


@dataclass
class NotebookView:
    """One shown live view: its server (``url``: where the output's script loads it)."""

    key: str
    run: str  # the execution of the cell that showed it (a cell may show several)
    server: Server
    cfg: AppConfig
    url: str
    server_id: str | None = None
    stopped: bool = False

    @property
    def sessions(self) -> int:
        """Open page sessions (each output that loaded the view holds one)."""
        with self.cfg.lock:
            return len(self.cfg.sessions)

    def stop(self) -> None:
        """End the view: its sessions' polls, its server, its worker pool and source."""
        if self.stopped:
            return
        self.stopped = True
        with self.cfg.lock:
            live = list(self.cfg.sessions)
        for session in live:  # polls end: in-flight reads are dropped when they return
            _quietly(session.close, "closing a page session")
        for bokeh_session in list(self.server.get_sessions()):
            if not bokeh_session.destroyed:  # (kept: its socket's close still reads it)
                _end_callbacks(bokeh_session.document)
        _quietly(lambda: self.server.stop(wait=False), "stopping the view's server")
        _quietly(self.server.unlisten, "closing the view's port")
        if self.server_id is not None:  # Bokeh's own registry of notebook servers
            servers: dict[Any, Any] = curstate().uuid_to_server
            servers.pop(self.server_id, None)
        if _exiting[0]:
            self._close_pool_and_source()
        else:  # reads in flight finish before the source closes (the kernel goes on now)
            threading.Thread(target=self._close_pool_and_source, name="streamvis-view-stop",
                             daemon=True).start()

    def _close_pool_and_source(self) -> None:
        _quietly(lambda: self.cfg.executor.shutdown(wait=True, cancel_futures=True), "closing the pool")
        _quietly(self.cfg.source.close, "closing the source")


def _end_callbacks(doc: Document) -> None:
    """Remove the document's session callbacks: the page's periodic poll, its pending
    timeouts and next ticks."""
    for cb in list(doc.session_callbacks):
        if isinstance(cb, PeriodicCallback):
            _quietly(partial(doc.remove_periodic_callback, cb), "removing the poll")
        elif isinstance(cb, TimeoutCallback):
            _quietly(partial(doc.remove_timeout_callback, cb), "removing a timeout")
        elif isinstance(cb, NextTickCallback):
            _quietly(partial(doc.remove_next_tick_callback, cb), "removing a next tick")


def _quietly(step: Callable[[], object], what: str) -> None:
    """One step of ``stop``: a failure is logged and the next steps still run (at the
    interpreter's exit the worker pool may already refuse new work)."""
    try:
        step()
    except Exception as exc:  # at exit Python has already shut the pools: expected there
        (log.debug if _exiting[0] else log.warning)("streamvis notebook: %s failed: %s", what, exc)


def current_cell() -> tuple[str | None, str]:
    """(the running cell's id from the execute request, or None outside a kernel or when
    the frontend sends none; the execute request's message id: this run of the cell)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None, ""
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    parent: Any = None
    if kernel is not None and hasattr(kernel, "get_parent"):
        parent = kernel.get_parent()
    if not parent:
        parent = getattr(shell, "parent_header", None)
    if not isinstance(parent, dict):
        return None, ""
    metadata, header = parent.get("metadata"), parent.get("header")
    cell = metadata.get("cellId") if isinstance(metadata, dict) else None
    run = header.get("msg_id") if isinstance(header, dict) else None
    return (str(cell) if cell else None), str(run or "")


def view_key(data: str, schema: str, args: Mapping[str, Sequence[str]]) -> tuple[str, str]:
    """(the key of a view: its cell, else what it shows (module doc); this run)."""
    cell, run = current_cell()
    if cell is not None:
        return f"cell:{cell}", run
    shown = {k: list(v) for k, v in sorted(args.items())}
    return "shown:" + json.dumps([data, schema, shown], sort_keys=True), ""


def register(view: NotebookView) -> None:
    """Keep ``view``, stopping the views of its key that earlier runs showed."""
    replace(view.key, view.run)
    with _lock:
        _views.append(view)
        if not _atexit[0]:
            atexit.register(_at_exit)
            _atexit[0] = True


def replace(key: str, run: str) -> None:
    """Stop the views shown under ``key`` by another run than ``run`` (a cell run again;
    a view shown twice in one run of a cell keeps both)."""
    with _lock:
        old = [v for v in _views if v.key == key and (v.run != run or not run)]
        _views[:] = [v for v in _views if not any(v is o for o in old)]
    for view in old:
        view.stop()


def views() -> list[NotebookView]:
    """The live views of this kernel, oldest first."""
    with _lock:
        return list(_views)


def _at_exit() -> None:
    _exiting[0] = True
    stop_all()


def stop_all() -> None:
    """Stop every view of this kernel (the kernel's exit does it too)."""
    with _lock:
        shown = list(_views)
        _views.clear()
    for view in shown:
        _quietly(view.stop, "stopping a view")
