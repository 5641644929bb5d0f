"""CLI commands of the data server and of the read interface.

``streamvis grpc-serve PATH PORT`` serves a log; ``scopes``, ``names``, ``configs``
and ``tail`` take a TARGET that is a log (an existing path or a URL) or a
data server (``host:port``). Errors print one line and exit with status 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
import numpy as np

from streamvis.backoff import DEFAULT_CEILING, IdleBackoff
from streamvis.cli_errors import one_line_errors
from streamvis.errors import NotFoundError
from streamvis.server import wire

__all__ = [
    "grpc_serve_cmd",
    "scopes_cmd",
    "names_cmd",
    "configs_cmd",
    "tail_cmd",
]

F = TypeVar("F", bound=Callable[..., Any])


def _open(target: str, *, token: str | None = None, tls_ca: str | None = None) -> Any:
    """A DataSource for a log path/URL or a server ``host:port`` (token/CA for a server)."""
    from streamvis.source import is_server_address, open_source

    if is_server_address(target):
        return open_source(target, token=token, tls_ca=tls_ca)
    return open_source(target)


def _client_options(fn: F) -> F:
    """``--token`` and ``--tls-ca`` for commands whose TARGET may be a data server."""
    fn = click.option(
        "--tls-ca", default=None, type=click.Path(dir_okay=False),
        help="CA certificate (PEM) of a TLS data server (env STREAMVIS_TLS_CA).",
    )(fn)
    fn = click.option(
        "--token", default=None,
        help="Token the data server requires (env STREAMVIS_TOKEN).",
    )(fn)
    return fn


@click.command("grpc-serve")
@click.argument("path")
@click.argument("port", type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--max-message-bytes", type=click.IntRange(4096), default=wire.DEFAULT_MAX_MESSAGE_BYTES,
              show_default=True, help="Messages above this are split into chunks.")
@click.option("--token", envvar="STREAMVIS_TOKEN", default=None,
              help="Require this bearer token from clients (env STREAMVIS_TOKEN).")
@click.option("--tls-cert", default=None, type=click.Path(dir_okay=False),
              help="Serve TLS with this certificate chain (PEM); needs --tls-key.")
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False),
              help="Private key (PEM) of --tls-cert.")
@click.option("--no-fsync", is_flag=True, help="Do not fsync every write (faster, survives process crashes only).")
@click.option("--commit-interval", default=1.0, show_default=True, type=click.FloatRange(min=0.0),
              help="gs:// and s3:// logs: store the appends of all loggers as at most one "
                   "object per this many seconds (each call is answered once its object "
                   "exists; 0: one object per append).")
@one_line_errors
def grpc_serve_cmd(
    path: str,
    port: int,
    host: str,
    max_message_bytes: int,
    token: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    no_fsync: bool,
    commit_interval: float,
) -> None:
    """Serve the log at PATH (local, gs:// or s3://) on PORT until Ctrl-C / SIGTERM."""
    from streamvis.server.server import run

    run(
        path,
        port,
        host,
        echo=click.echo,
        max_message_bytes=max_message_bytes,
        token=token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        store_options={"fsync": not no_fsync},
        commit_interval=commit_interval,
    )


@click.command("scopes")
@click.argument("target")
@_client_options
@one_line_errors
def scopes_cmd(target: str, token: str | None, tls_ca: str | None) -> None:
    """Print the scopes of TARGET (a log path/URL or host:port), one a line."""
    with _closing(_open(target, token=token, tls_ca=tls_ca)) as src:
        for scope in src.scopes():
            click.echo(scope)


@click.command("names")
@click.argument("target")
@click.argument("scope")
@click.option("--media", is_flag=True,
              help="Print the image and text names instead: name, kind, steps (tab-separated).")
@_client_options
@one_line_errors
def names_cmd(target: str, scope: str, media: bool, token: str | None, tls_ca: str | None) -> None:
    """Print the names logged under SCOPE, one a line (--media: its images and texts)."""
    with _closing(_open(target, token=token, tls_ca=tls_ca)) as src:
        if media:
            for m in src.media():
                if m.scope == scope:
                    click.echo(f"{m.name}\t{m.kind}\t{len(m.steps)}")
            return
        for name in src.names(scope):
            click.echo(name)


@click.command("configs")
@click.argument("target")
@click.argument("scope", required=False)
@_client_options
@one_line_errors
def configs_cmd(target: str, scope: str | None, token: str | None, tls_ca: str | None) -> None:
    """Print the config of SCOPE as JSON (of every scope, "scope<TAB>json", without SCOPE)."""
    with _closing(_open(target, token=token, tls_ca=tls_ca)) as src:
        if scope is None:
            for s, cfg in src.configs().items():
                click.echo(f"{s}\t{json.dumps(cfg, sort_keys=True)}")
            return
        configs = src.configs()
        if scope not in configs and scope not in src.scopes():
            raise NotFoundError(f"scope {scope!r} not found")
        click.echo(json.dumps(configs.get(scope, {}), sort_keys=True))


@click.command("tail")
@click.argument("target")
@click.option("--scope", default=None, help="Only this scope (exact).")
@click.option("--name", default=None, help="Only this name (exact).")
@click.option("--scope-pattern", default=None, help="Only scopes matching this regex.")
@click.option("--name-pattern", default=None, help="Only names matching this regex.")
@click.option("--from-start", is_flag=True, help="Print what exists first, then follow.")
@click.option("--count", type=click.IntRange(1), default=None, help="Exit after this many points.")
@click.option("--interval", type=float, default=0.2, show_default=True,
              help="Polling interval for a log, seconds (while points arrive).")
@click.option("--max-interval", type=float, default=DEFAULT_CEILING, show_default=True,
              help="While nothing arrives the interval grows up to this, seconds.")
@_client_options
@one_line_errors
def tail_cmd(
    target: str,
    scope: str | None,
    name: str | None,
    scope_pattern: str | None,
    name_pattern: str | None,
    from_start: bool,
    count: int | None,
    interval: float,
    max_interval: float,
    token: str | None,
    tls_ca: str | None,
) -> None:
    """Print points as they are appended: "scope name index col=value ...", one a line."""
    sel = dict(scope=scope, name=name, scope_pattern=scope_pattern, name_pattern=name_pattern)
    printed = 0
    with _closing(_open(target, token=token, tls_ca=tls_ca)) as src:
        for result in _follow(src, sel, from_start, IdleBackoff(interval, max_interval)):
            for scope_, name_ in result.deleted:
                click.echo(f"# deleted {scope_}" + (f"/{name_}" if name_ else ""))
            for (scope_, name_), table in result.tables.items():
                cols = {c: table.column(c).to_numpy() for c in table.column_names}
                for row in range(table.num_rows):
                    values = " ".join(
                        f"{c}={_fmt(a[row])}" for c, a in cols.items() if c != "index"
                    )
                    click.echo(f"{scope_} {name_} {int(cols['index'][row])} {values}")
                    printed += 1
                    if count is not None and printed >= count:
                        return


def _follow(src: Any, sel: dict[str, Any], from_start: bool, backoff: IdleBackoff) -> Iterator[Any]:
    """Batches of new points: a server pushes them, a log is polled (less often while idle)."""
    from streamvis.server.client import GrpcSource

    if isinstance(src, GrpcSource):
        since = None if from_start else src.cursor()
        yield from src.subscribe(**sel, since=since, reconnect_timeout=float("inf"))
        return
    since = None if from_start else src.store.cursor()
    while True:
        result = src.fetch(**sel, since=since)
        since = result.cursor
        yield result
        got = bool(result.tables or result.deleted)
        wait = backoff.after(got)
        if not got:
            time.sleep(wait)


def _fmt(value: Any) -> str:
    return repr(float(value)) if isinstance(value, np.floating) else str(value)


class _closing:
    """``with`` for a DataSource (``close()`` on exit)."""

    def __init__(self, src: Any) -> None:
        self.src = src

    def __enter__(self) -> Any:
        return self.src

    def __exit__(self, *exc: object) -> None:
        self.src.close()

