"""The streamvis web app: schema-driven live Bokeh (WebGL) plots with URL layouts.

Subpackages, each importing only the ones listed after it (one way):

- ``page``: the app, its pages and one browser tab's live session; the Bokeh server
  around them (access token, Host checks, Nagle off).
- ``runs``: the runs panel (a table of runs: ticks, highlights, find, filter) and the
  run filter of ``where=``; the session's side of the panel.
- ``plots``: one plot and its layers (lines, points), its range reads, filter slider,
  smoothing and ``color_by`` colouring; the point budget; ``RunColors``, the page's
  run -> colour map that its plots and its runs panel share.
- ``address``: what the page's address says (``rows=``/``cols=`` layouts, ``where=``
  conditions, run selections, the panel's parameters) and how the page writes it back.

Modules every subpackage may use: ``schema`` (YAML plot schemas), ``colors``
(palettes, colour slots, the run colours), ``figure_kwargs`` (a schema's figure
properties), ``safe_html`` (the one boundary where strings become HTML), ``style`` (the
page's one stylesheet: type scale and spacing). ``cli``: the commands.
"""

from __future__ import annotations

__all__: list[str] = []
