"""The page's address: what its parameters mean, and writing the page's state back.

``layout`` parses ``rows=``/``cols=`` and every other parameter into a ``Layout``;
``where`` parses and applies ``where=`` conditions on run configs; ``run_selection``
encodes the panel's ticked runs (``hide=``/``show=``); ``page_url`` keeps the panel's
state in the browser's address bar. Pure parsing and Bokeh data models: no I/O, and
nothing from the plots, runs or page packages.
"""
