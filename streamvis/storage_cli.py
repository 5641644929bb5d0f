"""CLI commands over a log file: ``export``, ``compact``, ``verify`` (with progress bars)."""

from __future__ import annotations

import click
from tqdm import tqdm

from streamvis.errors import CorruptDataError

__all__ = ["export_cmd", "compact_cmd", "verify_cmd"]


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


@click.command("compact")
@click.argument("path")
@click.option("--grace", type=float, default=10.0, show_default=True,
              help="gs:// and s3://: seconds readers get to move on before old objects go.")
def compact_cmd(path: str, grace: float) -> None:
    """Rewrite the log at PATH without deleted data, each group contiguous (gs://, s3://:
    merge its segments into a new generation while writers and readers go on)."""
    from streamvis.storage.compact import compact
    from streamvis.storage.object_compact import compact_object_log

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
