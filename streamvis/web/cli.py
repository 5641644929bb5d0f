"""``streamvis web-serve`` and ``streamvis quickstart``."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import click

from streamvis.errors import InvalidArgumentError, StreamvisError, UnauthenticatedError
from streamvis.paths import default_log_path

__all__ = ["web_serve_cmd", "quickstart_cmd", "serve", "example_layout", "QUICKSTART_LOG"]

QUICKSTART_LOG = str(Path.home() / ".streamvis" / "quickstart.svl")
QUICKSTART_LAYOUT = "rows=loss,lr;weights,cloud&width=2,1,1,1&height=1,1"


def serve(
    web_uri: str,
    data: str,
    schema_file: str | None,
    *,
    refresh: float,
    allow_origin: tuple[str, ...] = (),
    allow_host: tuple[str, ...] = (),
    budget: int | None = None,
    max_lines: int | None = None,
    webgl: str = "auto",
    on_ready: object = None,
    token: str | None = None,
    tls_ca: str | None = None,
    web_token: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    schema: Any = None,
    cookie_days: float | None = None,
) -> None:
    """Serve the web app until interrupted (blocks). ``token``/``tls_ca`` are used
    when DATA is a data server (defaults: $STREAMVIS_TOKEN, $STREAMVIS_TLS_CA);
    ``web_token`` guards the pages (web/auth.py), ``tls_cert``/``tls_key`` serve HTTPS.
    ``schema``: the already loaded SCHEMA_FILE, if the caller loaded it; without either,
    no schema (the page of every name; ``rows=`` names logged names)."""
    from streamvis.source import is_server_address, open_source

    from .page.auth import DEFAULT_COOKIE_DAYS
    from .page.server import DEFAULT_BUDGET, DEFAULT_MAX_LINES, build_server, check_tls_files
    if schema is None:
        schema = _schema(schema_file)  # validated before anything starts
    check_tls_files(tls_cert, tls_key)
    if is_server_address(data):
        source = open_source(data, token=token, tls_ca=tls_ca)
        try:  # a refused token fails now, in one line, not on every page
            source.scopes()
        except UnauthenticatedError:
            source.close()
            raise
        except StreamvisError:
            pass  # the server may come up later
    else:
        source = open_source(data)
    try:
        server, cfg = build_server(
            web_uri,
            source,
            schema,
            refresh=refresh,
            allow_origins=allow_origin,
            allow_hosts=allow_host,
            budget=budget or DEFAULT_BUDGET,
            max_lines=max_lines or DEFAULT_MAX_LINES,
            webgl=webgl,
            web_token=web_token,
            tls_cert=tls_cert,
            tls_key=tls_key,
            cookie_days=DEFAULT_COOKIE_DAYS if cookie_days is None else cookie_days,
            log_name=data,
        )
        _freeze_startup_heap()
        if callable(on_ready):
            on_ready()
        try:
            server.io_loop.start()
        finally:
            cfg.executor.shutdown(wait=False, cancel_futures=True)
    finally:
        source.close()


def _freeze_startup_heap() -> None:
    """Take what startup made (modules, Bokeh's model classes, the log's index) out of
    the garbage collector's view (``gc.freeze``): full collections walked all of it every
    few polls, 90-100 ms each at a 1,000-run page, 16 ms once frozen. It lives as long as
    the process; what the sessions make later is collected as before."""
    gc.collect()
    gc.freeze()


@click.command("web-serve")
@click.argument("web_uri")
@click.argument("data")
@click.argument("schema_file", type=click.Path(dir_okay=False), required=False)
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between polls for new points.",
)
@click.option(
    "--allow-origin",
    multiple=True,
    help="Another host[:port] allowed to open the websocket and the pages (repeatable).",
)
@click.option(
    "--allow-host",
    multiple=True,
    help="Another name the pages may be opened by, NAME[:PORT] (repeatable; e.g. a "
    "reverse proxy's public name). Other Host headers are refused (DNS rebinding).",
)
@click.option(
    "--budget",
    default=None,
    type=click.IntRange(min=1000),
    help="Points per plot in the browser, shared by its lines (default 1,000,000); each "
    "line holds at most min(2 x the plot's width in pixels, budget / lines).",
)
@click.option(
    "--max-lines",
    default=None,
    type=click.IntRange(min=1),
    help="Lines drawn per plot (default 10,000); the page says how many more match.",
)
@click.option(
    "--webgl",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "on", "off"]),
    help="Default of the page's webgl= parameter (auto: WebGL unless rendered in software).",
)
@click.option("--token", default=None,
              help="Token of the data server DATA (env STREAMVIS_TOKEN).")
@click.option("--tls-ca", default=None, type=click.Path(dir_okay=False),
              help="CA certificate (PEM) of a TLS data server DATA (env STREAMVIS_TLS_CA).")
@click.option("--web-token", default=None,
              help="Require this token to see any page (env STREAMVIS_WEB_TOKEN); give it "
              "once as ?web_token=... or 'Authorization: Bearer ...', then a cookie.")
@click.option("--tls-cert", default=None, type=click.Path(dir_okay=False),
              help="Serve HTTPS with this certificate chain (PEM); needs --tls-key.")
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False),
              help="Private key (PEM) of --tls-cert.")
@click.option("--web-cookie-days", default=7.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Days the browser's --web-token cookie stays valid after it is issued.")
def web_serve_cmd(
    web_uri: str,
    data: str,
    schema_file: str | None,
    refresh: float,
    allow_origin: tuple[str, ...],
    allow_host: tuple[str, ...],
    budget: int | None,
    max_lines: int | None,
    webgl: str,
    token: str | None,
    tls_ca: str | None,
    web_token: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    web_cookie_days: float,
) -> None:
    """Serve live plots of DATA (a data server's host:port, or a log path) at WEB_URI
    (host:port, e.g. 127.0.0.1:5006; 0.0.0.0:5006 accepts other machines): at / a plot
    per logged name; SCHEMA_FILE (YAML, optional) names plots for ?rows=/cols= layouts."""
    from streamvis.source import is_loopback, reach_note

    from .page.auth import TOKEN_PARAM, resolve_web_token
    from .page.server import check_tls_files, parse_web_uri

    host, port = parse_web_uri(web_uri)
    web_token = resolve_web_token(web_token)
    tls = check_tls_files(tls_cert, tls_key)
    schema = _schema(schema_file)
    url = f"{'https' if tls else 'http'}://{web_uri.split('://')[-1]}"

    def ready() -> None:
        note = reach_note(host, widen=f"use 0.0.0.0:{port} as WEB_URI")
        guard = "web token required" if web_token else "no web token"
        click.echo(
            f"streamvis web app: listening on {host}:{port} ({note}); "
            f"{'HTTPS' if tls else 'no TLS'}, {guard}"
        )
        if not is_loopback(host) and not web_token:
            click.echo(
                "streamvis web app: warning: anyone who can reach this port sees every run; "
                "consider --web-token (and --tls-cert/--tls-key)"
            )
        layouts = f" or {url}/?{example_layout(schema)}" if schema.plots else ""
        click.echo(f"streamvis web app: open {url}/ (every name){layouts}; index: {url}/index")
        if web_token:
            click.echo(
                f"streamvis web app: add {TOKEN_PARAM}=<token> to the first link you open "
                "(the browser then keeps a cookie and the URL drops it)"
            )

    serve(
        web_uri,
        data,
        schema_file,
        refresh=refresh,
        allow_origin=allow_origin,
        allow_host=allow_host,
        budget=budget,
        max_lines=max_lines,
        webgl=webgl,
        on_ready=ready,
        token=token,
        tls_ca=tls_ca,
        web_token=web_token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        schema=schema,
        cookie_days=web_cookie_days,
    )


def _schema(schema_file: str | None) -> Any:
    """The loaded SCHEMA_FILE, or no schema (no plots)."""
    from .schema import Schema, load_schema

    return load_schema(schema_file) if schema_file is not None else Schema(plots={}, source="<none>")


def example_layout(schema: Any, per_row: int = 2, max_plots: int = 4) -> str:
    """A page layout over the schema's first plots, two a row: 'rows=a,b;c,d'."""
    names = list(schema.plots)[:max_plots]
    rows = [",".join(names[i : i + per_row]) for i in range(0, len(names), per_row)]
    return "rows=" + ";".join(rows)


@click.command("quickstart")
@click.option(
    "--port",
    default=5006,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the web app; it listens on localhost only (http://localhost:PORT/).",
)
@click.option(
    "--path", default=None, help=f"Log path (default $STREAMVIS_LOG or {QUICKSTART_LOG})."
)
@click.option(
    "--steps",
    default=20_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Demo steps to log.",
)
@click.option(
    "--step-delay",
    default=0.05,
    show_default=True,
    type=float,
    help="Seconds between demo steps, so it keeps streaming.",
)
@click.option("--scope", default="quickstart", show_default=True, help="Demo scope (run) name.")
def quickstart_cmd(port: int, path: str | None, steps: int, step_delay: float, scope: str) -> None:
    """Everything at once: a local log, the demo logger streaming into it, and the
    web app with the demo schema on localhost:PORT (--port, default 5006). Prints the
    URL to open; Ctrl-C stops it all."""
    from streamvis.logger.demo import run_demo
    from streamvis.storage import Store

    from .schema import demo_schema_path

    log = path or default_log_path()
    if "://" not in log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
    Store.open(log, mode="a").close()  # the web app reads an existing log
    errors: list[BaseException] = []

    def demo() -> None:
        try:
            run_demo(scope, steps, path=log, step_delay=step_delay)
            click.echo(
                f"streamvis quickstart: the demo has ended ({steps} steps logged); "
                "the page keeps serving them (Ctrl-C to stop)"
            )
        except BaseException as exc:  # noqa: BLE001 - reported on the console
            errors.append(exc)
            click.secho(f"Error: the demo logger stopped: {exc}", fg="red", err=True)

    web_uri = f"localhost:{port}"

    def ready() -> None:
        took = f", about {steps * step_delay:.0f} s" if step_delay > 0 else ""
        click.echo(f"streamvis quickstart: logging the demo ({steps} steps{took}) to {log}")
        click.echo(f"streamvis web app: listening on {web_uri} (local only)")
        click.echo(f"open http://{web_uri}/")
        click.echo(f"(a plot per logged name; the demo's layout: http://{web_uri}/?{QUICKSTART_LAYOUT}; index of plots "
                   f"and runs: http://{web_uri}/index; Ctrl-C to stop)")
        # the demo starts once the page can be opened, so its end is said after the URL
        threading.Thread(target=demo, name="streamvis-demo", daemon=True).start()

    try:
        serve(
            web_uri,
            log,
            demo_schema_path(),
            refresh=0.5,
            on_ready=ready,
            allow_origin=(f"127.0.0.1:{port}",),
        )
    except InvalidArgumentError:
        raise
    except KeyboardInterrupt:
        pass
