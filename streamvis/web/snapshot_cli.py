"""``streamvis snapshot DATA OUT.html [SCHEMA] --page "rows=loss&where=..."``: a page's
view as one self-contained HTML file (``page.snapshot``)."""

from __future__ import annotations

import logging
import sys
import time
import urllib.parse

import click

from streamvis.cli_errors import one_line_errors
from streamvis.errors import InvalidArgumentError

__all__ = ["snapshot_cmd", "parse_page"]


class PageParameterError(click.ClickException):
    """A page parameter the page refuses: its message, one line, exit status 2 (usage)."""

    exit_code = 2


def parse_page(text: str) -> dict[str, list[str]]:
    """``--page``: a page's query (``rows=loss&where=lr>0.01``, with or without a
    leading ``?``) or a whole page address; decoded as the web app decodes it."""
    if "://" in text:
        query = urllib.parse.urlsplit(text).query
    else:
        query = text.partition("?")[2] if "?" in text else text
    out: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


@click.command("snapshot")
@click.argument("data")
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("schema_file", type=click.Path(dir_okay=False), required=False)
@click.option("--page", "page", default="", show_default=False,
              help="The page's parameters, as in its address: e.g. \"rows=loss,acc&where=lr<1e-3\" "
              "(default: every logged name).")
@click.option("--width", default=1400, show_default=True, type=click.IntRange(200, 20000),
              help="Screen width in pixels: the plots hold their lines decimated to it.")
@click.option("--height", default=900, show_default=True, type=click.IntRange(200, 20000),
              help="Screen height in pixels.")
@click.option("--budget", default=1_000_000, show_default=True, type=click.IntRange(min=1000),
              help="Points per plot, shared by its lines, as web-serve --budget.")
@click.option("--max-lines", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Lines drawn per plot, as web-serve --max-lines.")
@click.option("--title", default=None, help="The file's title (default: streamvis: DATA).")
@click.option("--token", default=None, help="Token of the data server DATA (env STREAMVIS_TOKEN).")
@click.option("--tls-ca", default=None, type=click.Path(dir_okay=False),
              help="CA certificate (PEM) of a TLS data server DATA (env STREAMVIS_TLS_CA).")
@one_line_errors
def snapshot_cmd(data: str, out: str, schema_file: str | None, page: str, width: int, height: int,
                 budget: int, max_lines: int, title: str | None, token: str | None,
                 tls_ca: str | None) -> None:
    """Write the page of DATA (a log path or URL, or a data server's host:port) that
    --page describes to OUT (one HTML file, BokehJS inline: opens offline, zoomable,
    with the runs table). SCHEMA_FILE (YAML, optional) names plots as for web-serve.
    OUT may only replace an earlier snapshot."""
    from streamvis.source import is_server_address, open_source

    from .address.layout import parse_layout
    from .cli import _schema
    from .page.snapshot import check_target, snapshot_html, write_snapshot

    check_target(out)  # refused before any work
    schema = _schema(schema_file)
    args = parse_page(page)
    try:
        parse_layout(args, schema)
    except InvalidArgumentError as exc:
        raise PageParameterError(f"--page: {' '.join(str(exc).split())}") from None
    options = {"token": token, "tls_ca": tls_ca} if is_server_address(data) else {}
    source = open_source(data, **options)
    # the live page's warnings (a failed read, retried there) are the snapshot's one error here
    web_log = logging.getLogger("streamvis.web")
    level = web_log.level
    web_log.setLevel(logging.ERROR)
    try:
        t0 = time.perf_counter()
        click.echo(f"streamvis snapshot: reading {data} ...", err=True)
        html = snapshot_html(source, schema, args, width=width, height=height, title=title, log_name=data,
                             budget=budget, max_lines=max_lines)
        write_snapshot(out, html)
    finally:
        web_log.setLevel(level)
        source.close()
    size = len(html.encode()) / 2**20
    click.echo(f"streamvis snapshot: wrote {out} ({size:.1f} MiB) in {time.perf_counter() - t0:.1f} s",
               err=True)
    sys.stderr.flush()
