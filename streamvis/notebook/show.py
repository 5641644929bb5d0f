"""``show``: the web app's live page inside a Jupyter cell (or a snapshot of it)."""

from __future__ import annotations

import html
import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streamvis.addresses import is_loopback
from streamvis.errors import InvalidArgumentError, StreamvisError
from streamvis.source import DataSource, is_server_address, open_source
from streamvis.web.page.app_config import AppConfig
from streamvis.web.page.snapshot import snapshot_html
from streamvis.web.schema import Schema, load_schema

from .embed import DEFAULT_HEIGHT, build_view
from .page_args import check_page, page_args
from .views import NotebookView, register, replace, view_key

__all__ = ["show", "STATIC_ENV"]

DEFAULT_NOTEBOOK_URL = "localhost:8888"  # Bokeh's default: Jupyter on this machine
STATIC_ENV = "STREAMVIS_NOTEBOOK"  # "static": every show embeds a snapshot (nbconvert runs)
SNAPSHOT_SIZE = (1400, 900)  # the snapshot's screen when show gives no width/height
NotebookUrl = str | Callable[[int | None], str]


def _one_line(exc: StreamvisError) -> StreamvisError:
    """``exc`` as IPython shows it: one line, its type and message, no traceback."""
    line = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    setattr(exc, "_render_traceback_", lambda: [line])  # noqa: B010 - IPython's hook
    return exc


def _schema(schema: str | os.PathLike[str] | Schema | None) -> Schema:
    """None (no schema: rows= names logged names), a schema file, or a loaded Schema."""
    if schema is None:
        return Schema(plots={}, source="<none>")
    if isinstance(schema, Schema):
        return schema
    return load_schema(os.fspath(schema))


def _open(data: str, token: str | None, tls_ca: str | None) -> DataSource:
    """The source of DATA, asked once: a log that is not there or a server that does not
    answer fails now (as ``web-serve`` opens it; token/tls_ca default to the env)."""
    if is_server_address(data):
        source = open_source(data, token=token, tls_ca=tls_ca)
        try:
            source.scopes()
        except BaseException:
            source.close()
            raise
        return source
    return open_source(data)


def _kernel() -> Any:
    """The running Jupyter kernel's shell, or None (plain Python, a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _static(source: DataSource, schema: Schema, args: Mapping[str, Sequence[str]], *,
            width: int | None, height: int | None, title: str) -> str:
    """The snapshot of the page (one self-contained HTML file) for ``live=False`` and
    the fallback."""
    return snapshot_html(source, schema, args, width=width or SNAPSHOT_SIZE[0],
                         height=height or SNAPSHOT_SIZE[1], title=title)


def _show_static(page: str, width: int | None, height: int | None) -> None:
    """The snapshot in the cell, in a frame of its own (its BokehJS apart from the notebook's)."""
    from IPython.display import HTML, display

    w = f"{width}px" if width else "100%"
    h = height or SNAPSHOT_SIZE[1]
    # (in a div: IPython warns about HTML that starts with an iframe, though srcdoc needs one)
    display(HTML(f'<div><iframe srcdoc="{html.escape(page, quote=True)}" style="border:0;width:{w};'
                 f'height:{h}px" sandbox="allow-scripts allow-downloads"></iframe></div>'))


def _server_place(notebook_url: NotebookUrl) -> tuple[str | None, list[str]]:
    """(the address the view's server listens on, the Host names it answers besides
    loopback's, each ``NAME:*``). Jupyter on this machine, or behind a proxy beside the
    kernel (a function ``notebook_url``, ``$JUPYTER_BOKEH_EXTERNAL_URL``): loopback only,
    answering the proxy's name; a notebook opened at another host's name: every
    interface, that name allowed (``show`` says so in the cell)."""
    external = os.environ.get("JUPYTER_BOKEH_EXTERNAL_URL")
    if callable(notebook_url) or external:
        origin = external or notebook_url(None)  # type: ignore[operator]
        host = urllib.parse.urlsplit(_http(str(origin))).hostname
        return "127.0.0.1", [f"{host}:*"] if host and not is_loopback(host) else []
    host = urllib.parse.urlsplit(_http(notebook_url)).hostname
    if not host or is_loopback(host):
        return "127.0.0.1", []
    return None, [f"{host}:*"]


def _show_live(cfg: AppConfig, key: str, run: str, args: Mapping[str, Sequence[str]], *,
               notebook_url: NotebookUrl, width: int | None, height: int | None) -> NotebookView:
    """Bokeh's app-in-notebook: a server in the kernel, its session script in the output."""
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.io import notebook as bokeh_notebook
    from bokeh.io import output_notebook
    from bokeh.io import show as bokeh_show
    from bokeh.io.state import curstate

    from streamvis.web.page.auth import session_excludes
    from streamvis.web.page.host_guard import HostPolicy, guard_hosts

    app = Application(FunctionHandler(lambda doc: build_view(doc, cfg, args, width=width, height=height)))
    address, hosts = _server_place(notebook_url)
    output_notebook(hide_banner=True)
    before = set(curstate().uuid_to_server)
    server_kw: dict[str, Any] = {
        "address": address, "check_unused_sessions_milliseconds": 2000,
        "unused_session_lifetime_milliseconds": 5000,
        **session_excludes(),  # no cookies in the session token the output embeds
    }
    try:
        bokeh_show(app, notebook_url=notebook_url, **server_kw)
        server_id = next(iter(set(curstate().uuid_to_server) - before))
        server = curstate().uuid_to_server[server_id]
        port = int(server.port or 0)
        reach = getattr(bokeh_notebook, "_update_notebook_url_from_env", lambda u: u)(notebook_url)
        parts = urllib.parse.urlsplit(_http(reach)) if not callable(reach) else None
        url = reach(port) if callable(reach) else f"{parts.scheme}://{parts.hostname}:{port}/"  # type: ignore[union-attr]
        # before the first request: the loop runs after this cell
        guard_hosts(server._tornado, HostPolicy(address or "0.0.0.0", port, hosts))
    except BaseException:  # a server Bokeh started for this show must not outlive it
        for started in set(curstate().uuid_to_server) - before:
            stray = curstate().uuid_to_server.pop(started)
            stray.stop(wait=False)
            stray.unlisten()
        raise
    if address is None:
        print(f"streamvis: this view's server listens on every interface (port {port}), without a "
              f"token, for {hosts[0][:-2]}: anyone who can reach that port can read these runs")
    return NotebookView(key=key, run=run, server=server, cfg=cfg, url=url, server_id=server_id)


def _http(url: str) -> str:
    return url if "://" in url else f"http://{url}"


def _check_numbers(*, refresh: float, width: int | None, height: int | None) -> None:
    if not (isinstance(refresh, int | float) and refresh > 0):
        raise InvalidArgumentError(f"refresh={refresh!r} is not a poll interval; give seconds > 0, e.g. 1.0")
    for key, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 100):
            raise InvalidArgumentError(f"{key}={value!r} is not the view's size; give pixels (an int >= 100)")


