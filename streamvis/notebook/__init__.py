"""streamvis in Jupyter: the web app's live page inside a notebook cell.

``show(data, schema=None, **page)`` shows the page of ``data`` (a log, an object-store
URL or a data server) with the page's URL parameters as keywords, served by a Bokeh
server in the kernel (Bokeh's own notebook support), live as the log grows. Owns:
turning keywords into the page's parameters (``page_args``), fitting the page to a
cell (``embed``), and the lifetime of the shown views (``views``: one per cell,
replaced when the cell runs again, stopped when the kernel exits). Sits above
``streamvis.web``; nothing of streamvis imports it.
"""

from __future__ import annotations

from .show import show
from .views import NotebookView, stop_all, views

__all__ = ["show", "views", "stop_all", "NotebookView"]
