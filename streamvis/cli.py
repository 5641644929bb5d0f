"""The ``streamvis`` command line.

Commands live beside the code they drive and are imported only when invoked, so
``streamvis scopes`` does not pay for importing Bokeh. Library errors print one
line and exit with status 1, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from streamvis.errors import StreamvisError

__all__ = ["main", "cli"]

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "export": "streamvis.storage_cli:export_cmd",
    "compact": "streamvis.storage_cli:compact_cmd",
    "verify": "streamvis.storage_cli:verify_cmd",
    "import-legacy": "streamvis.legacy.cli:import_legacy_cmd",
    "grpc-serve": "streamvis.server.cli:grpc_serve_cmd",
    "scopes": "streamvis.server.cli:scopes_cmd",
    "names": "streamvis.server.cli:names_cmd",
    "configs": "streamvis.server.cli:configs_cmd",
    "delete": "streamvis.storage_cli:delete_cmd",
    "tail": "streamvis.server.cli:tail_cmd",
    "demo": "streamvis.logger.demo:demo_cmd",
    "web-serve": "streamvis.web.cli:web_serve_cmd",
    "quickstart": "streamvis.web.cli:quickstart_cmd",
    "snapshot": "streamvis.web.snapshot_cli:snapshot_cmd",
    "import-tb": "streamvis.tensorboard.cli:import_tb_cmd",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # not built yet
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="streamvis")
def cli() -> None:
    """streamvis: log tensors from training, watch them stream into live plots."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the console script: errors become one line and exit code 1."""
    try:
        rv = cli.main(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        return rv
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except StreamvisError as exc:
        click.secho(f"Error: {' '.join(str(exc).split())}", fg="red", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
