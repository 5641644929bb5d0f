"""The runs: the runs panel, the ``where=`` run filter, and the panel's link to the plots.

``runs_panel.RunsPanel`` is the table of runs (ticks, highlights, find, filter, the
``color_by`` chooser); ``run_filter.RunFilter`` decides which runs a ``where=`` admits,
reading their configs; ``session_panel.SessionPanel`` keeps a session's panel in step
with its plots and the page's address.
"""
