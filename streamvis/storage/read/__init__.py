"""The read side: stored records to Arrow tables and arrays, and what is done to them.

Owns decoding records (``reading``, ``points_view``), one group's or many groups'
visible ranges (``ranges``), decimation (``decimate``), smoothing (``smooth``), the
decoded-group cache (``group_cache``), cursors (``cursor``), what came after a cursor
(``since_index``, else ``tail_reading``) and the export shape (``convert``); and what
is computed across runs over every point: run summaries (``summaries``), runs grouped
by config keys (``run_groups``), aggregate lines with bands (``aggregates``), a name's
value as x (``step_join``). Reads go through
``LogBackend`` only, so every log is read alike.
"""
