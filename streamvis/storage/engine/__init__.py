"""``Store``, the storage engine over one ``LogBackend``, and the parts it is made of.

Owns opening a log, following it (the in-memory index and positions), the writer
(appends, group commit) and the range reader, composed into ``Store``.
"""
