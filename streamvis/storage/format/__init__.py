"""The format both logs share (local file and object store alike).

Owns what a log's bytes mean: record framing (``framing``), column payloads
(``codec``), the values appended and read back (``model``), items turned into record
payloads (``records``), walking frames to committed batches (``scan``), the in-memory
index built from records (``state``) and its sidecar file (``index_file``), the
original streamvis's records (``legacy_records``), and recognising files that are ours
(``ownership``). Nothing here knows where the bytes live beyond ``LogBackend``.
"""
