"""The page's one small stylesheet: a typographic scale, spacing and colours shared by
the index page, the error page and the runs panel (Bokeh models take it through their
``stylesheets``, as CSS text: each widget draws in its own shadow root).

Scale: 12 px (notes, code), 13 px (tables), 14 px (text), 16 px (section headings),
20 px (the page's heading); spacing in steps of 4 px.
"""

from __future__ import annotations

__all__ = ["FONT", "SCALE", "PAGE_CSS", "TABLE_CSS"]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
SCALE = {"note": 12, "table": 13, "text": 14, "section": 16, "title": 20}  # px
INK, MUTED, RULE, LINK = "#1f2328", "#57606a", "#d0d7de", "#0969da"

PAGE_CSS = f"""
:host {{ font-family: {FONT}; font-size: {SCALE['text']}px; line-height: 1.45; color: {INK}; }}
:host > div, .sv-page, p, h1, h2, table {{ font-family: {FONT}; }}
.sv-page {{ padding: 8px 16px 4px; }}
.sv-page h1 {{ font-size: {SCALE['title']}px; font-weight: 600; margin: 8px 0 4px; }}
.sv-page h2 {{ font-size: {SCALE['section']}px; font-weight: 600; margin: 24px 0 8px; }}
.sv-page p {{ margin: 4px 0 8px; }}
.sv-note {{ color: {MUTED}; font-size: {SCALE['note']}px; }}
a {{ color: {LINK}; text-decoration: none; }}
a:hover {{ text-decoration: underline; }}
code {{ font-family: {MONO}; font-size: {SCALE['note']}px; background: #f6f8fa; padding: 1px 4px;
        border-radius: 4px; }}
table.sv-table {{ border-collapse: collapse; font-size: {SCALE['table']}px; }}
table.sv-table th {{ text-align: left; font-weight: 600; color: {MUTED}; padding: 4px 16px 4px 0;
                     border-bottom: 1px solid {RULE}; }}
table.sv-table td {{ padding: 4px 16px 4px 0; border-bottom: 1px solid #eaeef2; }}
.sv-error {{ color: #b00020; font-weight: 600; }}
"""

# the runs tables (SlickGrid inside a DataTable's shadow root)
TABLE_CSS = f"""
:host, .slick-cell, .slick-header-column {{ font-family: {FONT}; }}
.slick-cell {{ font-size: {SCALE['table']}px; }}
.slick-header-column {{ font-size: {SCALE['note']}px; font-weight: 600; color: {MUTED}; }}
a {{ color: {LINK}; text-decoration: none; }}
a:hover {{ text-decoration: underline; }}
"""

