"""How every CLI command reports a library error: one line on stderr, exit status 1.

Shared by the command modules (``storage_cli``, ``server.cli``) so that each says it
the same way, also when a command is invoked on its own (as click's test runner does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from streamvis.errors import StreamvisError

__all__ = ["one_line_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(fn: F) -> F:
    """``fn`` with a ``StreamvisError`` turned into one line (exit status 1) and Ctrl-C
    into exit status 130, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StreamvisError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]
