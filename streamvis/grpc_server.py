"""``python -m streamvis.grpc_server PATH PORT [--host HOST] [--token T] [--tls-cert C --tls-key K]``:
serve a log over gRPC.

The same as ``streamvis grpc-serve``.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the ``grpc-serve`` command with this module as its program name."""
    from streamvis.server.cli import grpc_serve_cmd

    grpc_serve_cmd.main(prog_name="python -m streamvis.grpc_server")


if __name__ == "__main__":
    main()
