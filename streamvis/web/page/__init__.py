"""The page: the Bokeh applications, their pages, one tab's session, and the server.

``app`` builds each document (plot page, the page of every name, index page, error
page: ``pages``, ``names_page`` with ``catalog`` (which card each name gets),
``index_page``, ``index_times``) and its ``header`` (smoothing, x mode, copy link);
``session.LiveSession`` is one tab's live state (its polls in worker threads, its plots,
its runs panel), composed of ``polls`` (what a worker reads; plots joining a live page),
``range_rounds`` (batched re-reads), ``selection`` (filter slider reads) and ``notes``
(banner, waiting notes); ``app_config`` what every session of a server shares; ``server`` builds the Bokeh server with ``auth`` (the access
token), ``host_guard`` (Host checks), ``nodelay`` and ``webgl``; ``snapshot`` (with ``snapshot_render`` and the
server's ``snapshot_route``) writes a page's view as one self-contained HTML file.
"""
