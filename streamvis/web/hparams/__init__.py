"""The hyperparameter page, ``/hparams?metric=NAME.STAT``: which config made the best run.

This subpackage owns that page and nothing else: its address (``query``: ``metric=``,
``where=``, ``scopes=``, ``color_by=``, ``range=KEY:lo:hi`` filters, ``x=KEY``), its
data model (``model``: one row per run, its flattened config and the metric, kept current
by a ``SummaryBook``; the axes of the parallel coordinates, numeric or categorical, log
where positive values span two decades; the filters), its Bokeh models (``view``: the
parallel coordinates or the scatter against one key, the runs table, the CSV download)
and its live session (``page``: polls, axis selections, the address). The rest of the web
app reaches it through one route in ``web/page/app.py``.
"""

from __future__ import annotations

from .page import make_hparams_document

__all__ = ["make_hparams_document"]
