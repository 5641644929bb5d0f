"""``streamvis web-serve`` and ``streamvis quickstart``."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from streamvis.errors import InvalidArgumentError, StreamvisError, UnauthenticatedError
from streamvis.paths import default_log_path

__all__ = ["web_serve_cmd", "quickstart_cmd", "serve", "QUICKSTART_LOG"]

QUICKSTART_LOG = str(Path.home() / ".streamvis" / "quickstart.svl")
QUICKSTART_LAYOUT = "rows=loss,lr;weights,cloud&width=2,1,1,1&height=1,1"


def serve(
    web_uri: str,
    data: str,
    schema_file: str,
    *,
    refresh: float,
    allow_origin: tuple[str, ...] = (),
    budget: int | None = None,
    max_lines: int | None = None,
    webgl: str = "auto",
    on_ready: object = None,
    token: str | None = None,
    tls_ca: str | None = None,
) -> None:
    """Serve the web app until interrupted (blocks). ``token``/``tls_ca`` are used
    when DATA is a data server (defaults: $STREAMVIS_TOKEN, $STREAMVIS_TLS_CA)."""
    from streamvis.source import is_server_address, open_source

    from .schema import load_schema
    from .server import DEFAULT_BUDGET, DEFAULT_MAX_LINES, build_server

    schema = load_schema(schema_file)  # validated before anything starts
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
            budget=budget or DEFAULT_BUDGET,
            max_lines=max_lines or DEFAULT_MAX_LINES,
            webgl=webgl,
        )
        if callable(on_ready):
            on_ready()
        try:
            server.io_loop.start()
        finally:
            cfg.executor.shutdown(wait=False, cancel_futures=True)
    finally:
        source.close()


@click.command("web-serve")
@click.argument("web_uri")
@click.argument("data")
@click.argument("schema_file", type=click.Path(dir_okay=False))
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
    help="Another host[:port] allowed to open the websocket (repeatable).",
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
def web_serve_cmd(
    web_uri: str,
    data: str,
    schema_file: str,
    refresh: float,
    allow_origin: tuple[str, ...],
    budget: int | None,
    max_lines: int | None,
    webgl: str,
    token: str | None,
    tls_ca: str | None,
) -> None:
    """Serve live plots of DATA (a data server's host:port, or a log path) at WEB_URI
    (host:port, e.g. 127.0.0.1:5006; 0.0.0.0:5006 accepts other machines), laid out
    by SCHEMA_FILE (YAML) and the page URL."""
    from streamvis.source import reach_note

    from .server import parse_web_uri

    url = f"http://{web_uri.split('://')[-1]}"
    host, port = parse_web_uri(web_uri)

    def ready() -> None:
        note = reach_note(host, widen=f"use 0.0.0.0:{port} as WEB_URI")
        click.echo(f"streamvis web app: listening on {host}:{port} ({note})")
        click.echo(f"streamvis web app: open {url}/ (index) or {url}/?{QUICKSTART_LAYOUT}")

    serve(
        web_uri,
        data,
        schema_file,
        refresh=refresh,
        allow_origin=allow_origin,
        budget=budget,
        max_lines=max_lines,
        webgl=webgl,
        on_ready=ready,
        token=token,
        tls_ca=tls_ca,
    )


@click.command("quickstart")
@click.option("--port", default=5006, show_default=True, type=int, help="Web port.")
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
    web app with the demo schema. Prints the URL to open; Ctrl-C stops it all."""
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
        except BaseException as exc:  # noqa: BLE001 - reported on the console
            errors.append(exc)
            click.secho(f"demo logger stopped: {exc}", fg="red", err=True)

    threading.Thread(target=demo, name="streamvis-demo", daemon=True).start()
    web_uri = f"localhost:{port}"

    def ready() -> None:
        click.echo(f"streamvis quickstart: logging the demo to {log}")
        click.echo(f"streamvis web app: listening on {web_uri} (local only)")
        click.echo(f"open http://{web_uri}/?{QUICKSTART_LAYOUT}")
        click.echo(f"(index of plots and runs: http://{web_uri}/index; Ctrl-C to stop)")

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
