"""The catalogue of hostile strings, and the surfaces that feed them to the web app.

Adding a string is one line in ``STRINGS``; adding a surface of the log is one line in
``SURFACES``; a URL parameter joins by being in ``streamvis.web.address.layout.PARAMS`` (every
one is fed). ``tests/hardening/test_hostile_browser.py`` writes every string through
every surface into one log, serves it with a real ``streamvis web-serve`` and opens
every page in Chromium.

Markup payloads never run silently: each calls ``window.__pwned(n)`` (the test
defines it before any page script) and each element it would create carries the
attribute ``data-sv-pwned``; a page passes when no call was made and no such
element (or ``javascript:`` link) exists anywhere, shadow roots included.

Surfaces with modules of their own: the hyperparameter page (``test_hostile_hparams.py``),
image and text cards and the per-plot CSV download, where a cell starting with ``=``,
``+``, ``-`` or ``@`` must not become a spreadsheet formula (``test_hostile_media_csv.py``),
and the notebook's output (``test_hostile_notebook.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamvis.storage import ConfigUpdate, Points

__all__ = ["Hostile", "STRINGS", "MARKUP", "SURFACES", "NUMBERS", "PWN", "MARK", "deep_config",
           "joined_markup"]

PWN = "__pwned"  # window.__pwned(n): a call means a payload's script ran
MARK = "data-sv-pwned"  # on every element a payload would create


@dataclass(frozen=True)
class Hostile:
    """One hostile string; ``markup``: it would create an element or run if taken as HTML."""

    label: str
    text: str
    markup: bool = False


STRINGS: list[Hostile] = [
    Hostile("img-onerror", f'<img src=x onerror="{PWN}(1)" {MARK}>', True),
    Hostile("script", f"<script {MARK}>{PWN}(2)</script>", True),
    Hostile("svg-onload", f"<svg {MARK} onload={PWN}(3)>", True),
    Hostile("dq-breakout", f'"><img src=x onerror={PWN}(4) {MARK}>', True),
    Hostile("sq-breakout", f"'><img src=x onerror={PWN}(5) {MARK}>", True),
    Hostile("js-url", f"javascript:{PWN}(6)", True),
    Hostile("a-js-href", f'<a href="javascript:{PWN}(7)" {MARK}>open</a>', True),
    Hostile("entities", f"&lt;img src=x onerror={PWN}(8) {MARK}&gt; &amp;lt;", True),
    Hostile("iframe-srcdoc", f"<iframe {MARK} srcdoc=\"<script>parent.{PWN}(9)</script>\"></iframe>", True),
    Hostile("templates", f"<%= {PWN}(10) %><%- {PWN}(11) %><% {PWN}(12) %>{{{{{PWN}(13)}}}}", True),
    Hostile("style-breakout", f"</style></title></textarea><img src=x onerror={PWN}(14) {MARK}>", True),
    Hostile("details-ontoggle", f"<details open ontoggle={PWN}(15) {MARK}><summary>s</summary></details>", True),
    Hostile("bokeh-fields", "@scope{safe} $x{safe} @{name}{safe} $index", True),
    Hostile("quotes", "quote \" ' ` \\ end"),
    Hostile("nul", "nul\x00byte"),
    Hostile("control", "ctl\x01\x07\x1b[31m\x7f\r\n\tend"),
    Hostile("bidi", "bidi \u202egnp.exe\u202c \u2066iso\u2069 zero\u200bwidth\ufeff"),
    Hostile("emoji", "ünï cødé 😀 / ✓"),
    Hostile("long", "L" * 1000),  # under the writers' 1,024-byte limit of keys and names
    Hostile("long-markup", (f"<img src=x onerror={PWN}(16) {MARK}>" * 30)[:990] + ">", True),
    Hostile("dots", "a.b..c."),  # the nested-key separator
    Hostile("regex", "(a+)+$[^"),
    Hostile("percent", f"%3Cimg%20src%3Dx%20onerror%3D{PWN}(17)%20{MARK}%3E %ZZ %"),
    Hostile("spaces", "   "),
]
MARKUP = [h for h in STRINGS if h.markup]

# numbers a config may hold that Bokeh cannot send as they are (writers refuse some now;
# old logs may hold them)
NUMBERS: dict[str, Any] = {
    "past-float64": 10**309,
    "negative-past-float64": -(10**309),
    "past-2**53": 2**64 + 1,
    "float-max": 1.7976931348623157e308,
    "tiny": 5e-324,
}


def _points(scope: str, name: str = "metric", y: float = 0.0, extra: str | None = None) -> Points:
    x = np.arange(5, dtype=np.float64)
    cols = {"x": x, "y": np.full(5, y)}
    if extra is not None:
        cols[extra] = x
    return Points(scope, name, 0, cols)


def deep_config(text: str, depth: int = 60) -> dict[str, Any]:
    """``text`` as key and value at ``depth`` levels of nesting."""
    cfg: dict[str, Any] = {text: text}
    for _ in range(depth):
        cfg = {"d": cfg}
    return cfg


# surface -> (one-letter code, records putting ``text`` there for run ``run`` whose
# line sits at height ``y``). The run's scope starts with ``run`` in every case.
SURFACES: dict[str, tuple[str, Callable[[str, str, float], list[Any]]]] = {
    "config key": ("k", lambda s, run, y: [ConfigUpdate(run, {s: 1}), _points(run, y=y)]),
    "nested config key": ("n", lambda s, run, y: [ConfigUpdate(run, {"outer": {s: 2}}), _points(run, y=y)]),
    "config value": ("v", lambda s, run, y: [ConfigUpdate(run, {"v": s, "outer": {"v": s}}), _points(run, y=y)]),
    "deep config": ("d", lambda s, run, y: [ConfigUpdate(run, deep_config(s)), _points(run, y=y)]),
    "scope": ("s", lambda s, run, y: [_points(f"{run} {s}", y=y)]),
    "name": ("m", lambda s, run, y: [_points(run, name=f"m {s}", y=y)]),
    "column name": ("c", lambda s, run, y: [_points(run, y=y, extra=s)]),
}


def joined_markup(limit: int = 1500) -> str:
    """Every markup payload in one string (for one URL parameter), at most ``limit``
    characters."""
    out = ""
    for h in MARKUP:
        if len(out) + len(h.text) + 1 > limit:
            break
        out += h.text + " "
    return out
