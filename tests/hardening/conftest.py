"""tests/hardening: the long variants (marked ``soak``) run only when asked for,
with ``-m soak`` or ``STREAMVIS_SOAK=1``."""

from __future__ import annotations

import os

import pytest

from tests.hardening.fuzz_support import base, fuzz_report  # noqa: F401 - the fuzz tests' fixtures


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("STREAMVIS_SOAK") == "1" or "soak" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="soak run: use -m soak or STREAMVIS_SOAK=1")
    for item in items:
        if "soak" in item.keywords and str(item.path).startswith(os.path.dirname(__file__)):
            item.add_marker(skip)
