"""A closed tab ends quietly.

A session stops polling when its websocket closes (``LiveSession`` listens for Bokeh's
``ConnectionLost``). What is left is a race no session can see coming: a patch already
queued behind Bokeh's write lock when the browser's close arrives. Bokeh then logs
``Failed sending message as connection was closed`` at WARNING for each queued message and
goes on to close the connection as usual ("on_close() is / will be called anyway", its
comment says). That record says nothing to act on: it is dropped (that one message only;
every other record of Bokeh's websocket logger passes)."""

from __future__ import annotations

import logging

__all__ = ["quiet_closed_tab_writes", "CLOSED_WRITE_MESSAGE"]

CLOSED_WRITE_MESSAGE = "Failed sending message as connection was closed"
_WS_LOGGER = "bokeh.server.views.ws"


class _DropClosedWrites(logging.Filter):
    """Drops Bokeh's record of a write that raced with the tab closing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != CLOSED_WRITE_MESSAGE


def quiet_closed_tab_writes() -> None:
    """Install the filter on Bokeh's websocket logger (once; later calls do nothing)."""
    logger = logging.getLogger(_WS_LOGGER)
    if not any(isinstance(f, _DropClosedWrites) for f in logger.filters):
        logger.addFilter(_DropClosedWrites())
