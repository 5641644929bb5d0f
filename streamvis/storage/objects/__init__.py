"""The object-store log (``gs://``, ``s3://``, ``memory://``): one immutable object per batch.

Owns ``SegmentLog`` (``segments``, the ``LogBackend`` of an object store), the objects
under a log's prefix (``prefix``, ``byte_cache``), listing them at low cost
(``listing``), generations of compacted bases (``generations``) and online compaction
(``compact``).
"""
