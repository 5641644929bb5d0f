"""``GET /snapshot?<page arguments>``: the page's view as one HTML file, downloaded.

The header's "snapshot" button asks for it with the page's own address (``window.location
.search``, which holds the whole view: ``address.page_url``) and the window's size
(``snapshot_width``, ``snapshot_height``: the screen the plots are decimated for). It is
guarded like every page: the web token (``auth``, through Bokeh's ``AuthRequestHandler``)
and the Host check (``host_guard``, on every route of the server). The file is built by
``snapshot_render.render_snapshot`` on the server's loop: the reads run in the server's
workers and the file is written in one, so the loop keeps serving the open pages. A bad
page parameter is answered 400 with the page's own message, as text; a source that
cannot be read, 503 with its error.
"""

from __future__ import annotations

from typing import Any

from bokeh.server.views.auth_request_handler import AuthRequestHandler
from tornado.web import authenticated

from streamvis.errors import InvalidArgumentError, StreamvisError

from .app_config import AppConfig
from .auth import TOKEN_PARAM
from .header import SNAPSHOT_FILENAME as FILENAME
from .header import SNAPSHOT_SIZE_ARGS as SIZE_ARGS
from .snapshot_render import DEFAULT_HEIGHT, DEFAULT_WIDTH, render_snapshot

__all__ = ["SnapshotHandler", "snapshot_route"]


def _size(args: dict[str, list[str]], key: str, default: int) -> int:
    values = args.pop(key, None)
    if not values:
        return default
    try:
        return int(float(values[-1]))
    except (ValueError, OverflowError):  # not a number; nan; inf
        raise InvalidArgumentError(f"'{key}={values[-1]}' must be a number of pixels") from None


class SnapshotHandler(AuthRequestHandler):
    """``/snapshot``: the file of the page its arguments describe (see the module doc)."""

    def initialize(self, cfg: AppConfig) -> None:
        self._cfg = cfg

    @authenticated
    async def get(self) -> None:
        raw: dict[str, Any] = self.request.arguments or {}
        args = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in raw.items()
                if not k.startswith("bokeh-") and k != TOKEN_PARAM}
        try:
            width = _size(args, SIZE_ARGS[0], DEFAULT_WIDTH)
            height = _size(args, SIZE_ARGS[1], DEFAULT_HEIGHT)
            html = await render_snapshot(self._cfg, args, width=width, height=height)
        except StreamvisError as exc:  # a bad parameter: 400; the source cannot be read: 503
            self.set_status(400 if isinstance(exc, InvalidArgumentError) else 503)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.set_header("X-Content-Type-Options", "nosniff")
            self.finish(f"streamvis: {' '.join(str(exc).split())}\n")
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Disposition", f"attachment; filename={FILENAME}")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(html)


def snapshot_route(cfg: AppConfig) -> tuple[str, type[SnapshotHandler], dict[str, Any]]:
    """The route for the Bokeh server's ``extra_patterns``."""
    return (r"/snapshot", SnapshotHandler, {"cfg": cfg})
