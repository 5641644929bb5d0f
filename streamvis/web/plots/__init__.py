"""The plots: one figure per layout cell and the layers that draw its groups.

``plot_view.PlotView`` owns a cell's figure and decides what each (scope, name, index)
group shows. It holds its parts as objects, each owning its state and given the plot's
lines and the few calls it needs (none imports ``PlotView``): ``ranges.RangeReads``
(what to read after growth or a zoom; decimated lines), ``smoothing.Smoothing`` (the EMA
slider and the smoothed layer), ``filter_slider.FilterSlider`` (a cloud per step) and
``color_by.ColorByControl`` (colours by a config value, the colour bar, the legend of
values). ``run_colors.RunColors`` is the page's run -> colour map (one per page
session, shared with the runs panel). ``lines``/``points`` are the Bokeh layers (``lines_js``
the browser's half of the lines' updates), ``line_state`` the per-line
bookkeeping and limits, ``rows`` column helpers, ``plot_figure`` the figure, ``inline``
small arrays sent inside Bokeh's message. No I/O: the page's session reads and hands results here.
"""
