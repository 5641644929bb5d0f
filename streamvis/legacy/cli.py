"""``streamvis import-legacy PREFIX PATH`` (with a progress bar)."""

from __future__ import annotations

import click
from tqdm import tqdm

__all__ = ["import_legacy_cmd"]


@click.command("import-legacy")
@click.argument("prefix")
@click.argument("path")
def import_legacy_cmd(prefix: str, path: str) -> None:
    """Convert the original streamvis's PREFIX.log and PREFIX.idx into a new log at PATH."""
    from streamvis.legacy.importer import import_legacy

    with tqdm(desc="import-legacy", unit="record", disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        stats = import_legacy(prefix, path, progress=progress)
    click.echo(
        f"imported {stats.scopes} scopes, {stats.names} names, {stats.groups} groups, "
        f"{stats.points} points and {stats.configs} configs from {prefix} into {path}"
    )
    for col in stats.renamed_columns:
        click.echo(f"column {col} is named {col.rsplit('/', 1)[-1]}_ (the name is reserved)")
    if stats.torn_bytes:
        click.echo(f"ignored {stats.torn_bytes} bytes of an incomplete last index record")
