"""Websocket messages to the browser without Nagle's delay.

Bokeh writes every message as three or more websocket frames (header, metadata,
content, then buffers), each its own small TCP write. Tornado leaves Nagle's
algorithm on for websockets, so the second frame waits until the browser's TCP
acknowledges the first, and the browser delays that acknowledgement: a zoom's new
data sat ~30 ms in the server's socket (measured on the 10M-point line, see
benchmarks/RESULTS.md "issue 15: zoom"). Tornado's own advice is to call
``set_nodelay(True)`` once a websocket is established; Bokeh does not, so each
connection is switched over when Bokeh registers it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["send_without_delay"]

log = logging.getLogger(__name__)


def send_without_delay(server: Any) -> None:
    """Make every websocket of a Bokeh ``Server`` send with TCP_NODELAY."""
    tornado_app = server._tornado  # noqa: SLF001 - Bokeh registers connections only here
    register = tornado_app.new_connection

    def new_connection(protocol: Any, socket: Any, application_context: Any, session: Any) -> Any:
        try:
            socket.set_nodelay(True)
        except (AssertionError, OSError) as exc:  # closed meanwhile: a latency hint only
            log.debug("streamvis web: TCP_NODELAY not set on a websocket: %s", exc)
        return register(protocol, socket, application_context, session)

    tornado_app.new_connection = new_connection
