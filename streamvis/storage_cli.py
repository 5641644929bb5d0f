"""CLI commands over a log file: ``export``, ``compact``, ``verify`` (with progress
bars) and ``delete`` (a log or a data server). None of them creates a log: a path
with no log is "no streamvis log at PATH" (only writers create one)."""

from __future__ import annotations

import sys
from typing import Any

import click
from tqdm import tqdm

from streamvis.cli_errors import one_line_errors
from streamvis.errors import CorruptDataError, InvalidArgumentError, NotFoundError

__all__ = ["export_cmd", "compact_cmd", "verify_cmd", "delete_cmd"]


@click.command("export")
@click.argument("path")
@click.option("--to", "out_dir", required=True, help="Directory for the Parquet files.")
@click.option("--scopes", "scope_pattern", default=None, help="RE2 pattern selecting scopes.")
@click.option("--names", "name_pattern", default=None, help="RE2 pattern selecting names.")
def export_cmd(path: str, out_dir: str, scope_pattern: str | None, name_pattern: str | None) -> None:
    """Export the log at PATH to Parquet, hive-partitioned by scope and name."""
    from streamvis.storage.export import export_parquet

    with tqdm(desc="export", unit="name", disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = export_parquet(
            path, out_dir, scope_pattern=scope_pattern, name_pattern=name_pattern, progress=progress
        )
    click.echo(f"wrote {result.points} points in {len(result.files)} files under {out_dir}")
    if result.media:
        click.echo(f"wrote {len(result.media)} image and text files under {out_dir}/_media")
    if result.runs_file:
        click.echo(f"runs (config and summaries, one row per run): {result.runs_file}")


@click.command("compact")
@click.argument("path")
@click.option("--grace", type=float, default=10.0, show_default=True,
              help="gs:// and s3://: seconds readers get to move on before old objects go.")
def compact_cmd(path: str, grace: float) -> None:
    """Rewrite the log at PATH without deleted data, each group contiguous (gs://, s3://:
    merge its segments into a new generation while writers and readers go on)."""
    from streamvis.storage.compaction import compact, compact_object_log

    with tqdm(desc="compact", unit="group", disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if "://" in path and not path.startswith("file://"):
            stats = compact_object_log(path, progress=progress, grace=grace)
        else:
            stats = compact(path, progress=progress)
    click.echo(
        f"compacted {path}: {stats.bytes_before} -> {stats.bytes_after} bytes, "
        f"{stats.groups} groups, {stats.points} points, generation {stats.generation}"
    )
    if stats.objects_before is not None:
        click.echo(f"objects a reader opens: {stats.objects_before} -> {stats.objects_after}")


@click.command("verify")
@click.argument("path")
def verify_cmd(path: str) -> None:
    """Check every record of the log at PATH; exit 1 if any is damaged."""
    from streamvis.storage.verify import verify

    with tqdm(desc="verify", unit="B", unit_scale=True, disable=None) as bar:
        report = verify(path, progress=lambda done: bar.update(done - bar.n))
    click.echo(
        f"{report.records} records in {report.batches} batches, {report.points} points, "
        f"{report.bytes} bytes"
    )
    if report.tail is not None:
        click.echo(f"uncommitted tail at offset {report.tail[1]} (a crash or a write in progress)")
    for key, offset, reason in report.damaged:
        click.echo(f"damaged: offset {offset}{' of ' + key if key else ''}: {reason}")
    if not report.ok:
        raise CorruptDataError(f"{len(report.damaged)} damaged region(s) in {path}")
    click.echo("ok")


@click.command("delete")
@click.argument("target")
@click.argument("scope")
@click.argument("name", required=False)
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@click.option("--token", default=None, help="Token the data server requires (env STREAMVIS_TOKEN).")
@click.option("--tls-ca", default=None, type=click.Path(dir_okay=False),
              help="CA certificate (PEM) of a TLS data server (env STREAMVIS_TLS_CA).")
@one_line_errors
def delete_cmd(
    target: str, scope: str, name: str | None, yes: bool, token: str | None, tls_ca: str | None
) -> None:
    """Delete SCOPE, or only NAME within it, from TARGET (a log path/URL or host:port):
    readers stop seeing it; compact reclaims its space. Says what it will delete and
    asks first (--yes: do not ask; needed without a terminal)."""
    from streamvis.source import is_server_address, open_source

    options = {"token": token, "tls_ca": tls_ca} if is_server_address(target) else {}
    src = open_source(target, **options)  # reads: a path with no log stays without one
    try:
        what = _deletion_summary(src, scope, name)
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidArgumentError(
                    f"will delete {what}; no terminal to ask on: pass --yes to delete it")
            if not click.confirm(f"delete {what}?", default=False):
                click.echo("nothing deleted")
                return
        src.delete(scope, name)
    finally:
        src.close()
    click.echo(f"deleted {scope}" + (f"/{name}" if name else ""))


def _deletion_summary(src: Any, scope: str, name: str | None) -> str:
    """What deleting (scope, name) hides, e.g. "scope 'run1': 2 names (loss, acc), 1,234
    points"; NotFoundError when there is nothing."""
    if scope not in src.scopes():
        raise NotFoundError(f"scope {scope!r} not found")
    names = src.names(scope)
    if name is not None and name not in names:
        raise NotFoundError(f"name {name!r} not found in scope {scope!r}")
    groups = [g for g in src.groups() if g.scope == scope and (name is None or g.name == name)]
    points = sum(g.count for g in groups)
    if name is not None:
        indices = len({g.index for g in groups})
        return f"{scope}/{name}: {points:,} points in {indices:,} index(es)"
    shown = ", ".join(names[:10]) + (f", ... ({len(names) - 10:,} more)" if len(names) > 10 else "")
    return f"scope {scope!r}: {len(names):,} name(s) ({shown}), {points:,} points"

