"""The original streamvis's demo programs (github.com/hrbigelow/streamvis, commit daeda73,
streamvis/demo_sync.py, demo_async.py, demo_funcs.py), verbatim except their import
lines, which point at this streamvis and at this package. Excluded from ruff: they are
kept as their users wrote them. Used by tests/logger/test_original_forms.py.
"""
