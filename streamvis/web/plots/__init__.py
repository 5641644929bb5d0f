"""The plots: one figure per layout cell and the layers that draw its groups.

``plot_view.PlotView`` owns a cell's figure and decides what each (scope, name, index)
group shows, with ``ranges`` (what to read after growth or a zoom, and drawing the
answers), ``filter_slider`` (a cloud per step), ``smoothing`` (the EMA slider and
smoothed lines) and ``color_by`` (colours by a config value). ``lines``/``points`` are the
Bokeh layers, ``line_state`` the per-line bookkeeping, ``rows`` column helpers,
``plot_figure`` the figure. No I/O: the page's session reads and hands results here.
"""