def show(data: str | os.PathLike[str], schema: str | os.PathLike[str] | Schema | None = None, *,
         live: bool = True, notebook_url: NotebookUrl | None = None, width: int | None = None,
         height: int | None = None, refresh: float = 1.0, token: str | None = None,
         tls_ca: str | None = None, **page: Any) -> None:
    """Show the web app's page of ``data`` in this notebook cell, live.

    ``data``: a log path, a ``gs://``/``s3://`` URL, or a data server's ``host:port``
    (``token``/``tls_ca`` default to ``$STREAMVIS_TOKEN``/``$STREAMVIS_TLS_CA``).
    ``schema``: a schema file or a loaded ``Schema`` (None: ``rows=`` names logged names).
    ``page``: the page's URL parameters as keywords (``rows=``, ``cols=``, ``where=``,
    ``group=``, ``color_by=``, ``smoothing=``, ``x=``, ``scopes=``, ...; lists join with
    ',', ``widths=``/``heights=`` are the page's relative ``width=``/``height=``), checked
    as the page checks them: a value the page refuses raises its message, one line.
    ``width``/``height``: the view's pixels (default: the cell's width, 600 high).
    ``refresh``: seconds between polls.

    The view is the page served by a Bokeh server in this kernel, polling ``data``;
    running the cell again replaces it (the old one stops polling), and the kernel's
    exit stops it. ``notebook_url``: where the browser reaches Jupyter, default
    ``localhost:8888``; give the notebook server's address when it is elsewhere (a
    remote kernel), or a function ``port -> URL`` (``port=None``: the origin) for a
    proxy such as JupyterHub's (or set ``$JUPYTER_BOKEH_EXTERNAL_URL``), as Bokeh's
    ``show`` takes it. ``live=False`` (or ``$STREAMVIS_NOTEBOOK=static``, for nbconvert
    runs) embeds a snapshot instead. Errors (no log, a server that does not answer, a bad
    parameter, no notebook to draw in) are one line.
    """
    try:
        data = os.fspath(data)
        _check_numbers(refresh=refresh, width=width, height=height)
        loaded = _schema(schema)
        args = page_args(page)
        check_page(args, loaded)
        if args.get("webgl") == ["auto"]:  # no probe in a notebook (embed.py): canvas
            del args["webgl"]
        if _kernel() is None:  # a script or a terminal: no cell to draw in
            raise InvalidArgumentError("show draws in a Jupyter notebook's cell, and this Python runs "
                                       "in none; in a script write the page to a file instead: "
                                       "streamvis snapshot DATA OUT.html --page QUERY")
        static = not live or os.environ.get(STATIC_ENV) == "static"
        source = _open(data, token, tls_ca)
    except StreamvisError as exc:
        raise _one_line(exc) from None
    try:
        key, run = view_key(data, loaded.source, args)
        replace(key, run)  # the cell's views of earlier runs stop before this one starts
        if static:
            _show_static(_static(source, loaded, args, width=width, height=height, title=data),
                         width, height)
            source.close()
            return
        cfg = AppConfig(source=source, schema=loaded, refresh=refresh, webgl="off", log_name=data)
        try:
            view = _show_live(cfg, key, run, args, notebook_url=notebook_url or DEFAULT_NOTEBOOK_URL,
                              width=width, height=height or DEFAULT_HEIGHT)
        except BaseException:
            cfg.executor.shutdown(wait=False, cancel_futures=True)
            raise
        register(view)
    except StreamvisError as exc:
        source.close()
        raise _one_line(exc) from None
    except BaseException:
        source.close()
        raise
