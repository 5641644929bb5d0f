"""The local file log: one append-only file, its lock and its offline compaction.

Owns ``LocalLog`` (the ``LogBackend`` of a local file: appends under ``PATH.lock``,
the sidecar index beside it, torn tails to quarantine) and ``compact`` (rewriting a
local log into its next generation).
"""
