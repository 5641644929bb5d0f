"""What a line plot's x is drawn against: ``step`` (the x column), ``wall`` (wall time),
``relative`` (seconds since the line's first point), or ``name:NAME`` (the value a
logged name had at the same step of the same run: ``x=NAME`` in an address, ``x:`` in
a schema; ``x=name:wall`` for a name spelled like a mode)."""

from __future__ import annotations

from typing import Any

from streamvis.errors import InvalidArgumentError

__all__ = ["X_MODES", "parse_x", "x_name_of"]

X_MODES = ("step", "wall", "relative")  # what x is drawn against: the x column, or wall time


def parse_x(text: Any, where: str) -> str:
    """``step|wall|relative`` as they are; any other name as ``name:NAME`` (``name:wall``
    kept: a name spelled like a mode); one-line error for an empty or non-text value."""
    if not isinstance(text, str) or not text.strip() or text.strip() == "name:":
        raise InvalidArgumentError(
            f"{where}={text!r} is not an x; give one of {', '.join(X_MODES)} or a logged name "
            "(name:NAME for a name spelled like a mode)")
    text = text.strip()
    if text in X_MODES or text.startswith("name:"):
        return text
    return "name:" + text


def x_name_of(mode: str | None) -> str | None:
    """The logged name of an ``x=NAME`` mode (None for step, wall, relative)."""
    return mode[5:] if mode is not None and mode.startswith("name:") else None
