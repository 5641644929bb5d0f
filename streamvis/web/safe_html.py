"""The one boundary where strings become HTML, and where config values become sendable.

Bokeh renders a few things as markup: ``Div`` text, DataTable (SlickGrid) column
titles, ``HTMLTemplateFormatter`` cells and hover fields marked ``{safe}``. Everything
else (``Paragraph``, cell values under the default formatters, canvas titles and
legends, ``Select`` options, plain hover fields) is text. Every string that comes from
the data (scope, name, column names, config keys and values, text) or from the page's
address and reaches one of the markup models goes through :func:`text` or
:func:`column_title` here, so a config key ``<img src=x onerror=...>`` is shown, never
run. The page's address itself never reaches markup (``page_url`` keeps it in a data
source).

Bokeh also reads a plain string in a title, an axis label or a colour bar's title as
TeX when it holds ``$$...$$``, ``\\[...\\]`` or ``\\(...\\)`` (MathJax renders it): such
strings from the data go as :func:`plain` (a ``PlainText`` model, drawn as it is), so
a run named ``$$\\color{red}{...}$$`` is shown by its name, never typeset.

Config values take :func:`sendable` on their way into the app (``where.flatten``):
Bokeh's serializer cannot send an integer outside float64 (``OverflowError``), so
such a number goes as its decimal text; table cells take :func:`exact_cell` (an
integer past 2**53 as its digits, not a rounded float).
"""

from __future__ import annotations

import html
import sys
from typing import Any

from bokeh.models import PlainText

__all__ = ["text", "column_title", "plain", "sendable", "exact_cell", "MAX_SAFE_INT"]

MAX_SAFE_INT = 2**53  # beyond this an integer loses digits as a JavaScript number
_FLOAT_MAX = sys.float_info.max


def text(value: object) -> str:
    """``value`` as HTML text: ``<``, ``>``, ``&`` and both quotes escaped (safe in an
    element's content and in a quoted attribute)."""
    return html.escape(str(value), quote=True)


def plain(value: object) -> PlainText:
    """``value`` as a title's or an axis label's text, never parsed as TeX."""
    return PlainText(text=str(value))


def column_title(key: str) -> str:
    """A DataTable column title for ``key`` (SlickGrid inserts titles as HTML)."""
    return text(key)


def _big_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -MAX_SAFE_INT <= value <= MAX_SAFE_INT


def sendable(value: Any) -> Any:
    """A config value the app can compare and Bokeh can send: integers past float64
    (e.g. ``10**309``) become their decimal text; anything else is returned as it is."""
    if _big_int(value):
        try:
            if abs(float(value)) <= _FLOAT_MAX:
                return value
        except OverflowError:
            pass
        return _int_text(value)
    return value


def exact_cell(value: Any) -> Any:
    """A value for a table cell: integers a JavaScript number would round (past 2**53)
    as their exact decimal text."""
    return _int_text(value) if _big_int(value) else value


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # past Python's digit limit for int -> str
        digits = value.bit_length() * 0.30103
        return f"{'-' if value < 0 else ''}~1e{int(digits)} (integer)"
