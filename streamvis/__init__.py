"""streamvis: log tensors from training, watch them stream into live plots.

``from streamvis import DataLogger`` (or ``AsyncDataLogger``) imports the logger on
first access only, so ``import streamvis`` stays cheap for the CLI and the web app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AsyncDataLogger", "DataLogger"]

try:
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("streamvis")
    except PackageNotFoundError:
        __version__ = "0"
except ImportError:  # pragma: no cover
    __version__ = "0"


def __getattr__(name: str) -> Any:
    if name in ("DataLogger", "AsyncDataLogger"):
        from streamvis import logger

        return getattr(logger, name)
    raise AttributeError(f"module 'streamvis' has no attribute {name!r}")
