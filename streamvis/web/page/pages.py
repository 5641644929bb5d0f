"""The page around the plots: the layout grid, the index page, the error page."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from bokeh.models import GridBox, LayoutDOM
from bokeh.models.widgets import Div

from .. import safe_html
from ..address.layout import Layout
from ..schema import Schema
from ..style import PAGE_CSS

__all__ = ["grid", "error_page", "example_links", "PAGE_CSS"]

ONE: Any = ["minmax(0, 1fr)"]


def _tracks(fractions: Sequence[float]) -> Any:
    # minmax(0, Nfr): tracks follow their weights exactly, whatever the content's size
    return [f"minmax(0, {f:.6f}fr)" for f in fractions]


def grid(layout: Layout, cells: Sequence[LayoutDOM]) -> LayoutDOM:
    """Arrange the plot cells (in layout order) in rows or columns with relative sizes."""
    groups: list[LayoutDOM] = []
    k = 0
    for gi, g in enumerate(layout.groups):
        members = cells[k : k + len(g)]
        k += len(g)
        if layout.mode == "rows":
            box = GridBox(
                children=[(c, 0, j) for j, c in enumerate(members)],
                cols=_tracks(layout.inner[gi]),
                rows=ONE,
                sizing_mode="stretch_both",
                name=f"group:{gi}",
            )
        else:
            box = GridBox(
                children=[(c, j, 0) for j, c in enumerate(members)],
                rows=_tracks(layout.inner[gi]),
                cols=ONE,
                sizing_mode="stretch_both",
                name=f"group:{gi}",
            )
        groups.append(box)
    if layout.mode == "rows":
        return GridBox(
            children=[(b, i, 0) for i, b in enumerate(groups)],
            rows=_tracks(layout.outer),
            cols=ONE,
            sizing_mode="stretch_both",
            name="page",
        )
    return GridBox(
        children=[(b, 0, i) for i, b in enumerate(groups)],
        cols=_tracks(layout.outer),
        rows=ONE,
        sizing_mode="stretch_both",
        name="page",
    )


def example_links(schema: Schema, scope: str | None = None) -> list[tuple[str, str]]:
    """(label, relative URL) pairs: every name (no schema needed), every plot two to a
    row, and each plot alone."""
    plots = list(schema.plots)
    rows = ";".join(",".join(plots[i : i + 2]) for i in range(0, len(plots), 2))
    extra = {"scopes": f"^{_re_escape(scope)}$"} if scope is not None else {}
    every = "/" + ("?" + urllib.parse.urlencode(extra) if extra else "")
    if not plots:
        return [("every name", every)]
    links = [("every name", every),
             ("all plots", "/?" + urllib.parse.urlencode({"rows": rows, **extra}, safe=",;"))]
    for p in plots:
        links.append((p, "/?" + urllib.parse.urlencode({"rows": p, **extra}, safe=",;")))
    return links


def _re_escape(s: str) -> str:
    import re2

    out: str = re2.escape(s)
    return out


def _links_html(links: list[tuple[str, str]]) -> str:
    return " · ".join(
        f'<a href="{safe_html.text(u)}">{safe_html.text(label)}</a>' for label, u in links
    )


def error_page(message: str, schema: Schema) -> Div:
    """A readable message for bad page parameters: what was wrong and what is allowed."""
    plots = ", ".join(safe_html.text(p) for p in schema.plots) or "(no schema: name logged names)"
    body = f"""<div class="sv-page">
<h1>streamvis: this page's parameters are not valid</h1>
<p class="sv-error" style="color:#b00020;font-weight:600">{safe_html.text(message)}</p>
<p><b>Plots in this schema:</b> {plots}</p>
<p><b>Parameters:</b> none (every logged name, <code>names=REGEX</code> filtering them),
or one of <code>rows=A,B;C</code> (rows split by ';', plots by ','; without a schema: logged names)
or <code>cols=A,B;C</code>; <code>width</code> and <code>height</code>: positive numbers
(rows mode: one width per plot, one height per row; cols mode: one width per column, one
height per plot); <code>axes=lin,xlog,ylog,xylog</code> one per plot;
<code>scopes=REGEX</code>; <code>names=REGEX</code> once per plot;
<code>where=lr&lt;5e-4,opt=adam</code> (runs by config: KEY OP VALUE joined by ',', OP one of
= != &lt; &lt;= &gt; &gt;= ~; write a '+' as %2B); <code>color_by=KEY</code>;
<code>x=step|wall|relative</code>; <code>smoothing=W</code> (0 &lt;= W &lt; 1);
<code>zoom=LO,HI</code>; <code>webgl=auto|on|off</code>; and what the runs
panel writes: <code>find=</code> (its search), <code>filter=</code> (its filter box, the
<code>where=</code> grammar), <code>hide=</code> or <code>show=</code> (its ticks).</p>
<p>Try: {_links_html(example_links(schema))} · <a href="/index">index</a></p>
</div>"""
    return Div(text=body, name="error", sizing_mode="stretch_width", stylesheets=[PAGE_CSS])
