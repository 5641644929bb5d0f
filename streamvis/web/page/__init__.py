"""The page: the Bokeh applications, their pages, one tab's session, and the server.

``app`` builds each document (plot page, index page, error page: ``pages``,
``index_page``, ``index_times``); ``session.LiveSession`` is one tab's live state (its
polls in worker threads, its plots, its runs panel); ``app_config`` what every session
of a server shares; ``server`` builds the Bokeh server with ``auth`` (the access
token), ``host_guard`` (Host checks), ``nodelay`` and ``webgl``.
"""
