"""Default locations shared by the commands that need a log without being given one."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_log_path"]


def default_log_path() -> str:
    """The embedded local log: ``$STREAMVIS_LOG``, else ``~/.streamvis/quickstart.svl``."""
    env = os.environ.get("STREAMVIS_LOG")
    if env:
        return env
    path = Path.home() / ".streamvis" / "quickstart.svl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)
