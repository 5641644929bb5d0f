"""``streamvis import-tb LOGDIR PATH``: TensorBoard event files into a streamvis log."""

from __future__ import annotations

import click

from streamvis.errors import CorruptDataError

__all__ = ["import_tb_cmd"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _sigterm_stops() -> None:
    """SIGTERM ends --follow as Ctrl-C does: the pass in progress is cut at a batch
    (appends are atomic) and the log is closed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@click.command("import-tb")
@click.argument("logdir", type=click.Path(file_okay=False))
@click.argument("path")
@click.option("--follow", is_flag=True,
              help="Keep importing new events and files until Ctrl-C (a live logdir).")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds between passes with --follow.")
def import_tb_cmd(logdir: str, path: str, follow: bool, interval: float) -> None:
    """Import the TensorBoard event files under LOGDIR into the log at PATH.

    Each run directory becomes a scope (relative to LOGDIR; LOGDIR itself is named
    by its own directory name); tags become names. Importing again adds only what is
    new. Torn tails are imported up to the last whole record; a corrupt file is
    reported, the others are still imported (exit status 1)."""
    from streamvis.tensorboard.importer import ImportReport, import_tb

    reported: set[tuple[str, str, int]] = set()
    total = {"points": 0}

    def on_pass(report: ImportReport) -> None:
        for p in report.problems:
            key = (p.path, p.kind, p.offset)
            if key not in reported:
                reported.add(key)
                click.secho(f"warning: {p.message()}", fg="yellow", err=True)
        total["points"] += report.points
        if follow and report.points:
            click.echo(f"imported {report.points} new points")

    if follow:
        _sigterm_stops()
    try:
        report = import_tb(logdir, path, progress=None, follow=follow, interval=interval,
                           on_pass=on_pass)
    except KeyboardInterrupt:
        if not follow:
            raise
        click.echo(f"stopped following {logdir}: imported {total['points']} points in all")
        return
    skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(report.skipped.items()))
    click.echo(f"imported {_plural(total['points'], 'new point')} from "
               f"{_plural(report.files, 'event file')} ({_plural(len(report.runs), 'run')}) "
               f"into {path}" + (f"; not imported (unsupported kinds): {skipped}" if skipped else ""))
    corrupt = report.corrupt
    if corrupt:
        raise CorruptDataError(
            f"{_plural(len(corrupt), 'corrupt event file')} imported up to the damage "
            "(see the warnings above): " + ", ".join(p.path for p in corrupt))
