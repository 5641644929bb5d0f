"""The data server: a gRPC service over one log, its clients and CLI commands.

``server.run`` / ``DataServer`` serve a log; ``client.DataClient`` (write sink and
reads), ``client.GrpcSource`` (the ``DataSource`` read interface),
``aio_client.AsyncDataClient`` (for event loops) and ``remote_api`` (gscopes,
gnames, gfetch_sync, gfetch_arrow) talk to it. Errors cross the wire as status codes
and come back as the same ``StreamvisError`` classes (``status``).
"""

__all__: list[str] = []
