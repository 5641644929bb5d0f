"""Loggers for training frameworks, each importable only with its framework:
``streamvis.integrations.lightning.StreamvisLogger`` (the ``lightning`` extra) and
``streamvis.integrations.transformers.StreamvisCallback`` (the ``transformers`` extra)."""
