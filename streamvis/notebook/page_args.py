"""``show``'s page keywords as the page's query arguments, checked as the page checks them.

The keywords are the page's URL parameters (``streamvis.web.address.layout.PARAMS``),
so ``show(log, rows="loss", where="lr<5e-4")`` is the page ``/?rows=loss&where=lr<5e-4``.
Python values are written as the page expects them: a list or tuple is joined with
``,`` (``rows=["loss", "acc"]``; a list of lists for several rows or columns,
``rows=[["loss", "acc"], ["lr"]]`` is ``rows=loss,acc;lr``), except ``names=``, which
is given once per plot (each item one pattern); numbers as written by ``repr``; a
bool ``webgl=`` as on/off. The page's relative ``width=``/``height=`` of the plots are
``widths=``/``heights=`` here, since ``show``'s own ``width``/``height`` size the view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamvis.web.address.layout import Layout, LayoutError, parse_layout
from streamvis.web.schema import Schema

__all__ = ["page_args", "check_page", "RENAMED"]

RENAMED = {"widths": "width", "heights": "height"}  # show's keyword -> the page's parameter
_PER_PLOT = ("names",)  # given once per plot: a list is several values, not one joined


def _text(key: str, value: Any) -> str:
    """One parameter value as the page's query writes it."""
    if isinstance(value, bool):
        if key == "webgl":
            return "on" if value else "off"
        raise LayoutError(f"'{key}={value}' is not a value of the page's {key}=; give text")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        if key in ("rows", "cols") and value and all(isinstance(v, list | tuple) for v in value):
            return ";".join(",".join(_text(key, p) for p in group) for group in value)
        return ",".join(_text(key, v) for v in value)
    raise LayoutError(f"'{key}=' got a {type(value).__name__}; give text, a number or a list")


def page_args(page: Mapping[str, Any]) -> dict[str, list[str]]:
    """The page's query arguments (each key to its values) for ``show``'s keywords;
    None values are left out."""
    args: dict[str, list[str]] = {}
    for key, value in page.items():
        if value is None:
            continue
        name = RENAMED.get(key, key)
        if name in _PER_PLOT and isinstance(value, list | tuple):
            args[name] = [_text(name, v) for v in value]
        else:
            args[name] = [_text(name, value)]
    return args


def check_page(args: Mapping[str, Sequence[str]], schema: Schema) -> Layout:
    """The page's layout of ``args``; LayoutError (the message of the page's error page)
    for a parameter the page would refuse."""
    return parse_layout(args, schema)
